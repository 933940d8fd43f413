using GenSearch.Data;
using GenSearch.Models;
using GenSearch.Models.TwoTower;
using GenSearch.Nn;
using GenSearch.Retrieval;
using GenSearch.Retrieval.Dense;
using GenSearch.Tensors;
using GenSearch.Serving;
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
    /// <summary>Weight of the indexing pairs (title -> item; 0 = none).</summary>
    public float IndexingWeight { get; init; } = 0.5f;
    /// <summary>Indexing pairs per item and epoch.</summary>
    public int IndexingPairsPerItem { get; init; } = 2;
    /// <summary>How indexing pairs cut query-like texts from titles; null = whole titles.</summary>
    public PseudoQueryOptions? PseudoQueries { get; init; } = new();
    /// <summary>Hard negatives drawn per judged pair (0 = in-batch negatives only).</summary>
    public int HardNegatives { get; init; } = 1;
    /// <summary>Top results (of BM25, and of the model itself) a hard negative is drawn from, judged positives and their exact-title twins left out.</summary>
    public int HardNegativePool { get; init; } = 30;
    /// <summary>From this epoch (0-based) on, negatives are also mined with the model at the start of every epoch, half of the draws; negative = never.</summary>
    public int ModelNegativesFromEpoch { get; init; } = 1;
    /// <summary>Weight of the graded listwise loss over each judged pair's query and its judged items (0 = off).</summary>
    public float ListwiseWeight { get; init; } = 0.5f;
    /// <summary>Judged items per query in the listwise loss (the pair's item and others of the same query).</summary>
    public int ListwiseCandidates { get; init; } = 3;
    /// <summary>The training loop's settings.</summary>
    public TrainerOptions Trainer { get; init; } = new() { BatchSize = 256, Epochs = 3, LearningRate = 1e-3f, WarmupSteps = 100, CheckpointEvery = 100 };
    /// <summary>Seed of the weights, dropout, title cuts and negative draws.</summary>
    public ulong Seed { get; init; } = 1;
}

/// <summary>
/// Trains the two-tower retriever on a BEIR split. Each batch mixes judged pairs (weighted by grade)
/// and indexing pairs (a query-like cut of an item's title -> the item). Loss: in-batch softmax over
/// the batch's items plus one hard negative per judged pair, drawn from BM25's top results and, from
/// <see cref="TwoTowerTrainingOptions.ModelNegativesFromEpoch"/> on, from the model's own (mined
/// again every epoch), with other positives of the same query masked rather than pushed away; plus
/// a graded listwise loss that orders each judged query's items by grade. Then encodes the catalog
/// and writes a model directory. A killed run resumes from its checkpoint and the mined negatives
/// saved beside it, so a fixed seed gives the same model either way.
/// </summary>
public static class TwoTowerTraining
{
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
        var pairs = data.Pairs(options.MinPositiveGrade, options.IndexingWeight, options.IndexingPairsPerItem);
        var queryRows = new PairQueryRows(pairs, tokenizer, options.MaxQueryTokens, options.PseudoQueries);
        var judged = data.Judgments.Select(j => j.Where(x => x.Grade >= options.MinPositiveGrade).Select(x => x.Item).ToHashSet()).ToArray();
        var bm25Negatives = options.HardNegatives > 0 ? MineBm25Negatives(set, data, options.HardNegativePool, options.MinPositiveGrade, note) : null;
        int[][]? modelNegatives = null;

        var config = new TwoTowerConfig
        {
            Encoder = options.Encoder with { Vocabulary = tokenizer.VocabularySize, MaxLength = Math.Max(options.MaxItemTokens, options.MaxQueryTokens) },
            Temperature = options.Temperature,
        };
        var rng = new Rng(options.Seed);
        var model = new TwoTowerModel(config, rng);
        note?.Invoke($"model: {model.ParameterCount():N0} parameters; {pairs.Count:N0} pairs an epoch");
        var trainer = new Trainer(model, options.Trainer with { Seed = options.Seed, CheckpointPath = dir.CheckpointPath }, [rng]);
        if (progress is not null) trainer.Progress += progress;
        if (note is not null) trainer.Note += note;
        int epoch = 0;
        trainer.EpochStarting += e =>
        {
            epoch = e;
            if (options.HardNegatives > 0 && options.ModelNegativesFromEpoch >= 0 && e >= options.ModelNegativesFromEpoch)
                modelNegatives = ModelNegatives(dir, e, model, tokenizer, data, options, note);
        };

        float loss = trainer.Run(pairs.Count, batch =>
        {
            var draw = PairQueryRows.BatchGenerator(options.Seed, epoch, batch);
            // Items: the batch's positives, then per judged pair one hard negative, then the listwise candidates.
            var items = batch.Select(i => pairs[i].Item).ToList();
            if (bm25Negatives is not null)
                foreach (int i in batch)
                    if (pairs[i].QueryIndex >= 0) DrawHardNegatives(bm25Negatives, modelNegatives, pairs[i].QueryIndex, options.HardNegatives, items, draw);
            var listwise = options.ListwiseWeight > 0 ? ListwiseCandidates(batch, pairs, data, options.ListwiseCandidates, items, draw) : null;

            var queryVectors = model.QueryTower.ForwardRows(batch.Select(i => queryRows.Row(i, draw)).ToArray());
            var itemVectors = model.ItemTower.ForwardRows(items.Select(i => itemRows[i]).ToArray());
            var weights = batch.Select(i => pairs[i].Weight).ToArray();
            return BatchLoss(queryVectors, itemVectors, batch, pairs, items, judged, weights, options.Temperature,
                listwise, options.ListwiseCandidates, options.ListwiseWeight);
        }, cancel);

        if (cancel.IsCancellationRequested) return loss;
        note?.Invoke("encoding the catalog");
        var vectors = model.ItemTower.Encode(tokenizer, data.ItemTexts, options.MaxItemTokens);
        Finish(dir, model, data, vectors, config.Encoder.OutputDim, new TransformerTowerModelConfig(TransformerTowerFormat.Name, config, options.MaxQueryTokens, options.MaxItemTokens, ModelKinds.ToJson(options)));
        return loss;
    }

    /// <summary>
    /// Appends <paramref name="count"/> hard negatives of judged query <paramref name="q"/> to
    /// <paramref name="items"/>: from the model's mined pool half of the time once there is one (always
    /// when BM25 found none), else from BM25's.
    /// </summary>
    internal static void DrawHardNegatives(int[][] bm25, int[][]? mined, int q, int count, List<int> items, Rng draw)
    {
        var pool = mined is not null && mined[q].Length > 0 && (draw.NextFloat() < 0.5f || bm25[q].Length == 0) ? mined[q] : bm25[q];
        DrawFrom(pool, count, items, draw);
    }

    /// <summary>Appends <paramref name="count"/> draws (with repeats) from <paramref name="pool"/>; none when it is empty.</summary>
    internal static void DrawFrom(int[] pool, int count, List<int> items, Rng draw)
    {
        for (int n = 0; n < count && pool.Length > 0; n++) items.Add(pool[draw.NextInt(pool.Length)]);
    }

    /// <summary>
    /// A batch's loss for either kind of tower: the in-batch softmax (query b's positive is items[b];
    /// the pair's own item and its query's other <paramref name="positives"/> are masked, not pushed
    /// away), plus the graded listwise loss over <paramref name="listwise"/> (from
    /// <see cref="ListwiseCandidates"/>) scaled by <paramref name="listwiseWeight"/> when there is one.
    /// </summary>
    internal static Tensor BatchLoss(Tensor queryVectors, Tensor itemVectors, int[] batch, List<TrainingPair> pairs, List<int> items,
        HashSet<int>[] positives, float[] weights, float temperature,
        (int[] Rows, int[] Candidates, float[] Grades)? listwise, int listwiseCandidates, float listwiseWeight)
    {
        var result = RetrievalLosses.InBatchSoftmax(queryVectors, itemVectors, Enumerable.Range(0, batch.Length).ToArray(), temperature, weights,
            (b, j) => items[j] == pairs[batch[b]].Item || pairs[batch[b]].QueryIndex >= 0 && positives[pairs[batch[b]].QueryIndex].Contains(items[j]));
        if (listwise is null) return result;
        var (rows, candidates, grades) = listwise.Value;
        var listQueries = Tensor.Embedding(queryVectors, rows, rows.Length);
        var listItems = Tensor.Embedding(itemVectors, candidates, rows.Length, listwiseCandidates);
        return result + RetrievalLosses.GradedListwise(listQueries, listItems, grades, temperature).Scale(listwiseWeight);
    }

    /// <summary>
    /// The listwise loss's lists: for each judged pair of the batch whose query judged other items
    /// with a different grade, the pair's item and up to <paramref name="size"/> - 1 others of that
    /// query (appended to <paramref name="items"/>). Returns the batch rows, indices into items
    /// [rows, size] and grades (NaN for padding); null when no pair has such a list.
    /// </summary>
    internal static (int[] Rows, int[] Candidates, float[] Grades)? ListwiseCandidates(
        int[] batch, List<TrainingPair> pairs, TrainingData data, int size, List<int> items, Rng draw)
    {
        var rows = new List<int>(); var candidates = new List<int>(); var grades = new List<float>();
        for (int b = 0; b < batch.Length; b++)
        {
            var pair = pairs[batch[b]];
            if (pair.QueryIndex < 0) continue;
            var judgments = data.Judgments[pair.QueryIndex];
            int own = Array.FindIndex(judgments, j => j.Item == pair.Item);
            if (own < 0 || judgments.All(j => j.Grade == judgments[own].Grade)) continue;
            var others = Enumerable.Range(0, judgments.Length).Where(j => j != own).ToArray();
            draw.Shuffle(others.AsSpan());
            rows.Add(b);
            candidates.Add(b); grades.Add(judgments[own].Grade); // the pair's own item is items[b]
            for (int n = 0; n < size - 1; n++)
            {
                if (n < others.Length)
                {
                    candidates.Add(items.Count); grades.Add(judgments[others[n]].Grade);
                    items.Add(judgments[others[n]].Item);
                }
                else { candidates.Add(b); grades.Add(float.NaN); }
            }
        }
        return rows.Count == 0 ? null : ([.. rows], [.. candidates], [.. grades]);
    }

    /// <summary>For each judged query, BM25's top <paramref name="pool"/> results that are not its positives.</summary>
    internal static int[][] MineBm25Negatives(BeirDataset set, TrainingData data, int pool, int minPositiveGrade, Action<string>? note)
    {
        var bm25 = Bm25.Build(set.Corpus());
        var parameters = Bm25Parameters.Choose(set, bm25.Options, bm25, note);
        bm25 = bm25.WithScoring(parameters.K1, parameters.B);
        var index = new Dictionary<string, int>(data.ItemIds.Length, StringComparer.Ordinal);
        for (int i = 0; i < data.ItemIds.Length; i++) index[data.ItemIds[i]] = i;
        var queries = data.QueryTexts.Select((t, i) => new Query($"q{i}", t)).ToArray();
        var hits = bm25.Search(queries, pool);
        var result = new int[queries.Length][];
        for (int q = 0; q < queries.Length; q++) result[q] = NotPositive(data, q, hits[q].Select(h => index[h.Id]), minPositiveGrade);
        note?.Invoke($"mined BM25 hard negatives for {queries.Length:N0} queries");
        return result;
    }

    /// <summary>Name start of the files that keep the negatives mined with the model, one per epoch.</summary>
    internal const string MinedPrefix = "mined-negatives-";

    /// <summary>
    /// The model's top results for every judged query that are not its positives, mined at the start
    /// of <paramref name="epoch"/>, or read back when a resumed run mined them before the kill.
    /// </summary>
    private static int[][] ModelNegatives(ModelDirectory dir, int epoch, TwoTowerModel model, WordPieceTokenizer tokenizer,
        TrainingData data, TwoTowerTrainingOptions options, Action<string>? note)
        => MinedNegatives(dir, epoch, data, options.HardNegativePool, options.MinPositiveGrade, note, () =>
        {
            var items = model.ItemTower.Encode(tokenizer, data.ItemTexts, options.MaxItemTokens);
            var queries = model.QueryTower.Encode(tokenizer, data.QueryTexts, options.MaxQueryTokens);
            model.Train();
            return (items, queries, model.Config.Encoder.OutputDim);
        });

    /// <summary>
    /// Negatives mined with a model at the start of <paramref name="epoch"/>: the top <paramref name="pool"/>
    /// items of every judged query under the vectors <paramref name="encode"/> returns (items, queries,
    /// dimension), positives left out; saved beside the checkpoint, and read back instead of mined again
    /// when a resumed run had mined them before the kill (the model has moved on since).
    /// </summary>
    internal static int[][] MinedNegatives(ModelDirectory dir, int epoch, TrainingData data, int pool, int minPositiveGrade,
        Action<string>? note, Func<(float[] Items, float[] Queries, int Dim)> encode)
    {
        string path = Path.Combine(dir.Path, $"{MinedPrefix}{epoch}.txt");
        if (File.Exists(path))
        {
            var lines = File.ReadAllLines(path);
            if (lines.Length != data.QueryTexts.Length)
                throw new InvalidDataException($"{path}: {lines.Length} lines for {data.QueryTexts.Length} judged queries; delete it to mine again");
            return lines.Select((line, i) => line.Length == 0 ? [] : line.Split(' ').Select(w =>
                int.TryParse(w, out int item) && (uint)item < (uint)data.ItemIds.Length ? item
                    : throw new InvalidDataException($"{path}:{i + 1}: '{w}' is not an item index")).ToArray()).ToArray();
        }
        var (items, queries, dim) = encode();
        var index = new FlatIndex(dim, VectorMetric.InnerProduct);
        index.Add(items);
        var hits = index.Search(queries, pool);
        var result = hits.Select((h, q) => NotPositive(data, q, h.Select(x => x.Id), minPositiveGrade)).ToArray();
        string temp = path + ".tmp";
        File.WriteAllLines(temp, result.Select(r => string.Join(' ', r)));
        File.Move(temp, path, overwrite: true);
        note?.Invoke($"epoch {epoch + 1}: mined hard negatives with the model for {data.QueryTexts.Length:N0} queries");
        return result;
    }

    /// <summary>
    /// The items of <paramref name="ranked"/> that query <paramref name="q"/> did not judge positive and
    /// whose text is not a positive's text (exact-title twins, such as colour variants listed under one
    /// title, would be false negatives).
    /// </summary>
    internal static int[] NotPositive(TrainingData data, int q, IEnumerable<int> ranked, int minPositiveGrade)
    {
        var positives = data.Judgments[q].Where(j => j.Grade >= minPositiveGrade).Select(j => j.Item).ToArray();
        var texts = positives.Select(i => data.ItemTexts[i]).ToHashSet(StringComparer.Ordinal);
        return ranked.Where(i => !positives.Contains(i) && !texts.Contains(data.ItemTexts[i])).ToArray();
    }

    /// <summary>
    /// The end of a finished run: the weights, the catalog's vectors and ids, then config.json (written
    /// last, so a directory with a config is complete); the checkpoint and mined negatives go.
    /// </summary>
    internal static void Finish<TConfig>(ModelDirectory dir, Module model, TrainingData data, float[] vectors, int dim, TConfig config)
    {
        Checkpoint.SaveModel(dir.WeightsPath, model);
        SafeTensors.Save(dir.ItemsPath, [SafeTensorEntry.F32("vectors", [data.ItemIds.Length, dim], vectors)]);
        dir.WriteItemIds(data.ItemIds);
        dir.WriteConfig(config);
        File.Delete(dir.CheckpointPath);
        foreach (var mined in Directory.GetFiles(dir.Path, MinedPrefix + "*")) File.Delete(mined);
    }
}
