namespace GenSearch.Retrieval.Dense;

/// <summary>How a vector index scores a query against an item. Every score is "higher is better".</summary>
public enum VectorMetric
{
    /// <summary>The dot product q . x (faiss METRIC_INNER_PRODUCT).</summary>
    InnerProduct,

    /// <summary>
    /// Cosine similarity: items are normalised to unit length when added and queries when searched,
    /// then scored by dot product. A zero vector stays zero and scores 0 against everything.
    /// </summary>
    Cosine,

    /// <summary>
    /// Negated squared Euclidean distance, -||q - x||^2, so that the nearest item scores highest
    /// (faiss METRIC_L2 reports the distance itself; negate the score to get it).
    /// </summary>
    L2,
}

/// <summary>One search result: the item's row id (its position in insertion order) and its score.</summary>
public readonly record struct VectorHit(int Id, float Score);

/// <summary>
/// A searchable set of float32 vectors, batch-first like faiss's <c>Index</c>: vectors are added as a
/// row-major [n, Dimension] matrix and take the row ids Count .. Count + n - 1; a search takes a
/// row-major [n, Dimension] block of queries and answers each with its best <c>k</c> items.
/// Adding and searching at the same time is not supported; several searches may run at once.
/// </summary>
public interface IVectorIndex
{
    /// <summary>Length of every vector.</summary>
    int Dimension { get; }

    /// <summary>Number of vectors added so far.</summary>
    int Count { get; }

    /// <summary>How queries are scored against items.</summary>
    VectorMetric Metric { get; }

    /// <summary>
    /// Appends the rows of <paramref name="vectors"/> (row-major, a multiple of <see cref="Dimension"/>
    /// long, every value finite). Throws <see cref="ArgumentException"/> naming the first bad row.
    /// </summary>
    void Add(ReadOnlySpan<float> vectors);

    /// <summary>
    /// Searches every row of <paramref name="queries"/> (row-major [n, Dimension]). Result i answers
    /// query i with min(k, Count) hits, best first; equal scores are ordered by lower row id first
    /// (exact search; an approximate index documents its own guarantees). Throws
    /// <see cref="ArgumentOutOfRangeException"/> for k &lt;= 0 and <see cref="ArgumentException"/> when the
    /// length is not a multiple of <see cref="Dimension"/> or a value is not finite.
    /// </summary>
    VectorHit[][] Search(ReadOnlySpan<float> queries, int k);
}
