using System.Text.Json.Nodes;
using GenSearch.Models.Ranking;
using GenSearch.Nn;
using GenSearch.Retrieval;
using GenSearch.Tensors;
using GenSearch.Tensors.IO;

namespace GenSearch.Serving.Ranking;

/// <summary>A trained ranking model: scores a query's candidates from their match features (and, by kind, their identities).</summary>
public interface IRanker
{
    /// <summary>The kind in config.json.</summary>
    string Kind { get; }

    /// <summary>
    /// A score per candidate (higher is better). <paramref name="features"/> are <see cref="MatchFeatures"/>'
    /// [candidates, <see cref="MatchFeatures.Count"/>], row-major.
    /// </summary>
    float[] Score(Query query, IReadOnlyList<SearchHit> candidates, float[] features);
}

/// <summary>What every ranker directory's config.json holds besides its kind's own part.</summary>
/// <param name="Kind">"sid-coord" or "lambdamart".</param>
/// <param name="Features">The match features' names, in the order the model reads them (checked against <see cref="MatchFeatures.Names"/>).</param>
/// <param name="FeatureModel">The model directory the dense similarity comes from (and the generator features, when it is unified and <paramref name="GeneratorModel"/> is null); null = BM25 and text features only.</param>
/// <param name="GeneratorModel">A unified model directory whose generator gives log P(ID | q); null = <paramref name="FeatureModel"/>'s generator, if it has one.</param>
/// <param name="Retriever">The retriever expression its training candidates came from (e.g. "bm25+model").</param>
/// <param name="Depth">Candidates per query it was trained to rerank.</param>
/// <param name="Fusion">How the training candidates were fused when <paramref name="Retriever"/> has several terms ("zscore" or
/// "rrf"): the retriever_score and log_rank features are on that fusion's scale, so a fused search it reranks must fuse
/// the same way. Absent: "rrf", the only fusion when rankers were first written.</param>
/// <param name="Training">The ranker's training settings, as its kind records them.</param>
public sealed record RankerHeader(string Kind, string[] Features, string? FeatureModel, string? GeneratorModel, string Retriever, int Depth, string? Fusion = null,
    JsonObject? Training = null)
{
    /// <summary>The match features the ranker was trained without (its <c>drop_features</c>): 0 in training, and nothing it scores depends on them.</summary>
    public IReadOnlySet<string> DroppedFeatures =>
        Training?["drop_features"] is JsonArray names
            ? names.Select(n => n is JsonValue v && v.TryGetValue(out string? name) ? name : "").ToHashSet(StringComparer.Ordinal) : new HashSet<string>();

    /// <summary>Whether the ranker reads the dense model's similarity (<see cref="MatchFeatures.DenseNames"/>).</summary>
    public bool ReadsDense => !DroppedFeatures.IsSupersetOf(MatchFeatures.DenseNames);

    /// <summary>Whether the ranker reads a generator's log-probability (<see cref="MatchFeatures.GeneratorNames"/>).</summary>
    public bool ReadsGenerator => !DroppedFeatures.IsSupersetOf(MatchFeatures.GeneratorNames);

    /// <summary><see cref="Fusion"/> read (absent: reciprocal rank).</summary>
    public FusionMethod FusionMethod => RetrieverSpec.ParseFusion(Fusion ?? "rrf", "fusion");

    /// <summary>The shape of the scores its training candidates carried (<see cref="Retriever"/>, <c>model</c> read through <see cref="FeatureModel"/>): a search it reranks must have the same.</summary>
    public RetrieverScoreShape TrainedShape => RetrieverSpec.ScoreShapeOf(Retriever, FeatureModel);
}

/// <summary>One kind of ranker directory, registered in <see cref="RankerFormats"/>.</summary>
public interface IRankerFormat
{
    /// <summary>The kind in config.json.</summary>
    string Kind { get; }
    /// <summary>One line for help texts.</summary>
    string Description { get; }
    /// <summary>Opens the ranker in <paramref name="dir"/>.</summary>
    IRanker Open(ModelDirectory dir);
}

/// <summary>
/// The registry of ranker kinds (as <see cref="ModelFormats"/> is for retrievers): a reranking stage opens
/// any ranker directory through <see cref="Open"/>, by the kind its config.json records.
/// </summary>
public static class RankerFormats
{
    private static readonly Dictionary<string, IRankerFormat> s_formats = new(StringComparer.Ordinal);

    static RankerFormats()
    {
        Register(new SidCoordFormat());
        Register(new LambdaMartFormat());
    }

    /// <summary>The registered formats, sorted by kind.</summary>
    public static IReadOnlyList<IRankerFormat> All { get { lock (s_formats) return [.. s_formats.Values.OrderBy(f => f.Kind, StringComparer.Ordinal)]; } }

    /// <summary>Adds (or replaces) a format.</summary>
    public static void Register(IRankerFormat format)
    {
        lock (s_formats) s_formats[format.Kind] = format;
    }

    /// <summary>The header of the ranker directory <paramref name="path"/>: its retriever present, its fusion known, its features the extractor's.</summary>
    public static RankerHeader Header(string path)
    {
        var dir = new ModelDirectory(path);
        var header = dir.ReadConfig<RankerHeader>();
        if (header.Kind is null) throw new InvalidDataException($"{dir.ConfigPath}: no \"kind\"");
        lock (s_formats)
            if (!s_formats.ContainsKey(header.Kind))
                throw new InvalidDataException($"{dir.ConfigPath}: a {header.Kind} model is not a ranker (ranker kinds: {string.Join(", ", s_formats.Keys.Order(StringComparer.Ordinal))}; train one with gensearch train --model sid-coord or lambdamart)");
        if (string.IsNullOrWhiteSpace(header.Retriever))
            throw new InvalidDataException($"{dir.ConfigPath}: no \"retriever\" (the retriever whose candidates the ranker trained on)");
        if (header.Depth < 1) throw new InvalidDataException($"{dir.ConfigPath}: depth is {header.Depth}; a ranker trains on lists of at least 1 candidate");
        if (header.Fusion is { } fusion && !RetrieverSpec.FusionNames.Contains(fusion.ToLowerInvariant()))
            throw new InvalidDataException($"{dir.ConfigPath}: fusion '{fusion}' is not one of {string.Join(", ", RetrieverSpec.FusionNames)}");
        if (header.Features is null || !header.Features.SequenceEqual(MatchFeatures.Names))
            throw new InvalidDataException($"{dir.ConfigPath}: the ranker reads features [{string.Join(", ", header.Features ?? [])}]; this build extracts [{string.Join(", ", MatchFeatures.Names)}]");
        return header;
    }

    /// <summary>Opens the ranker in <paramref name="path"/>, whatever its kind.</summary>
    public static IRanker Open(string path)
    {
        var header = Header(path);
        IRankerFormat format;
        lock (s_formats)
            format = s_formats.TryGetValue(header.Kind, out var f) ? f : throw new InvalidDataException(
                $"{Path.Combine(path, "config.json")}: '{header.Kind}' is not a ranker kind (known: {string.Join(", ", s_formats.Keys.Order(StringComparer.Ordinal))})");
        return format.Open(new ModelDirectory(path));
    }
}

/// <summary>Semantic IDs of catalog items, read from a unified model directory ('ids' in items.safetensors, items.txt).</summary>
public sealed class ItemSids
{
    private readonly Dictionary<string, int[]> _codes;

    /// <summary>Levels per ID (the collision token is left out).</summary>
    public int Levels { get; }
    /// <summary>Codes per level; <see cref="Unknown"/> = this value stands for an item without an ID.</summary>
    public int Codes { get; }
    /// <summary>The code of an item the model has no ID for (a new item): one past the real codes.</summary>
    public int Unknown => Codes;

    private ItemSids(Dictionary<string, int[]> codes, int levels, int codes_) { _codes = codes; Levels = levels; Codes = codes_; }

    /// <summary>IDs given by hand (tests).</summary>
    internal static ItemSids Of(Dictionary<string, int[]> codes, int levels, int codesPerLevel) => new(codes, levels, codesPerLevel);

    /// <summary>Reads the IDs of the unified model in <paramref name="path"/>.</summary>
    public static ItemSids Load(string path)
    {
        var dir = new ModelDirectory(path);
        var config = dir.ReadConfig<UnifiedModelConfig>();
        if (config.Kind != UnifiedFormat.Name) throw new InvalidDataException($"{dir.ConfigPath}: kind '{config.Kind}'; semantic IDs come from a {UnifiedFormat.Name} model");
        var ids = dir.ItemIds();
        int width = config.Model.Levels + 1, L = config.Model.Levels;
        var entry = SafeTensors.Load(dir.ItemsPath)["ids"];
        if (entry.Shape.Length != 2 || entry.Shape[0] != ids.Length || entry.Shape[1] != width)
            throw new InvalidDataException($"{dir.ItemsPath}: 'ids' has shape [{string.Join(", ", entry.Shape)}], expected [{ids.Length}, {width}]");
        var flat = entry.AsI32();
        var codes = new Dictionary<string, int[]>(ids.Length, StringComparer.Ordinal);
        for (int i = 0; i < ids.Length; i++)
        {
            var c = flat.AsSpan(i * width, L).ToArray();
            foreach (int v in c) if ((uint)v >= (uint)config.Model.Codes) throw new InvalidDataException($"{dir.ItemsPath}: item {ids[i]} has code {v} outside 0..{config.Model.Codes - 1}");
            codes[ids[i]] = c;
        }
        return new ItemSids(codes, L, config.Model.Codes);
    }

    /// <summary>The item's codes per level, or null when the model has no ID for it.</summary>
    public int[]? Of(string id) => _codes.GetValueOrDefault(id);

    /// <summary>
    /// SID-Coord's interest alignment of a target with the user's history: per level l, the share of the
    /// history's clicked items (<c>"i:ID"</c> entries of <see cref="Query.Context"/>) whose ID shares the
    /// target's first l + 1 codes. Zeros without a history or for a target without an ID.
    /// </summary>
    /// <remarks>Levels = <paramref name="result"/>'s length.</remarks>
    public static void AlignmentOf(IReadOnlyList<int[]> history, int[]? target, Span<float> result)
    {
        result.Clear();
        if (target is null || history.Count == 0) return;
        foreach (var h in history)
            for (int l = 0; l < result.Length && h[l] == target[l]; l++) result[l] += 1f / history.Count;
    }

    /// <summary>The IDs of the items the query's user clicked before it (those the model has IDs for).</summary>
    public IReadOnlyList<int[]> History(Query query)
    {
        if (query.Context is not { Count: > 0 } context) return [];
        var result = new List<int[]>();
        foreach (var entry in context)
            if (entry.StartsWith("i:", StringComparison.Ordinal) && Of(entry[2..]) is { } codes) result.Add(codes);
        return result;
    }
}

/// <summary>config.json of a SID-Coord ranker: the header's fields, the model's sizes, the SID source and the feature standardisation.</summary>
public sealed record SidCoordRankerConfig(string Kind, string[] Features, string? FeatureModel, string? GeneratorModel, string Retriever, int Depth,
    SidCoordConfig Model, string SidModel, float[] FeatureMean, float[] FeatureScale, JsonObject? Training, string? Fusion = null);

/// <summary>"sid-coord": <see cref="SidCoordModel"/> over the match features, the item's hashed ID and its semantic IDs.</summary>
public sealed class SidCoordFormat : IRankerFormat
{
    /// <summary>The kind in config.json.</summary>
    public const string Name = "sid-coord";
    /// <inheritdoc/>
    public string Kind => Name;
    /// <inheritdoc/>
    public string Description => "SID-Coord: hashed item ID + attention-fused semantic IDs under a target-aware gate, match features through an MLP";

    /// <inheritdoc/>
    public IRanker Open(ModelDirectory dir)
    {
        var config = dir.ReadConfig<SidCoordRankerConfig>();
        if (string.IsNullOrWhiteSpace(config.SidModel)) throw new InvalidDataException($"{dir.ConfigPath}: no \"sid_model\"; a SID-Coord ranker names the unified model whose semantic IDs it reads");
        ModelFormats.CheckRetrievalModel($"{dir.ConfigPath}: sid_model", config.SidModel, "the ranker reads the items' semantic IDs from there: restore the model or retrain the ranker");
        var sids = ItemSids.Load(config.SidModel);
        if (sids.Levels != config.Model.Levels || sids.Codes + 1 != config.Model.Codes)
            throw new InvalidDataException($"{dir.ConfigPath}: the model reads {config.Model.Levels} levels of {config.Model.Codes - 1} codes; {config.SidModel} has {sids.Levels} of {sids.Codes}");
        if (config.FeatureMean.Length != MatchFeatures.Count || config.FeatureScale.Length != MatchFeatures.Count)
            throw new InvalidDataException($"{dir.ConfigPath}: feature_mean and feature_scale need {MatchFeatures.Count} values");
        var model = new SidCoordModel(config.Model, new Rng(0));
        Checkpoint.LoadModel(dir.WeightsPath, model);
        model.Eval();
        return new SidCoordRanker(model, sids, config.FeatureMean, config.FeatureScale);
    }
}

/// <summary>Serves a <see cref="SidCoordModel"/>; also what training uses to build its batches, so both read candidates the same way.</summary>
public sealed class SidCoordRanker(SidCoordModel model, ItemSids sids, float[] mean, float[] scale) : IRanker
{
    /// <inheritdoc/>
    public string Kind => SidCoordFormat.Name;

    /// <summary>The model.</summary>
    public SidCoordModel Model => model;

    /// <inheritdoc/>
    public float[] Score(Query query, IReadOnlyList<SearchHit> candidates, float[] features)
    {
        if (candidates.Count == 0) return [];
        using var _ = Tensor.NoGrad();
        var batch = Batch(model.Config, sids, mean, scale, [(query, candidates.Select(c => c.Id).ToArray(), features)]);
        return model.Forward(batch).Data[..candidates.Count];
    }

    /// <summary>
    /// The model's input for lists of candidates: each list's query, item ids and raw match features
    /// [ids, F] (standardised here with <paramref name="mean"/> and <paramref name="scale"/>).
    /// </summary>
    public static RankingBatch Batch(SidCoordConfig config, ItemSids sids, float[] mean, float[] scale, IReadOnlyList<(Query Query, string[] Ids, float[] Features)> lists)
    {
        int F = config.Features, L = config.Levels, N = lists.Sum(l => l.Ids.Length);
        var x = new float[N * F];
        var align = new float[N * L];
        var buckets = new int[N];
        var codes = new int[N * L];
        var queryOf = new int[N];
        var words = new List<int>();
        var offsets = new int[lists.Count];
        int row = 0;
        for (int b = 0; b < lists.Count; b++)
        {
            var (query, ids, features) = lists[b];
            if (features.Length != ids.Length * F) throw new ArgumentException($"{features.Length} features for {ids.Length} candidates of {F}");
            offsets[b] = words.Count;
            words.AddRange(SidCoordModel.WordBuckets(query.Text, config.WordBuckets));
            var history = config.UserAlignment ? sids.History(query) : [];
            for (int i = 0; i < ids.Length; i++, row++)
            {
                // Scale 0 marks a dropped feature: 0 whatever the extractor gave (NaN * 0 would be NaN).
                for (int f = 0; f < F; f++) x[row * F + f] = scale[f] == 0 ? 0 : (features[i * F + f] - mean[f]) * scale[f];
                var target = sids.Of(ids[i]);
                ItemSids.AlignmentOf(history, target, align.AsSpan(row * L, L));
                for (int l = 0; l < L; l++) codes[row * L + l] = target?[l] ?? sids.Unknown;
                buckets[row] = SidCoordModel.Bucket(ids[i], config.ItemBuckets);
                queryOf[row] = b;
            }
        }
        return new RankingBatch(x, align, buckets, codes, queryOf, [.. words], offsets);
    }
}

/// <summary>config.json of a LambdaMART ranker: the header's fields and its training settings (the trees are in model.safetensors).</summary>
public sealed record LambdaMartConfig(string Kind, string[] Features, string? FeatureModel, string? GeneratorModel, string Retriever, int Depth, int Trees, JsonObject? Training,
    string? Fusion = null);

/// <summary>"lambdamart": boosted trees trained by LightGBM (through ML.NET), served from their exported arrays (<see cref="TreeEnsemble"/>).</summary>
public sealed class LambdaMartFormat : IRankerFormat
{
    /// <summary>The kind in config.json.</summary>
    public const string Name = "lambdamart";
    /// <inheritdoc/>
    public string Kind => Name;
    /// <inheritdoc/>
    public string Description => "LambdaMART (LightGBM through ML.NET) over the match features: the baseline";

    /// <inheritdoc/>
    public IRanker Open(ModelDirectory dir)
    {
        var config = dir.ReadConfig<LambdaMartConfig>();
        var trees = Load(dir.WeightsPath).Validate(dir.WeightsPath, MatchFeatures.Count);
        if (trees.Trees != config.Trees) throw new InvalidDataException($"{dir.WeightsPath}: {trees.Trees} trees; config.json says {config.Trees}");
        return new LambdaMartRanker(trees);
    }

    /// <summary>Writes the ensemble as safetensors (I32 and F32 arrays; the bias as a one-element F32).</summary>
    public static void Save(string path, TreeEnsemble trees)
    {
        SafeTensorEntry I(string name, int[] v) => SafeTensorEntry.I32(name, [v.Length], v);
        SafeTensorEntry F(string name, float[] v) => SafeTensorEntry.F32(name, [v.Length], v);
        var tensors = new[]
        {
            I("node_start", trees.NodeStart), I("leaf_start", trees.LeafStart), I("left", trees.Left), I("right", trees.Right), I("feature", trees.Feature),
            F("threshold", trees.Threshold), F("leaf_values", trees.LeafValues), F("weights", trees.Weights), F("bias", [trees.Bias]),
        };
        SafeTensors.Save(path, tensors);
    }

    /// <summary>Reads what <see cref="Save"/> wrote.</summary>
    public static TreeEnsemble Load(string path)
    {
        var t = SafeTensors.Load(path);
        SafeTensorEntry Get(string name) => t.TryGet(name) ?? throw new InvalidDataException($"{path}: no '{name}' tensor");
        return new TreeEnsemble(Get("node_start").AsI32(), Get("leaf_start").AsI32(), Get("left").AsI32(), Get("right").AsI32(), Get("feature").AsI32(),
            Get("threshold").AsF32(), Get("leaf_values").AsF32(), Get("weights").AsF32(), Get("bias").AsF32() is [var b] ? b : throw new InvalidDataException($"{path}: 'bias' must hold one value"));
    }
}

/// <summary>Serves a <see cref="TreeEnsemble"/> over the match features.</summary>
public sealed class LambdaMartRanker(TreeEnsemble trees) : IRanker
{
    /// <inheritdoc/>
    public string Kind => LambdaMartFormat.Name;

    /// <inheritdoc/>
    public float[] Score(Query query, IReadOnlyList<SearchHit> candidates, float[] features)
    {
        int F = MatchFeatures.Count;
        var scores = new float[candidates.Count];
        for (int i = 0; i < scores.Length; i++) scores[i] = trees.Score(features.AsSpan(i * F, F));
        return scores;
    }
}
