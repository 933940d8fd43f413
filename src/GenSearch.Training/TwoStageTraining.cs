using GenSearch.Data;
using GenSearch.Models;
using GenSearch.Models.Generative;
using GenSearch.Nn;
using GenSearch.Quantization;
using GenSearch.Serving;
using GenSearch.Tensors;
using GenSearch.Tensors.IO;

namespace GenSearch.Training;

/// <summary>Settings of <see cref="TwoStageTraining"/>, with the defaults used on homedepot.</summary>
public sealed record TwoStageTrainingOptions
{
    /// <summary>Residual levels of the semantic IDs (a disambiguating token is appended).</summary>
    public int Levels { get; init; } = 3;
    /// <summary>Codes per level.</summary>
    public int Codes { get; init; } = 256;
    /// <summary>The quantization method, by its name in <see cref="QuantizerMethods"/> (k-means on residuals by default).</summary>
    public string Quantizer { get; init; } = ResidualKMeans.MethodName;
    /// <summary>Generator sizes (vocabularies are set from the tokenizer and the IDs).</summary>
    public EncoderDecoderConfig Generator { get; init; } = new() { Dim = 256, Heads = 4, EncoderLayers = 2, DecoderLayers = 2, FfnDim = 1024, Dropout = 0.1f, MaxSourceLength = 16 };
    /// <summary>Longest query, in subwords with [cls] and [sep].</summary>
    public int MaxQueryTokens { get; init; } = 16;
    /// <summary>Subword vocabulary to learn when the two-tower model has no tokenizer of its own (n-gram towers).</summary>
    public int Vocabulary { get; init; } = 8192;
    /// <summary>Judgments from this grade up are training targets.</summary>
    public int MinPositiveGrade { get; init; } = 2;
    /// <summary>Weight of the title -> ID indexing pairs.</summary>
    public float IndexingWeight { get; init; } = 1f;
    /// <summary>Indexing pairs per item and epoch (one keeps training on homedepot within 20 minutes; the cuts differ every epoch).</summary>
    public int IndexingPairsPerItem { get; init; } = 1;
    /// <summary>
    /// How indexing pairs cut query-like texts from titles; null (the default) = whole titles. Cuts
    /// help the two towers but hurt the generator on homedepot (dev NDCG@10 0.045 against 0.097): a
    /// few words shared by many items make a noisy target for a model that must name one item's ID.
    /// </summary>
    public PseudoQueryOptions? PseudoQueries { get; init; }
    /// <summary>Beams at search time.</summary>
    public int BeamSize { get; init; } = 50;
    /// <summary>The training loop's settings.</summary>
    public TrainerOptions Trainer { get; init; } = new() { BatchSize = 256, Epochs = 3, LearningRate = 1e-3f, WarmupSteps = 100, CheckpointEvery = 100 };
    /// <summary>Seed of the quantizer, the weights and dropout.</summary>
    public ulong Seed { get; init; } = 1;
}

/// <summary>
/// Two-stage (TIGER-style) generative retrieval: item vectors from a trained two-tower model's item
/// tower, semantic IDs from RQ-KMeans over them (colliding items get a disambiguating token), then
/// an encoder-decoder trained by next-token prediction on (query, ID) pairs weighted by grade and
/// indexing pairs (title -> ID; optionally a query-like cut of the title, drawn anew each epoch). Serving is beam search over the trie of the catalog's IDs.
/// </summary>
public static class TwoStageTraining
{
    /// <summary>Trains from the two-tower model in <paramref name="twoTowerDir"/> and writes the model to <paramref name="outDir"/>.</summary>
    public static float Run(BeirDataset set, string twoTowerDir, string outDir, TwoStageTrainingOptions options,
        Action<string>? note = null, Action<TrainerProgress>? progress = null, CancellationToken cancel = default)
    {
        var source = new ModelDirectory(twoTowerDir);
        string sourceKind = ModelFormats.KindOf(source);
        if (sourceKind is not (NgramTowerFormat.Name or TransformerTowerFormat.Name))
            throw new InvalidDataException($"{source.ConfigPath}: a {sourceKind} model; item vectors must come from a {NgramTowerFormat.Name} or {TransformerTowerFormat.Name} model");
        var dir = new ModelDirectory(outDir);
        Directory.CreateDirectory(outDir);
        var data = TrainingData.Load(set, "train", note);
        var ids = source.ItemIds();
        if (!ids.SequenceEqual(data.ItemIds)) throw new InvalidDataException($"{source.ItemIdsPath}: the item list differs from {set.CorpusPath}; retrain the two-tower model on this catalog");
        // The generator reads queries as subwords: the transformer towers' tokenizer when there is one
        // (learned from the same texts), else one learned here; a resumed run reuses the saved one.
        var tokenizer = File.Exists(source.TokenizerPath) ? source.Tokenizer()
            : File.Exists(dir.CheckpointPath) && File.Exists(dir.TokenizerPath) ? dir.Tokenizer()
            : data.TrainTokenizer(options.Vocabulary);
        tokenizer.Save(dir.TokenizerPath);

        // Stage 1: semantic IDs from the item vectors (deterministic for a seed, so a resumed run gets the same IDs).
        var (vectors, rows, dim) = source.ItemMatrix("vectors", ids.Length);
        var quantizer = QuantizerMethods.Create(options.Quantizer,
            new QuantizerSpec(dim, options.Levels, options.Codes, Seed: (int)(options.Seed % int.MaxValue)));
        quantizer.Train(vectors, rows);
        QuantizerMethods.Save(quantizer, Path.Combine(outDir, TwoStageFormat.QuantizerFile));
        var codes = new int[rows * options.Levels];
        quantizer.Encode(vectors, rows, codes);
        var sids = SemanticIds.Build(codes, rows, Enumerable.Repeat(options.Codes, options.Levels).ToArray());
        var health = CodebookHealth.Compute(sids);
        File.WriteAllText(Path.Combine(outDir, "health.md"), health.ToTable());
        note?.Invoke($"semantic IDs: {options.Levels} x {options.Codes} + a collision token up to {sids.TokenSizes[^1]}; " +
                     $"collision rate {sids.Collisions.CollisionRate:P1}, largest group {sids.Collisions.LargestGroup}");
        var itemIds = Enumerable.Range(0, rows).Select(i => sids.Row(i).ToArray()).ToArray();

        // Stage 2: the generator.
        var vocabulary = new SidVocabulary(sids.TokenSizes);
        var config = options.Generator with
        {
            SourceVocabulary = tokenizer.VocabularySize, MaxSourceLength = options.MaxQueryTokens, MaxTargetLength = vocabulary.Levels,
        };
        var rng = new Rng(options.Seed);
        var generator = new SidGenerator(vocabulary, config, rng);
        var pairs = data.Pairs(options.MinPositiveGrade, options.IndexingWeight, options.IndexingPairsPerItem);
        var queryRows = new PairQueryRows(pairs, tokenizer, options.MaxQueryTokens, options.PseudoQueries);
        note?.Invoke($"generator: {generator.ParameterCount():N0} parameters; {pairs.Count:N0} pairs an epoch");
        var trainer = new Trainer(generator, options.Trainer with { Seed = options.Seed, CheckpointPath = dir.CheckpointPath }, [rng]);
        if (progress is not null) trainer.Progress += progress;
        if (note is not null) trainer.Note += note;
        int epoch = 0;
        trainer.EpochStarting += e => epoch = e;
        float loss = trainer.Run(pairs.Count, batch =>
        {
            var draw = PairQueryRows.BatchGenerator(options.Seed, epoch, batch);
            var queries = TokenBatch.FromRows(batch.Select(i => queryRows.Row(i, draw)).ToArray());
            var targets = batch.SelectMany(i => itemIds[pairs[i].Item]).ToArray();
            return generator.Loss(queries.Tokens, queries.Padding, targets, batch.Length, batch.Select(i => pairs[i].Weight).ToArray());
        }, cancel);
        if (cancel.IsCancellationRequested) return loss;

        Checkpoint.SaveModel(dir.WeightsPath, generator);
        SafeTensors.Save(dir.ItemsPath, [SafeTensorEntry.I32("ids", [rows, vocabulary.Levels], itemIds.SelectMany(x => x).ToArray())]);
        dir.WriteItemIds(ids);
        dir.WriteConfig(new TwoStageModelConfig(TwoStageFormat.Name, config, [.. sids.TokenSizes], options.MaxQueryTokens, options.BeamSize, Path.GetFullPath(twoTowerDir), ModelKinds.ToJson(options)));
        File.Delete(dir.CheckpointPath);
        return loss;
    }
}
