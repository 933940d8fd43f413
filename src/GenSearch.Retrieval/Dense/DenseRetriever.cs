using GenSearch.Models;
using GenSearch.Models.TwoTower;
using GenSearch.Tensors;
using GenSearch.Text;

namespace GenSearch.Retrieval.Dense;

/// <summary>
/// Dense retrieval: the query tower's vector searched against the item tower's vectors of the whole
/// catalog in a vector index (exact by default; HNSW for large catalogs). Scores are cosines.
/// A live catalog through <see cref="VectorRetriever"/> when given an item encoder (the item tower):
/// without one, <see cref="Upsert"/> throws <see cref="NotSupportedException"/>.
/// </summary>
public sealed class DenseRetriever : IUpdatableRetriever
{
    private readonly VectorRetriever _search;

    /// <summary>
    /// A retriever over <paramref name="index"/>, whose row i is item <paramref name="itemIds"/>[i];
    /// <paramref name="encodeItems"/> (row-major [items, dimension], as the index was built) enables upserts.
    /// </summary>
    public DenseRetriever(TwoTowerModel model, WordPieceTokenizer tokenizer, IVectorIndex index, string[] itemIds, int maxQueryTokens = 16,
        Func<IReadOnlyList<Document>, float[]>? encodeItems = null)
        => _search = new VectorRetriever("dense", index, itemIds,
            queries => model.QueryTower.Encode(tokenizer, queries.Select(q => q.Text).ToList(), maxQueryTokens), encodeItems);

    /// <summary>A retriever over <paramref name="index"/> whose queries are embedded by an n-gram tower; <paramref name="encodeItems"/> enables upserts.</summary>
    public DenseRetriever(NgramTowerModel model, NgramVocabulary vocabulary, IVectorIndex index, string[] itemIds,
        Func<IReadOnlyList<Document>, float[]>? encodeItems = null)
        => _search = new VectorRetriever("dense", index, itemIds, queries => model.Encode(vocabulary, queries.Select(q => q.Text).ToList()), encodeItems);

    /// <inheritdoc/>
    public string Name => _search.Name;

    /// <inheritdoc/>
    public int Count => _search.Count;

    /// <inheritdoc/>
    public IReadOnlyList<SearchHit>[] Search(IReadOnlyList<Query> queries, int k) => _search.Search(queries, k);

    /// <inheritdoc/>
    public CatalogChange Upsert(IReadOnlyList<Document> items) => _search.Upsert(items);

    /// <inheritdoc/>
    public CatalogChange Remove(IReadOnlyList<string> ids) => _search.Remove(ids);
}
