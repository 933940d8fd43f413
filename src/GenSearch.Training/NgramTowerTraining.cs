using GenSearch.Data;
using GenSearch.Models.TwoTower;
using GenSearch.Nn;
using GenSearch.Serving;
using GenSearch.Tensors;
using GenSearch.Text;

namespace GenSearch.Training;

/// <summary>Settings of <see cref="NgramTowerTraining"/>, with the defaults used on homedepot.</summary>
public sealed record NgramTowerTrainingOptions
{
    /// <summary>Vector size.</summary>
    public int Dim { get; init; } = 256;
    /// <summary>Softmax temperature over cosines (0.05 beat 0.1 on homedepot dev in a prototype of this model).</summary>
    public float Temperature { get; init; } = 0.05f;
    /// <summary>Judgments from this grade up are positives.</summary>
    public int MinPositiveGrade { get; init; } = 3;
    /// <summary>Weight of an indexing pair (a cut of an item's title -> the item) against a judged pair's 1.</summary>
    public float IndexingWeight { get; init; } = 1f;
    /// <summary>Indexing pairs per item and epoch.</summary>
    public int IndexingPairsPerItem { get; init; } = 1;
    /// <summary>How indexing pairs cut query-like texts from titles; null = whole titles.</summary>
    public PseudoQueryOptions? PseudoQueries { get; init; } = new() { WholeTitleShare = 0f };
    /// <summary>Negatives per judged pair drawn from the items its query judged below <see cref="MinPositiveGrade"/> - 1 (grades 0 and 1 on homedepot).</summary>
    public int JudgedNegatives { get; init; } = 1;
    /// <summary>
    /// Negatives per judged pair drawn from BM25's top <see cref="HardNegativePool"/> results, and from
    /// the model's own once it mines. Off by default: judgments are pooled (about six products a query),
    /// so BM25's unjudged top results are often relevant: two a pair lowered homedepot dev NDCG@10 from 0.407 to 0.399.
    /// </summary>
    public int HardNegatives { get; init; } = 0;
    /// <summary>Top results a hard negative is drawn from; judged positives and their exact-title twins are left out.</summary>
    public int HardNegativePool { get; init; } = 30;
    /// <summary>From this epoch (0-based) on, half the hard negatives come from the model's own top results, mined again every epoch; negative = never.</summary>
    public int ModelNegativesFromEpoch { get; init; } = -1;
    /// <summary>Weight of the graded listwise loss over each judged pair's query and its judged items (0 = off).</summary>
    public float ListwiseWeight { get; init; } = 0.5f;
    /// <summary>Judged items per query in the listwise loss (the pair's item and others of the same query).</summary>
    public int ListwiseCandidates { get; init; } = 3;
    /// <summary>
    /// The training loop's settings. The learning rate is high for Adam because each table row gets
    /// a gradient only in the few steps whose batch uses it; no gradient clipping or weight decay, which
    /// would shrink rare rows for what common rows do.
    /// </summary>
    public TrainerOptions Trainer { get; init; } = new()
    {
        BatchSize = 512, Epochs = 36, LearningRate = 0.05f, WarmupSteps = 50, MinLearningRate = 0.005f, WeightDecay = 0f, ClipNorm = 0f, CheckpointEvery = 400,
    };
    /// <summary>Seed of the table, the title cuts and the negative draws.</summary>
    public ulong Seed { get; init; } = 1;
}

/// <summary>
/// Trains the n-gram two-tower retriever (<see cref="NgramTowerModel"/>) on a BEIR split. Each batch
/// mixes judged pairs (query -> an item it judged relevant) and indexing pairs (a query-like cut of an
/// item's title, drawn anew each epoch -> the item, so items no query judged are placed too). Loss:
/// softmax over the batch's items plus, per judged pair, a negative its own query judged irrelevant
/// (and, when asked, hard negatives from BM25's top results and the model's own), with the query's
/// other positives masked rather than pushed away; plus a graded listwise loss that orders each judged
/// query's items by grade. The model directory holds <c>ngrams.txt</c> (the
/// features), the table, and the catalog's vectors; a killed run resumes from its checkpoint.
/// </summary>
public static class NgramTowerTraining
{
    /// <summary>Trains and writes the model to <paramref name="outDir"/>; returns the final mean loss.</summary>
    public static float Run(BeirDataset set, string outDir, NgramTowerTrainingOptions options,
        Action<string>? note = null, Action<TrainerProgress>? progress = null, CancellationToken cancel = default)
    {
        var dir = new ModelDirectory(outDir);
        Directory.CreateDirectory(outDir);
        var data = TrainingData.Load(set, "train", note);
        note?.Invoke($"catalog {data.ItemIds.Length:N0} items, {data.QueryTexts.Length:N0} judged training queries");

        // The features are numbered once; a resumed run reuses them so that table rows do not move.
        string featuresPath = Path.Combine(outDir, NgramTowerFormat.FeaturesFile);
        var vocabulary = File.Exists(dir.CheckpointPath) && File.Exists(featuresPath)
            ? NgramVocabulary.Load(featuresPath)
            : NgramVocabulary.Build(data.ItemTexts.Concat(data.QueryTexts));
        vocabulary.Save(featuresPath);
        note?.Invoke($"features: {vocabulary.Count:N0} words, word pairs and character trigrams");

        var itemRows = data.ItemTexts.Select(vocabulary.Encode).ToArray();
        var queryRows = data.QueryTexts.Select(vocabulary.Encode).ToArray();
        var pairs = data.Pairs(options.MinPositiveGrade, options.IndexingWeight, options.IndexingPairsPerItem);
        var weights = pairs.Select(p => p.QueryIndex >= 0 ? 1f : p.Weight).ToArray();
        var positives = data.Judgments.Select(j => j.Where(x => x.Grade >= options.MinPositiveGrade).Select(x => x.Item).ToHashSet()).ToArray();
        var judgedNegatives = data.Judgments.Select(j => j.Where(x => x.Grade < options.MinPositiveGrade - 1).Select(x => x.Item).ToArray()).ToArray();
        var bm25Negatives = options.HardNegatives > 0
            ? TwoTowerTraining.MineBm25Negatives(set, data, options.HardNegativePool, options.MinPositiveGrade, note) : null;
        int[][]? modelNegatives = null;

        var config = new NgramTowerConfig { Features = vocabulary.Count, Dim = options.Dim, Temperature = options.Temperature };
        var rng = new Rng(options.Seed);
        var model = new NgramTowerModel(config, rng);
        note?.Invoke($"model: {model.ParameterCount():N0} parameters; {pairs.Count:N0} pairs an epoch");
        var trainer = new Trainer(model, options.Trainer with { Seed = options.Seed, CheckpointPath = dir.CheckpointPath }, [rng]);
        if (progress is not null) trainer.Progress += progress;
        if (note is not null) trainer.Note += note;
        int epoch = 0;
        trainer.EpochStarting += e =>
        {
            epoch = e;
            if (options.HardNegatives > 0 && options.ModelNegativesFromEpoch >= 0 && e >= options.ModelNegativesFromEpoch)
                modelNegatives = TwoTowerTraining.MinedNegatives(dir, e, data, options.HardNegativePool, options.MinPositiveGrade, note,
                    () => (model.Encode(itemRows), model.Encode(queryRows), config.Dim));
        };

        float loss = trainer.Run(pairs.Count, batch =>
        {
            var draw = PairQueryRows.BatchGenerator(options.Seed, epoch, batch);
            var queries = new int[batch.Length][];
            var items = new List<int>(batch.Length * (1 + options.JudgedNegatives + options.HardNegatives));
            for (int b = 0; b < batch.Length; b++)
            {
                var pair = pairs[batch[b]];
                items.Add(pair.Item);
                queries[b] = pair.QueryIndex >= 0 ? queryRows[pair.QueryIndex]
                    : vocabulary.Encode(options.PseudoQueries is null ? pair.QueryText : PseudoQueries.Cut(pair.QueryText, draw, options.PseudoQueries));
            }
            // Negatives go after the batch's positives, so column b is still query b's positive.
            foreach (int i in batch)
            {
                int q = pairs[i].QueryIndex;
                if (q < 0) continue;
                TwoTowerTraining.DrawFrom(judgedNegatives[q], options.JudgedNegatives, items, draw);
                if (bm25Negatives is not null) TwoTowerTraining.DrawHardNegatives(bm25Negatives, modelNegatives, q, options.HardNegatives, items, draw);
            }
            var listwise = options.ListwiseWeight > 0 ? TwoTowerTraining.ListwiseCandidates(batch, pairs, data, options.ListwiseCandidates, items, draw) : null;
            var queryVectors = model.Forward(queries);
            var itemVectors = model.Forward(items.Select(i => itemRows[i]).ToArray());
            return TwoTowerTraining.BatchLoss(queryVectors, itemVectors, batch, pairs, items, positives, batch.Select(i => weights[i]).ToArray(),
                options.Temperature, listwise, options.ListwiseCandidates, options.ListwiseWeight);
        }, cancel);

        if (cancel.IsCancellationRequested) return loss;
        note?.Invoke("encoding the catalog");
        var vectors = model.Encode(itemRows);
        TwoTowerTraining.Finish(dir, model, data, vectors, config.Dim, new NgramTowerModelConfig(NgramTowerFormat.Name, NgramTowerFormat.Tower, config, ModelKinds.ToJson(options)));
        return loss;
    }

}
