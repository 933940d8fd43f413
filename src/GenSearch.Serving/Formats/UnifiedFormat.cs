using System.Text.Json.Nodes;
using GenSearch.Models.Generative;
using GenSearch.Models.Unified;
using GenSearch.Nn;
using GenSearch.Retrieval;
using GenSearch.Retrieval.Dense;
using GenSearch.Retrieval.Generative;
using GenSearch.Tensors;
using GenSearch.Tensors.IO;
using GenSearch.Text;

namespace GenSearch.Serving;

/// <summary>What config.json of a unified model holds.</summary>
/// <param name="Kind">"unified".</param>
/// <param name="Model">The model's sizes.</param>
/// <param name="TokenSizes">Tokens per ID position: the levels' codebooks, then the collision token's range.</param>
/// <param name="BeamSize">Beams at search time.</param>
/// <param name="LatentWeight">Weight of sim(q, d) in an item's generative score.</param>
/// <param name="Training">The settings it was trained with.</param>
/// <param name="SteerByItems">Whether code levels' scores carry their items' best similarity; absent means on.
/// A search setting, like the latent weight.</param>
/// <param name="SteeredLevels">How many code levels, from the last, are steered so (see
/// <see cref="UnifiedSearchOptions.SteeredLevels"/>); absent: 1, as models written before it searched.</param>
/// <param name="SketchDirections">Directions of the sketch steering the upper levels (see
/// <see cref="UnifiedSearchOptions.SketchDirections"/>); absent: the search's default.</param>
public sealed record UnifiedModelConfig(string Kind, UnifiedConfig Model, int[] TokenSizes, int BeamSize, float LatentWeight, JsonObject? Training,
    bool SteerByItems = true, int? SteeredLevels = null, int? SketchDirections = null)
{
    /// <summary>The search's <see cref="UnifiedSearchOptions.SteeredLevels"/>.</summary>
    public int Steering => SteerByItems ? SteeredLevels ?? 1 : 0;

    /// <summary>The search options this config asks for, with <paramref name="beam"/> beams.</summary>
    public UnifiedSearchOptions SearchOptions(int beam) => new()
    {
        BeamSize = beam, LatentWeight = LatentWeight, SteeredLevels = Steering,
        SketchDirections = SketchDirections ?? new UnifiedSearchOptions().SketchDirections,
    };
}

/// <summary>
/// "unified" (UniSearch): item encoder, SimVQ codebooks and search generator trained together
/// (<see cref="UnifiedModel"/>). Served generatively (beam search over the ID trie, items scored by
/// the model's own outputs) or densely (nearest latents to q). The directory holds <c>ngrams.txt</c>,
/// the weights (codebooks included, so new items are quantized without retraining), and
/// <c>items.safetensors</c> with 'ids' [n, levels + 1] and 'latents' [n, p].
/// </summary>
public sealed class UnifiedFormat : Ranking.IScorerFormat
{
    /// <summary>The kind in config.json.</summary>
    public const string Name = "unified";
    /// <summary>The feature list's file name.</summary>
    public const string FeaturesFile = "ngrams.txt";

    /// <inheritdoc/>
    public string Kind => Name;
    /// <inheritdoc/>
    public string Description => "UniSearch unified model: item encoder, SimVQ IDs and generator trained jointly (beam search over the ID trie, or dense)";
    /// <inheritdoc/>
    public IReadOnlyList<string> Modes { get; } = ["generative", "dense"];

    /// <inheritdoc/>
    public IRetriever Open(ModelDirectory dir, ModelOpenOptions options)
    {
        var generative = OpenGenerative(dir, options);
        if ((options.Mode ?? Modes[0]) == "generative") return generative;
        var (index, ids) = dir.VectorIndex(options.Hnsw, "latents", VectorMetric.L2);
        var model = generative.Model;
        var features = NgramVocabulary.Load(Path.Combine(dir.Path, FeaturesFile));
        return new VectorRetriever("dense", index, ids, generative.EncodeQueries,
            docs => model.EncodeItems(docs.Select(d => features.Encode(d.TitleAndText)).ToArray()).Latents);
    }

    /// <inheritdoc/>
    public Ranking.IQueryItemScorer OpenScorer(ModelDirectory dir) => new Ranking.UnifiedScorer(OpenGenerative(dir, new ModelOpenOptions()));

    /// <summary>The model directory as a generative retriever.</summary>
    public static UnifiedRetriever OpenGenerative(ModelDirectory dir, ModelOpenOptions options)
    {
        var config = dir.ReadConfig<UnifiedModelConfig>();
        if (config.Kind != Name) throw new InvalidDataException($"{dir.ConfigPath}: kind '{config.Kind}', not a {Name} model");
        string featuresPath = Path.Combine(dir.Path, FeaturesFile);
        var features = NgramVocabulary.Load(featuresPath);
        if (features.Count != config.Model.Features)
            throw new InvalidDataException($"{featuresPath}: {features.Count} features, the model has {config.Model.Features} rows");
        var model = new UnifiedModel(config.Model, new Rng(0));
        Checkpoint.LoadModel(dir.WeightsPath, model);
        model.Eval();
        var ids = dir.ItemIds();
        int width = config.Model.Levels + 1;
        if (config.TokenSizes.Length != width)
            throw new InvalidDataException($"{dir.ConfigPath}: token_sizes has {config.TokenSizes.Length} entries; a model of {config.Model.Levels} levels needs {width}");
        var entry = SafeTensors.Load(dir.ItemsPath)["ids"];
        if (entry.Shape.Length != 2 || entry.Shape[0] != ids.Length || entry.Shape[1] != width)
            throw new InvalidDataException($"{dir.ItemsPath}: 'ids' has shape [{string.Join(", ", entry.Shape)}], expected [{ids.Length}, {width}]");
        var flat = entry.AsI32();
        var codes = Enumerable.Range(0, ids.Length).Select(i => flat.AsSpan(i * width, width).ToArray()).ToList();
        var (latents, _, columns) = dir.ItemMatrix("latents", ids.Length);
        if (columns != config.Model.Dim) throw new InvalidDataException($"{dir.ItemsPath}: 'latents' are {columns} wide, the model {config.Model.Dim}");
        if (config.SteeredLevels < 0) throw new InvalidDataException($"{dir.ConfigPath}: steered_levels is {config.SteeredLevels}; it counts code levels, 0 or more");
        if (config.SketchDirections <= 0) throw new InvalidDataException($"{dir.ConfigPath}: sketch_directions is {config.SketchDirections}; the sketch needs at least one direction");
        int beam = options.BeamSize ?? config.BeamSize;
        if (beam <= 0) throw new ArgumentOutOfRangeException(nameof(options), $"the beam size must be positive, got {beam}");
        if (options.SteeredLevels < 0) throw new ArgumentOutOfRangeException(nameof(options), $"steered levels count code levels, 0 or more; got {options.SteeredLevels}");
        if (options.SketchDirections <= 0) throw new ArgumentOutOfRangeException(nameof(options), $"the sketch needs at least one direction; got {options.SketchDirections}");
        var search = config.SearchOptions(beam);
        search = search with
        {
            SteeredLevels = options.SteeredLevels ?? search.SteeredLevels,
            SketchDirections = options.SketchDirections ?? search.SketchDirections,
        };
        return Retriever(model, features, config.TokenSizes, codes, ids, latents, search);
    }

    /// <summary>
    /// A generative retriever over a catalog the model encoded: full IDs <paramref name="codes"/> (codes per
    /// level, the collision token last), with <paramref name="tokenSizes"/> per ID position as saved.
    /// </summary>
    public static UnifiedRetriever Retriever(UnifiedModel model, NgramVocabulary features, IReadOnlyList<int> tokenSizes, IReadOnlyList<int[]> codes,
        string[] ids, float[] latents, UnifiedSearchOptions options)
    {
        // Room for new items in crowded leaves: the collision range is at least twice the largest group
        // and 1,024 (the scorer reads only the tokens the trie allows, so a wide range costs a wider
        // output row, not work). The range a model saved (largest group, or 64) filled at once on
        // homedepot: a tenth of the catalog added to a model trained without it met a leaf of 301 items.
        int longestGroup = codes.Count == 0 ? 0 : codes.Max(c => c[^1]) + 1;
        var sizes = tokenSizes.ToArray();
        sizes[^1] = Math.Max(sizes[^1], Math.Max(2 * longestGroup, 1024));
        return new UnifiedRetriever(model, features, new SidVocabulary(sizes), codes, ids, latents, options);
    }
}
