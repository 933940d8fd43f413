using System.Text.Json.Nodes;
using GenSearch.Models.TwoTower;
using GenSearch.Nn;
using GenSearch.Retrieval;
using GenSearch.Retrieval.Dense;
using GenSearch.Tensors;
using GenSearch.Text;

namespace GenSearch.Serving;

/// <summary>What config.json of an n-gram two-tower model holds; <c>Training</c> is the settings it was trained with.</summary>
public sealed record NgramTowerModelConfig(string Kind, string Tower, NgramTowerConfig Model, JsonObject? Training);

/// <summary>
/// "two-tower": n-gram bag towers (<see cref="NgramTowerModel"/>) served as dense retrieval. The
/// directory holds <c>ngrams.txt</c> (the features; line n is table row n - 1), the table in
/// <c>model.safetensors</c>, and the catalog's vectors in <c>items.safetensors</c>.
/// </summary>
public sealed class NgramTowerFormat : IItemEncoderFormat, Ranking.IScorerFormat
{
    /// <summary>The kind in config.json.</summary>
    public const string Name = "two-tower";
    /// <summary>The "tower" config.json records for this kind.</summary>
    public const string Tower = "ngram";
    /// <summary>The feature list's file name.</summary>
    public const string FeaturesFile = "ngrams.txt";

    /// <inheritdoc/>
    public string Kind => Name;
    /// <inheritdoc/>
    public string Description => "two towers of n-gram bags (words, word pairs, character trigrams): dense retrieval";
    /// <inheritdoc/>
    public IReadOnlyList<string> Modes { get; } = ["dense"];

    /// <inheritdoc/>
    public IRetriever Open(ModelDirectory dir, ModelOpenOptions options)
    {
        var (model, vocabulary) = Model(dir);
        var (index, ids) = dir.VectorIndex(options.Hnsw);
        return new DenseRetriever(model, vocabulary, index, ids, ItemEncoder(model, vocabulary));
    }

    /// <inheritdoc/>
    public Func<IReadOnlyList<Document>, float[]> OpenItemEncoder(ModelDirectory dir)
    {
        var (model, vocabulary) = Model(dir);
        return ItemEncoder(model, vocabulary);
    }

    /// <inheritdoc/>
    public Ranking.IQueryItemScorer OpenScorer(ModelDirectory dir)
    {
        var (model, vocabulary) = Model(dir);
        var ids = dir.ItemIds();
        var (vectors, _, columns) = dir.ItemMatrix("vectors", ids.Length);
        return new Ranking.NgramTowerScorer(model, vocabulary, ids, vectors, columns);
    }

    /// <summary>The item tower as a function: catalog items to unit vectors, row-major [n, dim] (what a new item is indexed by).</summary>
    public static Func<IReadOnlyList<Document>, float[]> ItemEncoder(NgramTowerModel model, NgramVocabulary vocabulary)
        => docs => model.Encode(vocabulary, docs.Select(d => d.TitleAndText).ToList());

    /// <summary>The trained towers and their features, in evaluation mode.</summary>
    public static (NgramTowerModel Model, NgramVocabulary Vocabulary) Model(ModelDirectory dir)
    {
        var config = dir.ReadConfig<NgramTowerModelConfig>();
        if (config.Kind != Name || config.Tower != Tower)
            throw new InvalidDataException($"{dir.ConfigPath}: kind '{config.Kind}' tower '{config.Tower}', not an n-gram {Name} model");
        string features = Path.Combine(dir.Path, FeaturesFile);
        var vocabulary = NgramVocabulary.Load(features);
        if (vocabulary.Count != config.Model.Features)
            throw new InvalidDataException($"{features}: {vocabulary.Count} features, the model has {config.Model.Features} rows");
        var model = new NgramTowerModel(config.Model, new Rng(0));
        Checkpoint.LoadModel(dir.WeightsPath, model);
        model.Eval();
        return (model, vocabulary);
    }
}
