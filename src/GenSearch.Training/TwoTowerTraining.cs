using GenSearch.Data;
using GenSearch.Models;
using GenSearch.Models.TwoTower;
using GenSearch.Nn;
using GenSearch.Retrieval;
using GenSearch.Retrieval.Dense;
using GenSearch.Tensors;
using GenSearch.Tensors.IO;
using GenSearch.Text;

namespace GenSearch.Training;

/// <summary>Settings of <see cref="TwoTowerTraining"/>, with the defaults used on homedepot.</summary>
public sealed record TwoTowerTrainingOptions
{
    /// <summary>Tower sizes (the vocabulary size is the tokenizer's).</summary>
    public TextEncoderConfig Encoder { get; init; } = new() { Dim = 128, Heads = 4, Layers = 2, FfnDim = 512, OutputDim = 128, MaxLength = 32, Dropout = 0.1f };
    /// <summary>Subword vocabulary to learn.</summary>
    public int Vocabulary { get; init; } = 8192;
    /// <summary>Longest query, in subwords with [cls] and [sep].</summary>
    public int MaxQueryTokens { get; init; } = 16;
    /// <summary>Longest item text, in subwords with [cls] and [sep].</summary>
    public int MaxItemTokens { get; init; } = 32;
    /// <summary>Softmax temperature over cosines.</summary>
    public float Temperature { get; init; } = 0.05f;
    /// <summary>Judgments from this grade up are positives.</summary>
    public int MinPositiveGrade { get; init; } = 2;
    /// <summary>Weight of the title-as-query indexing pairs (0 = none).</summary>
    public float IndexingWeight { get; init; } = 0.5f;
    /// <summary>BM25 hard negatives drawn per judged pair (0 = in-batch negatives only).</summary>
    public int HardNegatives { get; init; } = 1;
    /// <summary>BM25 results a hard negative is drawn from (unjudged or judged below the positive grade).</summary>
    public int HardNegativePool { get; init; } = 30;
    /// <summary>The training loop's settings.</summary>
    public TrainerOptions Trainer { get; init; } = new() { BatchSize = 256, Epochs = 3, LearningRate = 1e-3f, WarmupSteps = 100, CheckpointEvery = 100 };
    /// <summary>Seed of the weights and dropout.</summary>
    public ulong Seed { get; init; } = 1;
}

/// <summary>What config.json of a two-tower model holds.</summary>
public sealed record TwoTowerModelConfig(string Kind, TwoTowerConfig Model, int MaxQueryTokens, int MaxItemTokens, TwoTowerTrainingOptions Training);

/// <summary>
/// Trains the two-tower retriever on a BEIR split: judged pairs weighted by grade, indexing pairs,
/// in-batch softmax with BM25 hard negatives (other positives of the same query masked, not pushed
/// away), then encodes the catalog and writes a model directory. Resumes a killed run.
/// </summary>
public static class TwoTowerTraining
{
    /// <summary>The kind recorded in config.json.</summary>
    public const string Kind = "two-tower";

    /// <summary>Trains and writes the model to <paramref name="outDir"/>; returns the final mean loss.</summary>
    public static float Run(BeirDataset set, string outDir, TwoTowerTrainingOptions options,
        Action<string>? note = null, Action<TrainerProgress>? progress = null, CancellationToken cancel = default)
    {
        var dir = new ModelDirectory(outDir);
        Directory.CreateDirectory(outDir);
        var data = TrainingData.Load(set, "train", note);
        note?.Invoke($"catalog {data.ItemIds.Length:N0} items, {data.QueryTexts.Length:N0} judged training queries");

        // The tokenizer is learned once; a resumed run reuses it so that token ids do not move.
        WordPieceTokenizer tokenizer;
        if (File.Exists(dir.CheckpointPath) && File.Exists(dir.TokenizerPath)) tokenizer = dir.Tokenizer();
        else { tokenizer = data.TrainTokenizer(options.Vocabulary); tokenizer.Save(dir.TokenizerPath); }
        note?.Invoke($"tokenizer: {tokenizer.VocabularySize:N0} subwords");

        var itemRows = data.ItemTexts.Select(t => tokenizer.EncodeWithSpecials(t, options.MaxItemTokens)).ToArray();
        var pairs = data.Pairs(options.MinPositiveGrade, options.IndexingWeight);
        var queryRows = pairs.Select(p => tokenizer.EncodeWithSpecials(p.QueryText, options.MaxQueryTokens)).ToArray();
        var judged = data.Judgments.Select(j => j.Where(x => x.Grade >= options.MinPositiveGrade).Select(x => x.Item).ToHashSet()).ToArray();
        var negatives = options.HardNegatives > 0 ? MineNegatives(set, data, options, note) : null;

        var config = new TwoTowerConfig
        {
            Encoder = options.Encoder with { Vocabulary = tokenizer.VocabularySize, MaxLength = Math.Max(options.MaxItemTokens, options.MaxQueryTokens) },
            Temperature = options.Temperature,
        };
        var rng = new Rng(options.Seed);
        var model = new TwoTowerModel(config, rng);
        note?.Invoke($"model: {model.ParameterCount():N0} parameters; {pairs.Count:N0} pairs an epoch");
        var trainer = new Trainer(model, options.Trainer with { CheckpointPath = dir.CheckpointPath }, [rng]);
        if (progress is not null) trainer.Progress += progress;

        float loss = trainer.Run(pairs.Count, batch =>
        {
            // Items: the batch's positives, then one hard negative per judged pair.
            var items = batch.Select(i => pairs[i].Item).ToList();
            if (negatives is not null)
            {
                var pick = new Rng(options.Seed ^ (ulong)batch[0] * 0x9E3779B97F4A7C15UL);
                foreach (int i in batch)
                {
                    int q = pairs[i].QueryIndex;
                    if (q >= 0 && negatives[q].Length > 0) items.Add(negatives[q][pick.NextInt(negatives[q].Length)]);
                }
            }
            var queries = TokenBatch.FromRows(batch.Select(i => queryRows[i]).ToArray());
            var docs = TokenBatch.FromRows(items.Select(i => itemRows[i]).ToArray());
            var queryVectors = model.QueryTower.Forward(queries.Tokens, queries.Padding, queries.Batch);
            var itemVectors = model.ItemTower.Forward(docs.Tokens, docs.Padding, docs.Batch);
            var weights = batch.Select(i => pairs[i].Weight).ToArray();
            return RetrievalLosses.InBatchSoftmax(queryVectors, itemVectors, Enumerable.Range(0, batch.Length).ToArray(), options.Temperature, weights,
                (b, j) => items[j] == pairs[batch[b]].Item || pairs[batch[b]].QueryIndex >= 0 && judged[pairs[batch[b]].QueryIndex].Contains(items[j]));
        }, cancel);

        if (cancel.IsCancellationRequested) return loss;
        note?.Invoke("encoding the catalog");
        var vectors = DenseRetriever.Encode(model.ItemTower, tokenizer, data.ItemTexts, options.MaxItemTokens);
        Checkpoint.SaveModel(dir.WeightsPath, model);
        SafeTensors.Save(dir.ItemsPath, [SafeTensorEntry.F32("vectors", [data.ItemIds.Length, config.Encoder.OutputDim], vectors)]);
        dir.WriteItemIds(data.ItemIds);
        dir.WriteConfig(new TwoTowerModelConfig(Kind, config, options.MaxQueryTokens, options.MaxItemTokens, options));
        File.Delete(dir.CheckpointPath);
        return loss;
    }

    /// <summary>For each judged query, BM25's top results that it did not judge as positive.</summary>
    private static int[][] MineNegatives(BeirDataset set, TrainingData data, TwoTowerTrainingOptions options, Action<string>? note)
    {
        var bm25 = Bm25.Build(set.Corpus());
        var index = new Dictionary<string, int>(data.ItemIds.Length, StringComparer.Ordinal);
        for (int i = 0; i < data.ItemIds.Length; i++) index[data.ItemIds[i]] = i;
        var queries = data.QueryTexts.Select((t, i) => new Query($"q{i}", t)).ToArray();
        var hits = bm25.Search(queries, options.HardNegativePool);
        var result = new int[queries.Length][];
        for (int q = 0; q < queries.Length; q++)
        {
            var positive = data.Judgments[q].Where(j => j.Grade >= options.MinPositiveGrade).Select(j => j.Item).ToHashSet();
            result[q] = hits[q].Select(h => index[h.Id]).Where(i => !positive.Contains(i)).ToArray();
        }
        note?.Invoke($"mined BM25 hard negatives for {queries.Length:N0} queries");
        return result;
    }

    /// <summary>Loads a trained two-tower model directory as a dense retriever (exact search, or HNSW when asked).</summary>
    public static DenseRetriever Load(string path, bool hnsw = false)
    {
        var dir = new ModelDirectory(path);
        var config = dir.ReadConfig<TwoTowerModelConfig>();
        if (config.Kind != Kind) throw new InvalidDataException($"{dir.ConfigPath}: kind '{config.Kind}', not a {Kind} model");
        var model = new TwoTowerModel(config.Model, new Rng(0));
        Checkpoint.LoadModel(dir.WeightsPath, model);
        model.Eval();
        var ids = dir.ItemIds();
        var (vectors, _, columns) = dir.ItemMatrix("vectors", ids.Length);
        IVectorIndex index = hnsw ? new HnswIndex(columns, new HnswOptions { Metric = VectorMetric.InnerProduct }) : new FlatIndex(columns, VectorMetric.InnerProduct);
        index.Add(vectors);
        return new DenseRetriever(model, dir.Tokenizer(), index, ids, config.MaxQueryTokens);
    }
}
