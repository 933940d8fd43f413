using System.Text.Json.Nodes;
using System.Diagnostics;
using GenSearch.Data;
using GenSearch.Evaluation;
using GenSearch.Models.Ranking;
using GenSearch.Nn;
using GenSearch.Retrieval;
using GenSearch.Serving;
using GenSearch.Serving.Ranking;
using GenSearch.Tensors;

namespace GenSearch.Training;

/// <summary>One query's candidates as a ranker trains on them: ids, match features [C, F] and grades (unjudged = 0).</summary>
public sealed record RankingList(Query Query, string[] Ids, float[] Features, float[] Grades);

/// <summary>
/// The training lists of both rankers, built the way a reranking stage sees candidates: each judged
/// query of a split is searched by the retriever expression (over the catalog and the feature model),
/// its top <c>depth</c> become its list, with <see cref="MatchFeatures"/> and the judged grades (an unjudged
/// candidate is grade 0: homedepot's judgments are pooled, about six a query). Lists without a
/// candidate above grade 0 teach a listwise loss nothing and are left out.
/// </summary>
public static class RankingLists
{
    /// <summary>
    /// The model-directory settings a ranker reads (generator_model, sid_model, fold_models), checked before any
    /// work: each names a retrieval model, or the error names the setting (not only the file it lacks).
    /// </summary>
    public static void CheckModelSettings(string? generatorModel, string? sidModel, IReadOnlyDictionary<string, string>? foldModels)
    {
        var settings = new List<(string, string?)> { ("generator_model", generatorModel), ("sid_model", sidModel) };
        foreach (var (fold, path) in foldModels ?? new Dictionary<string, string>()) settings.Add(($"fold_models.{fold}", path));
        foreach (var (setting, path) in settings)
            if (path is not null) ModelFormats.CheckRetrievalModel(setting, path);
    }

    /// <summary>The match features a feature or generator model gives; the others come from BM25, the text and the retriever's list.</summary>
    public static readonly IReadOnlyList<string> ModelFeatures = [.. MatchFeatures.DenseNames, .. MatchFeatures.GeneratorNames];

    /// <summary>
    /// The columns of <paramref name="names"/> in <see cref="MatchFeatures.Names"/> (a ranker's <c>drop_features</c>),
    /// ascending and distinct; an unknown name is an error listing the known ones.
    /// </summary>
    public static int[] FeatureColumns(IReadOnlyList<string>? names)
    {
        var columns = new SortedSet<int>();
        foreach (var name in names ?? [])
        {
            int f = Column(name);
            if (f < 0) throw new ArgumentException($"drop_features: '{name}' is no match feature; they are {string.Join(", ", MatchFeatures.Names)}");
            columns.Add(f);
        }
        return [.. columns];
    }

    /// <summary>
    /// Sets the <paramref name="dropped"/> columns of every list to 0, so a ranker cannot learn from them: LightGBM
    /// never splits on a constant, and SID-Coord also standardises them to 0 at serving (scale 0), whatever the
    /// feature extractor gives there.
    /// </summary>
    private static void DropFeatures(IReadOnlyList<RankingList> lists, int[] dropped)
    {
        int F = MatchFeatures.Count;
        foreach (var l in lists)
            for (int i = 0; i < l.Ids.Length; i++)
                foreach (int f in dropped) l.Features[i * F + f] = 0;
    }

    /// <summary>
    /// Whether a ranker's lists read what the feature or generator model learnt from its training queries: a
    /// retriever that searches with the model, or a model feature not dropped. When neither (BM25's candidates,
    /// the model features dropped), the judgments the model trained on are no trap (<see cref="CheckUnseen"/>).
    /// </summary>
    public static bool ReadsModels(string retriever, int[] dropped) => RetrieverSpec.Parse(retriever).NeedsModel || KeepsModelFeatures(dropped);

    /// <summary>
    /// The feature model's full path, or null when <paramref name="from"/> is not given; refused then if the ranker
    /// reads a model (<see cref="ReadsModels"/>).
    /// </summary>
    public static string? FeatureModel(string? from, string retriever, int[] dropped) =>
        from is not null ? Path.GetFullPath(from)
        : RetrieverSpec.Parse(retriever).NeedsModel ? throw new ArgumentException($"a ranker over '{retriever}' needs --from DIR: the model that retriever searches with")
        : KeepsModelFeatures(dropped) ? throw new ArgumentException($"a ranker that reads the model features ({string.Join(", ", ModelFeatures.Where(f => !dropped.Contains(Column(f))))}) needs --from DIR: the model that gives them; or list them in drop_features")
        : null;

    /// <summary>Whether a model feature is left after <paramref name="dropped"/>; when none is, the lists are built without scoring any candidate by a model.</summary>
    private static bool KeepsModelFeatures(int[] dropped) => ModelFeatures.Any(name => !dropped.Contains(Column(name)));

    /// <summary>Whether a generator feature is left after <paramref name="dropped"/>: only then is a generator asked.</summary>
    private static bool KeepsGeneratorFeatures(int[] dropped) => MatchFeatures.GeneratorNames.Any(name => !dropped.Contains(Column(name)));

    /// <summary>
    /// The feature and generator models a ranker's config.json records, which serving opens: none it reads nothing
    /// from, so a ranker over BM25's candidates with the model features dropped serves without loading (or scoring
    /// by) a model.
    /// </summary>
    public static (string? FeatureModel, string? GeneratorModel) ServedModels(string retriever, int[] dropped, string? featureModel, string? generatorModel) =>
        (ReadsModels(retriever, dropped) ? featureModel : null,
         KeepsGeneratorFeatures(dropped) ? generatorModel : null);

    private static int Column(string name)
    {
        for (int f = 0; f < MatchFeatures.Count; f++)
            if (MatchFeatures.Names[f] == name) return f;
        return -1;
    }

    /// <summary>Builds the lists of <paramref name="split"/>; also returns how many judged queries were searched.</summary>
    /// <remarks>
    /// The <paramref name="dropped"/> feature columns (<see cref="FeatureColumns"/>) are 0 in every list; when every
    /// model feature is dropped, no candidate is scored by a model at all.
    /// </remarks>
    public static (List<RankingList> Lists, int Queries) Build(BeirDataset set, string split, string? featureModel, string? generatorModel, string retriever, int depth, Action<string>? note,
        FusionMethod fusion = FusionMethod.ZScore, int[]? dropped = null)
    {
        var clock = Stopwatch.StartNew();
        dropped ??= [];
        bool modelFeatures = KeepsModelFeatures(dropped);
        // The candidates come from the feature model only when the expression searches with it ("bm25" does not;
        // the features still read the model).
        var spec = RetrieverSpec.Parse(retriever);
        var opened = RetrieverOpener.Open(set, spec, spec.NeedsModel ? featureModel : null, new RetrieverOpenOptions
        {
            Fusion = fusion,
            ChooseBm25Scoring = index =>
            {
                var chosen = Bm25Parameters.Choose(set, new Bm25Options(), index, note);
                return index.WithScoring(chosen.K1, chosen.B);
            },
            Note = note,
        });
        // The features need BM25 even when the expression does not search with it; scored as eval and search score it.
        var bm25 = opened.Bm25 ?? Bm25Index(set, note);
        var items = set.Corpus().ToDictionary(d => d.Id, StringComparer.Ordinal);
        var generator = generatorModel is null || !modelFeatures ? null : QueryItemScorers.Open(generatorModel);
        if (generator is { HasGenerator: false }) throw new InvalidDataException($"generator_model {generatorModel}: a {generator.Kind} model has no generator; give a unified model");
        var features = modelFeatures ? new MatchFeatures(bm25, id => items.GetValueOrDefault(id), QueryItemScorers.Open(featureModel!), generator,
                                                         readsGenerator: KeepsGeneratorFeatures(dropped))
                                     : new MatchFeatures(bm25, id => items.GetValueOrDefault(id), null);
        var qrels = set.Qrels(split, warn: note).Qrels;
        var judged = qrels.QueryIds.ToHashSet(StringComparer.Ordinal);
        var queries = set.Queries().Where(q => judged.Contains(q.Id)).ToList();
        note?.Invoke($"ranking lists: searching {queries.Count:N0} judged {split} queries with {spec} (top {depth})");
        var candidates = opened.Retriever.Search(queries, depth);
        var lists = new List<RankingList>();
        for (int q = 0; q < queries.Count; q++)
        {
            var grades = qrels.For(queries[q].Id);
            var hits = candidates[q];
            var g = hits.Select(h => (float)grades.GetValueOrDefault(h.Id, 0)).ToArray();
            if (!g.Any(x => x > 0)) continue;
            lists.Add(new RankingList(queries[q], [.. hits.Select(h => h.Id)], features.Extract(queries[q], hits), g));
            if ((q + 1) % 2000 == 0) note?.Invoke($"ranking lists: {q + 1:N0} of {queries.Count:N0} queries, {clock.Elapsed.TotalSeconds:F0} s");
        }
        note?.Invoke($"ranking lists: {lists.Count:N0} of {queries.Count:N0} queries have a candidate above grade 0; {lists.Sum(l => l.Ids.Length):N0} candidates in {clock.Elapsed.TotalSeconds:F0} s");
        DropFeatures(lists, dropped);
        return (lists, queries.Count);
    }

    /// <summary>
    /// The lists of <paramref name="split"/> with features from <paramref name="featureModel"/>, or, with
    /// <paramref name="foldModels"/> (split -> model that never saw that split's queries), the lists of each
    /// fold with its own model's candidates and features: cross-fitting, so a ranker can train on every judged
    /// query while each list's dense features are out of sample, as they are at serving time.
    /// </summary>
    public static List<RankingList> Build(BeirDataset set, string split, IReadOnlyDictionary<string, string>? foldModels, string? featureModel,
        string? generatorModel, string retriever, int depth, Action<string>? note, FusionMethod fusion = FusionMethod.ZScore, int[]? dropped = null)
    {
        if (foldModels is not { Count: > 0 }) return Build(set, split, featureModel, generatorModel, retriever, depth, note, fusion, dropped).Lists;
        var lists = new List<RankingList>();
        foreach (var (fold, model) in foldModels.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            lists.AddRange(Build(set, fold, Path.GetFullPath(model), generatorModel, retriever, depth, note, fusion, dropped).Lists);
        return lists;
    }

    /// <summary>
    /// Refuses to build a ranker's lists from judgments a feature model trained on: a model whose
    /// fingerprint (<c>fingerprint.json</c>, written by <c>gensearch train</c>) records the very judgments
    /// file of the ranker's split (or of a fold, checked against that fold's model). The ranker would learn
    /// to trust similarities the model memorised for those queries (the n-gram towers score their own
    /// training queries at NDCG@10 0.93 and dev at 0.41) and would rank worse on new queries, silently.
    /// Only the exact file is recognised; a model without a fingerprint is not checked.
    /// </summary>
    /// <remarks>With <paramref name="sameModelForEveryFold"/>, <paramref name="featureModel"/> is checked against every fold's judgments (a model all folds read, such as the SIDs' source).</remarks>
    public static void CheckUnseen(BeirDataset set, string split, IReadOnlyDictionary<string, string>? foldModels, string featureModel, string? generatorModel,
        bool sameModelForEveryFold = false)
    {
        var folds = foldModels is { Count: > 0 }
            ? foldModels.Select(kv => (Split: kv.Key, Model: sameModelForEveryFold ? featureModel : Path.GetFullPath(kv.Value))).ToList()
            : [(split, featureModel)];
        foreach (var (s, model) in folds)
            foreach (var dir in generatorModel is null ? [model] : new[] { model, generatorModel })
            {
                string print = Path.Combine(dir, TrainingRun.FingerprintFile);
                if (!File.Exists(print)) continue;
                if (TrainingRun.Read(print)?["data"]?["qrels/train.tsv"] is not JsonValue trained || !trained.TryGetValue<string>(out var hash)
                    || hash != TrainingRun.Sha256(set.QrelsPath(s))) continue;
                throw new InvalidDataException($"{set.QrelsPath(s)}: the model in {dir} was trained on these judgments ({print}); a ranker trained on " +
                                               $"its own training queries learns similarities the model memorised and ranks new queries worse. Train the ranker on a " +
                                               "split the model never saw (\"split\": \"heldout\" after bench/make-ranking-splits.py) or cross-fit (\"fold_models\"); " +
                                               "\"allow_seen_queries\": true trains on them anyway");
            }
    }

    /// <summary>BM25 over the data set's corpus, scored with its chosen parameters (as eval and search score it).</summary>
    internal static Bm25 Bm25Index(BeirDataset set, Action<string>? note)
    {
        var index = Bm25.Build(set.Corpus(), new Bm25Options());
        var chosen = Bm25Parameters.Choose(set, new Bm25Options(), index, note);
        return index.WithScoring(chosen.K1, chosen.B);
    }
}

/// <summary>Settings of <see cref="SidCoordTraining"/>.</summary>
public sealed record SidCoordTrainingOptions
{
    /// <summary>The retriever expression whose top <see cref="Depth"/> are the training candidates (over the catalog and --from).</summary>
    public string Retriever { get; init; } = "bm25+model";
    /// <summary>How <see cref="Retriever"/>'s terms are fused ("zscore" or "rrf"); recorded, and a fused search the ranker reranks must match it.</summary>
    public string Fusion { get; init; } = "zscore";
    /// <summary>
    /// The qrels split whose judged queries the ranker trains on. It must be one the feature models never
    /// saw: on homedepot the n-gram towers score train queries at NDCG@10 0.93 and dev queries at 0.41, so
    /// a ranker trained on train queries learns to trust a dense similarity that is memorised (LambdaMART
    /// trained so reranked the fusion's dev top 100 to 0.412, below the fusion's 0.423). Train the towers on
    /// most of train and the ranker on the held-out rest (bench/RESULTS.md, "## ranking").
    /// </summary>
    public string Split { get; init; } = "train";
    /// <summary>
    /// Cross-fitting instead of <see cref="Split"/>: qrels split -> a model directory (of --from's kind) that
    /// never saw that split's queries; each split's lists come from its own model, the ranker then serves with
    /// --from. E.g. {"fold0": "towers-trained-on-fold1", "fold1": "towers-trained-on-fold0"}.
    /// </summary>
    public IReadOnlyDictionary<string, string>? FoldModels { get; init; }
    /// <summary>Train on judgments the feature models were trained on (refused by default: see <see cref="RankingLists.CheckUnseen"/>).</summary>
    public bool AllowSeenQueries { get; init; }
    /// <summary>Candidates per query.</summary>
    public int Depth { get; init; } = 100;
    /// <summary>A unified model directory whose generator's log P(ID | q) is a feature; null = --from's generator, when --from is unified.</summary>
    public string? GeneratorModel { get; init; }
    /// <summary>The unified model directory whose semantic IDs the ranker reads; null = <see cref="GeneratorModel"/>, else --from (which must then be unified).</summary>
    public string? SidModel { get; init; }
    /// <summary>
    /// Match features the ranker does not read (names of <see cref="MatchFeatures.Names"/>), for ablations and
    /// for rankers without a dense model: e.g. the model features (dense, dense_gap, generator_logp,
    /// generator_gap) over BM25's candidates. With those dropped and a BM25 retriever, the ranker may train on
    /// the feature model's own training queries: nothing it reads was learnt from them.
    /// </summary>
    public IReadOnlyList<string>? DropFeatures { get; init; }
    /// <summary>Which item representations the model uses (the ablations): Both, ItemId, Sids or None.</summary>
    public ItemRepresentation Items { get; init; } = ItemRepresentation.Both;
    /// <summary>
    /// Folds of the training queries with item tables of their own (out-of-fold item memory, see
    /// <see cref="SidCoordModel.Score"/>): a list is scored through what the other folds' lists taught about
    /// its items. 1 = one set of tables trained by the very lists they score (before this option; cross-fitted
    /// on homedepot the ID-only model then fell to NDCG@10 0.300 against the features' 0.437).
    /// </summary>
    public int MemoryFolds { get; init; } = 2;
    /// <summary>SID-Coord reads the alignment of the target's SIDs with the user's history (when the data has one); false: the ablation.</summary>
    public bool UserAlignment { get; init; } = true;
    /// <summary>
    /// Share of the training lists (by a hash of the query id) held out of training and scored at the end:
    /// NDCG@10 of the model's order of each held-out list (gain 2^grade - 1, the ideal from the list's own
    /// grades), against the order the lists came in (the retriever's), written to <c>validation.json</c>.
    /// For choosing settings on training queries; 0 (the default) trains on every list.
    /// </summary>
    public double ValidationShare { get; init; }
    /// <summary>Learning-rate multiplier of the embedding tables (query words, item IDs, SID levels) against the MLP's.</summary>
    public float TableLearningRateScale { get; init; } = 1f;
    /// <summary>Width of the ID, SID and query-word embeddings.</summary>
    public int Dim { get; init; } = 32;
    /// <summary>Width of the feature MLP and the scoring layer.</summary>
    public int Hidden { get; init; } = 64;
    /// <summary>Rows of the hashed item-ID table (2^17 for 54,667 items: about a fifth share a row).</summary>
    public int ItemBuckets { get; init; } = 1 << 17;
    /// <summary>Rows of the hashed query-word table.</summary>
    public int WordBuckets { get; init; } = 1 << 16;
    /// <summary>
    /// The training loop: a batch is that many queries' lists. 5 epochs were chosen on the held-out slice
    /// (ranker trained on half the held-out tenth, scored on the other half: NDCG@10 0.405 / 0.411 / 0.408 / 0.393
    /// at 3 / 5 / 8 / 20 epochs; the hashed tables memorise a few hundred queries' lists quickly). With ten times
    /// the lists (cross-fitted on every train query) train 1 epoch: on a tenth of the lists held out
    /// (<see cref="ValidationShare"/>) NDCG@10 0.490 / 0.486 / 0.462 at 1 / 2 / 5 epochs.
    /// </summary>
    public TrainerOptions Trainer { get; init; } = new()
    {
        BatchSize = 32, Epochs = 5, LearningRate = 0.01f, WarmupSteps = 50, MinLearningRate = 0.0005f, WeightDecay = 0f, ClipNorm = 1f, CheckpointEvery = 200,
    };
    /// <summary>Seed of the weights and the list order.</summary>
    public ulong Seed { get; init; } = 1;
}

/// <summary>
/// Trains the SID-Coord ranker (<see cref="SidCoordModel"/>) on a data set's graded train judgments with
/// the listwise softmax loss over each query's candidates, and writes a ranker directory
/// (<see cref="SidCoordFormat"/>): config.json (the header, sizes, SID source, feature standardisation) and model.safetensors.
/// </summary>
public static class SidCoordTraining
{
    /// <summary>
    /// Whether a run needs --from: unless it reads no model (<see cref="RankingLists.ReadsModels"/>) and its SIDs come
    /// from sid_model or generator_model (as <see cref="Run"/> takes them).
    /// </summary>
    public static bool NeedsFrom(SidCoordTrainingOptions options) =>
        RankingLists.ReadsModels(options.Retriever, RankingLists.FeatureColumns(options.DropFeatures)) || SidSource(options, null) is null;

    private static string? SidSource(SidCoordTrainingOptions options, string? from) => options.SidModel ?? options.GeneratorModel ?? from;

    /// <summary>Trains and writes the ranker to <paramref name="outDir"/>; returns the final mean loss.</summary>
    /// <remarks>
    /// <paramref name="from"/>, the feature model, may be null only for a ranker that reads no model (<see cref="RankingLists.ReadsModels"/>)
    /// and takes its SIDs from <c>sid_model</c> or <c>generator_model</c>.
    /// </remarks>
    public static float Run(BeirDataset set, string? from, string outDir, SidCoordTrainingOptions options,
        Action<string>? note = null, Action<TrainerProgress>? progress = null, CancellationToken cancel = default)
    {
        RankingLists.CheckModelSettings(options.GeneratorModel, options.SidModel, options.FoldModels);
        var dropped = RankingLists.FeatureColumns(options.DropFeatures);
        string? featureModel = RankingLists.FeatureModel(from, options.Retriever, dropped);
        string sidModel = Path.GetFullPath(SidSource(options, from)
            ?? throw new ArgumentException("a sid-coord ranker needs --from DIR or sid_model: the model whose semantic IDs it reads"));
        var dir = new ModelDirectory(outDir);
        Directory.CreateDirectory(outDir);
        string? generatorModel = options.GeneratorModel is null ? null : Path.GetFullPath(options.GeneratorModel);
        var sids = ItemSids.Load(sidModel);
        if (!options.AllowSeenQueries)
        {
            if (RankingLists.ReadsModels(options.Retriever, dropped)) RankingLists.CheckUnseen(set, options.Split, options.FoldModels, featureModel!, generatorModel);
            // The SIDs too are something a model learnt: item codes shaped by its training pairs.
            if (options.Items is ItemRepresentation.Both or ItemRepresentation.Sids || (options.UserAlignment && set.HasInteractions))
                RankingLists.CheckUnseen(set, options.Split, options.FoldModels, sidModel, null, sameModelForEveryFold: true);
        }
        var fusion = RetrieverSpec.ParseFusion(options.Fusion, "fusion");
        var lists = RankingLists.Build(set, options.Split, options.FoldModels, featureModel, generatorModel, options.Retriever, options.Depth, note, fusion, dropped);
        if (lists.Count == 0) throw new InvalidDataException($"{set.QrelsPath(options.Split)}: no {options.Split} query has a judged item above grade 0 among its candidates");
        List<RankingList>? validation = null;
        if (options.ValidationShare > 0)
        {
            var held = lists.Where(l => SidCoordModel.Bucket("validation:" + l.Query.Id, 10_000) < options.ValidationShare * 10_000).ToHashSet();
            validation = [.. lists.Where(held.Contains)];
            lists = [.. lists.Where(l => !held.Contains(l))];
            note?.Invoke($"validation: {validation.Count:N0} lists held out of training, {lists.Count:N0} train");
            if (lists.Count == 0 || validation.Count == 0) throw new InvalidDataException($"validation_share {options.ValidationShare} leaves {lists.Count} training and {validation.Count} validation lists");
        }
        var (mean, scale) = Standardisation(lists);
        foreach (int f in dropped) (mean[f], scale[f]) = (0f, 0f); // read as 0 at serving too, whatever the extractor gives

        var config = new SidCoordConfig
        {
            Features = MatchFeatures.Count, ItemBuckets = options.ItemBuckets, WordBuckets = options.WordBuckets, Levels = sids.Levels,
            Codes = sids.Codes + 1, Dim = options.Dim, Hidden = options.Hidden, Items = options.Items, MemoryFolds = options.MemoryFolds,
            UserAlignment = options.UserAlignment,
        };
        var rng = new Rng(options.Seed);
        var model = new SidCoordModel(config, rng);
        note?.Invoke($"SID-Coord ({options.Items}): {model.ParameterCount():N0} parameters; {lists.Count:N0} lists an epoch");
        var trainer = new Trainer(model, options.Trainer with
        {
            Seed = options.Seed, CheckpointPath = dir.CheckpointPath,
            Groups = [ParameterGroup.ByPrefix("tables", "words.", "items", "sid") with { LearningRateScale = options.TableLearningRateScale }],
        }, [rng]);
        if (progress is not null) trainer.Progress += progress;
        if (note is not null) trainer.Note += note;
        float loss = trainer.Run(lists.Count, batch => BatchLoss(model, sids, mean, scale, [.. batch.Select(i => lists[i])]), cancel);
        if (cancel.IsCancellationRequested) return loss;

        Checkpoint.SaveModel(dir.WeightsPath, model);
        if (validation is not null) WriteValidation(Path.Combine(outDir, "validation.json"), model, sids, mean, scale, validation, note);
        var served = RankingLists.ServedModels(options.Retriever, dropped, featureModel, generatorModel);
        dir.WriteConfig(new SidCoordRankerConfig(SidCoordFormat.Name, [.. MatchFeatures.Names], served.FeatureModel, served.GeneratorModel, options.Retriever, options.Depth,
            config, sidModel, mean, scale, ModelKinds.ToJson(options), RetrieverSpec.FusionName(fusion)));
        File.Delete(dir.CheckpointPath);
        return loss;
    }

    /// <summary>
    /// The listwise loss of a batch of lists, padded to the longest (padding is masked out of the softmax); with
    /// out-of-fold memory, plus the memory scores' listwise loss that trains the item tables.
    /// </summary>
    public static Tensor BatchLoss(SidCoordModel model, ItemSids sids, float[] mean, float[] scale, IReadOnlyList<RankingList> lists)
    {
        int C = lists.Max(l => l.Ids.Length), F = MatchFeatures.Count;
        var padded = new List<(Query, string[], float[])>(lists.Count);
        var grades = new float[lists.Count * C];
        var folds = new int[lists.Count * C];
        Array.Fill(grades, float.NaN);
        for (int b = 0; b < lists.Count; b++)
        {
            var l = lists[b];
            var ids = new string[C];
            var x = new float[C * F];
            for (int i = 0; i < C; i++) ids[i] = l.Ids[Math.Min(i, l.Ids.Length - 1)];
            l.Features.CopyTo(x, 0);
            l.Grades.CopyTo(grades, b * C);
            padded.Add((l.Query, ids, x));
            folds.AsSpan(b * C, C).Fill(MemoryFold(l.Query.Id, model.Config.MemoryFolds));
        }
        var batch = SidCoordRanker.Batch(model.Config, sids, mean, scale, padded) with { Folds = model.Config.MemoryFolds > 1 ? folds : null };
        var (scores, memory) = model.Score(batch);
        var loss = SidCoordModel.ListwiseLoss(scores, grades, lists.Count, C);
        return memory is null ? loss : loss + SidCoordModel.ListwiseLoss(memory, grades, lists.Count, C);
    }

    /// <summary>Scores the held-out lists and writes their mean NDCG@10, the model's and the retriever's order's.</summary>
    private static void WriteValidation(string path, SidCoordModel model, ItemSids sids, float[] mean, float[] scale, List<RankingList> lists, Action<string>? note)
    {
        model.Eval();
        var ranker = new SidCoordRanker(model, sids, mean, scale);
        double ours = 0, given = 0;
        foreach (var l in lists)
        {
            var scores = ranker.Score(l.Query, [.. l.Ids.Select(id => new SearchHit(id, 0f))], l.Features);
            var order = Enumerable.Range(0, l.Ids.Length).OrderByDescending(i => scores[i]).ThenBy(i => i).ToArray();
            ours += ListNdcg(l.Grades, order, 10);
            given += ListNdcg(l.Grades, [.. Enumerable.Range(0, l.Ids.Length)], 10);
        }
        ours /= lists.Count; given /= lists.Count;
        var json = new JsonObject { ["lists"] = lists.Count, ["NDCG@10"] = Math.Round(ours, 5), ["retriever_NDCG@10"] = Math.Round(given, 5) };
        AtomicFile.WriteAllText(path, json.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n");
        note?.Invoke($"validation: NDCG@10 {ours:F4} on {lists.Count:N0} held-out lists (the retriever's order {given:F4})");
    }

    /// <summary>
    /// NDCG@k of a list in <paramref name="order"/> (indexes into <paramref name="grades"/>), the ideal from the
    /// list's own grades: <see cref="Metrics.NdcgAt"/> over the list's positions (grades are whole judgments).
    /// </summary>
    public static double ListNdcg(float[] grades, int[] order, int k)
    {
        var judged = new Dictionary<string, int>(grades.Length);
        for (int i = 0; i < grades.Length; i++) judged[i.ToString(System.Globalization.CultureInfo.InvariantCulture)] = (int)grades[i];
        return Metrics.NdcgAt([.. order.Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))], judged, k);
    }

    /// <summary>The memory fold of a training query: a stable hash of its id.</summary>
    public static int MemoryFold(string queryId, int folds) => SidCoordModel.Bucket("fold:" + queryId, folds);

    /// <summary>Per-feature mean and 1 / standard deviation over every training candidate (1 where a feature is constant).</summary>
    public static (float[] Mean, float[] Scale) Standardisation(IReadOnlyList<RankingList> lists)
    {
        int F = MatchFeatures.Count;
        var sum = new double[F];
        var squares = new double[F];
        long n = 0;
        foreach (var l in lists)
            for (int i = 0; i < l.Ids.Length; i++, n++)
                for (int f = 0; f < F; f++) { double v = l.Features[i * F + f]; sum[f] += v; squares[f] += v * v; }
        var mean = new float[F];
        var scale = new float[F];
        for (int f = 0; f < F; f++)
        {
            double m = sum[f] / Math.Max(1, n), variance = squares[f] / Math.Max(1, n) - m * m;
            mean[f] = (float)m;
            scale[f] = variance > 1e-12 ? (float)(1 / Math.Sqrt(variance)) : 1f;
        }
        return (mean, scale);
    }
}
