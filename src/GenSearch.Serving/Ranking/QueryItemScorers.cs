using GenSearch.Models.TwoTower;
using GenSearch.Retrieval;
using GenSearch.Retrieval.Generative;
using GenSearch.Text;

namespace GenSearch.Serving.Ranking;

/// <summary>
/// What a trained retrieval model says about given (query, item) pairs, for a ranker's features: the
/// model's dense similarity and, for a generative model, log P(item's ID | query).
/// </summary>
public interface IQueryItemScorer
{
    /// <summary>The model's kind, for messages.</summary>
    string Kind { get; }

    /// <summary>Whether <see cref="Score"/> gives ID log-probabilities (a generator), not only similarities.</summary>
    bool HasGenerator { get; }

    /// <summary>
    /// Dense similarity of the query with each item (<paramref name="items"/> gives an item's text when the
    /// model has no vector for it: a new item), and the ID log-probabilities when <see cref="HasGenerator"/>
    /// and <paramref name="idLogProbabilities"/> (NaN for an item without an ID); null otherwise.
    /// </summary>
    (float[] Similarity, float[]? IdLogProbability) Score(Query query, IReadOnlyList<string> ids, Func<string, Document?> items, bool idLogProbabilities = true);
}

/// <summary>A model format that can score given (query, item) pairs (n-gram towers, the unified model).</summary>
public interface IScorerFormat : IModelFormat
{
    /// <summary>Opens <paramref name="dir"/> as an <see cref="IQueryItemScorer"/>.</summary>
    IQueryItemScorer OpenScorer(ModelDirectory dir);
}

/// <summary>Opens a scorer from any model directory whose format can give one.</summary>
public static class QueryItemScorers
{
    /// <summary>The scorer of the model in <paramref name="path"/>; an error naming the directory when its kind cannot score pairs.</summary>
    public static IQueryItemScorer Open(string path)
    {
        var dir = new ModelDirectory(path);
        var format = ModelFormats.Get(ModelFormats.KindOf(dir), dir.ConfigPath);
        return format is IScorerFormat scorer ? scorer.OpenScorer(dir)
            : throw new InvalidDataException($"{dir.ConfigPath}: a {format.Kind} model gives no (query, item) scores; rankers read n-gram two-tower or unified models");
    }
}

/// <summary>The n-gram towers' cosine of the query and item vectors.</summary>
internal sealed class NgramTowerScorer(NgramTowerModel model, NgramVocabulary vocabulary, string[] ids, float[] vectors, int dim) : IQueryItemScorer
{
    private readonly Dictionary<string, int> _row = ids.Select((id, i) => (id, i)).ToDictionary(x => x.id, x => x.i, StringComparer.Ordinal);

    public string Kind => NgramTowerFormat.Name;
    public bool HasGenerator => false;

    public (float[] Similarity, float[]? IdLogProbability) Score(Query query, IReadOnlyList<string> ids, Func<string, Document?> items, bool idLogProbabilities = true)
    {
        var q = model.Encode(vocabulary, [query.Text]);
        var result = new float[ids.Count];
        for (int i = 0; i < ids.Count; i++)
        {
            if (_row.TryGetValue(ids[i], out int row))
                result[i] = System.Numerics.Tensors.TensorPrimitives.Dot(q, vectors.AsSpan(row * dim, dim));
            else if (items(ids[i]) is { } doc)
                result[i] = System.Numerics.Tensors.TensorPrimitives.Dot(q, model.Encode(vocabulary, [doc.TitleAndText]));
        }
        return (result, null);
    }
}

/// <summary>The unified model's sim(q, d) = 1 - ||q - d||^2 and log P(ID | q).</summary>
internal sealed class UnifiedScorer(UnifiedRetriever generator) : IQueryItemScorer
{
    public string Kind => UnifiedFormat.Name;
    public bool HasGenerator => true;

    public (float[] Similarity, float[]? IdLogProbability) Score(Query query, IReadOnlyList<string> ids, Func<string, Document?> items, bool idLogProbabilities = true)
    {
        var q = generator.EncodeQueries([query]);
        var sim = new float[ids.Count];
        for (int i = 0; i < ids.Count; i++)
            sim[i] = generator.Item(ids[i]) is { } item ? UnifiedRetriever.Similarity(q, item.Latent) : float.NaN;
        return (sim, idLogProbabilities ? generator.IdLogProbabilities(q, ids) : null);
    }
}
