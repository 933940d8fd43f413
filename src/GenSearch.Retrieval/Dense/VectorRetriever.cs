
namespace GenSearch.Retrieval.Dense;

/// <summary>
/// Puts a vector index behind <see cref="IRetriever"/>, so dense retrieval is scored by the same
/// evaluation code as BM25: queries are turned into vectors by <c>encodeQueries</c> (a query tower,
/// say), searched as one batch, and row ids mapped back to corpus ids. Ties follow the index's order
/// (lower row id first for <see cref="FlatIndex"/>). A query the encoder maps to the zero vector gets
/// no results.
/// </summary>
public sealed class VectorRetriever : IRetriever
{
    private readonly IVectorIndex _index;
    private readonly IReadOnlyList<string> _ids;
    private readonly Func<IReadOnlyList<Query>, float[]> _encodeQueries;

    /// <summary>
    /// A retriever over <paramref name="index"/>, whose row i is item <paramref name="ids"/>[i];
    /// <paramref name="encodeQueries"/> returns a row-major [queries, index.Dimension] matrix.
    /// </summary>
    public VectorRetriever(string name, IVectorIndex index, IReadOnlyList<string> ids, Func<IReadOnlyList<Query>, float[]> encodeQueries)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (ids.Count != index.Count)
            throw new ArgumentException($"{ids.Count} ids for an index of {index.Count} vectors: row i needs id i", nameof(ids));
        Name = name;
        _index = index;
        _ids = ids;
        _encodeQueries = encodeQueries;
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public int Count => _index.Count;

    /// <inheritdoc/>
    public IReadOnlyList<SearchHit>[] Search(IReadOnlyList<Query> queries, int k)
    {
        float[] vectors = _encodeQueries(queries);
        if (vectors.Length != queries.Count * _index.Dimension)
            throw new InvalidOperationException(
                $"{Name}: the query encoder returned {vectors.Length} floats for {queries.Count} queries of dimension {_index.Dimension}");
        var hits = _index.Search(vectors, k);
        var result = new IReadOnlyList<SearchHit>[hits.Length];
        int dim = _index.Dimension;
        for (int i = 0; i < hits.Length; i++)
            // A zero vector means the encoder knew nothing of the query (an n-gram tower that has seen
            // none of its features): every item would tie, so return nothing, as BM25 does.
            result[i] = vectors.AsSpan(i * dim, dim).ContainsAnyExcept(0f) ? Array.ConvertAll(hits[i], h => new SearchHit(_ids[h.Id], h.Score)) : [];
        return result;
    }
}
