
namespace GenSearch.Retrieval;

/// <summary>One retrieved item: its corpus id and the retriever's score (higher is better).</summary>
public readonly record struct SearchHit(string Id, float Score);

/// <summary>
/// Every retriever's search interface, batch-first like faiss's <c>Index::search</c>: a batch of
/// queries in, one ranked list of at most <c>k</c> hits per query out (best first, in query order).
/// <see cref="Query"/> carries the user and their context, so personalised and generative retrievers
/// (two-tower, beam search over semantic IDs) and fusions of retrievers fit the same evaluation code.
/// </summary>
public interface IRetriever
{
    /// <summary>A short name for reports and run-file tags, e.g. "bm25".</summary>
    string Name { get; }

    /// <summary>Number of items that can be retrieved.</summary>
    int Count { get; }

    /// <summary>
    /// Searches every query of the batch; result i answers query i and holds at most
    /// <paramref name="k"/> hits, best first (ties in a fixed, documented order).
    /// </summary>
    IReadOnlyList<SearchHit>[] Search(IReadOnlyList<Query> queries, int k);
}
