using System.Text.Json.Nodes;
using GenSearch.Models.TwoTower;
using GenSearch.Nn;
using GenSearch.Retrieval;
using GenSearch.Retrieval.Dense;
using GenSearch.Tensors;

namespace GenSearch.Serving;

/// <summary>What config.json of a subword-transformer two-tower model holds.</summary>
public sealed record TransformerTowerModelConfig(string Kind, TwoTowerConfig Model, int MaxQueryTokens, int MaxItemTokens, JsonObject? Training);

/// <summary>
/// "two-tower-transformer": subword-transformer towers (<see cref="TwoTowerModel"/>) served as dense
/// retrieval; the directory holds <c>tokenizer.txt</c>, the weights and the catalog's vectors.
/// </summary>
public sealed class TransformerTowerFormat : IItemEncoderFormat
{
    /// <summary>The kind in config.json.</summary>
    public const string Name = "two-tower-transformer";

    /// <inheritdoc/>
    public string Kind => Name;
    /// <inheritdoc/>
    public string Description => "two subword-transformer towers: dense retrieval";
    /// <inheritdoc/>
    public IReadOnlyList<string> Modes { get; } = ["dense"];

    /// <inheritdoc/>
    public IRetriever Open(ModelDirectory dir, ModelOpenOptions options)
    {
        var (model, config) = Model(dir);
        var (index, ids) = dir.VectorIndex(options.Hnsw);
        return new DenseRetriever(model, dir.Tokenizer(), index, ids, config.MaxQueryTokens, ItemEncoder(dir, model, config));
    }

    /// <inheritdoc/>
    public Func<IReadOnlyList<Document>, float[]> OpenItemEncoder(ModelDirectory dir)
    {
        var (model, config) = Model(dir);
        return ItemEncoder(dir, model, config);
    }

    private static Func<IReadOnlyList<Document>, float[]> ItemEncoder(ModelDirectory dir, TwoTowerModel model, TransformerTowerModelConfig config)
    {
        var tokenizer = dir.Tokenizer();
        return docs => model.ItemTower.Encode(tokenizer, docs.Select(d => d.TitleAndText).ToList(), config.MaxItemTokens);
    }

    /// <summary>The trained towers, in evaluation mode, with the directory's config.</summary>
    public static (TwoTowerModel Model, TransformerTowerModelConfig Config) Model(ModelDirectory dir)
    {
        var config = dir.ReadConfig<TransformerTowerModelConfig>();
        // Directories written before this kind had a name of its own say "two-tower" (with no tower).
        if (ModelFormats.KindOf(dir) != Name) throw new InvalidDataException($"{dir.ConfigPath}: kind '{config.Kind}', not a {Name} model");
        var model = new TwoTowerModel(config.Model, new Rng(0));
        Checkpoint.LoadModel(dir.WeightsPath, model);
        model.Eval();
        return (model, config);
    }
}
