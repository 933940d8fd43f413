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
/// <para>
/// Rows can be removed (tombstones): a removed row keeps its id and still counts in <see cref="Count"/>,
/// but no search returns it; <see cref="Compact"/> builds a copy without them. One writer at a
/// time (Add, Remove); searches may run during a write and see the rows and removals of a
/// <see cref="VectorIndexView"/> published before they started: <see cref="View"/> freezes the
/// current one, and <c>Search(queries, k, view)</c> searches exactly its rows later, however many
/// were added or removed since.
/// </para>
/// </summary>
public interface IVectorIndex
{
    /// <summary>Length of every vector.</summary>
    int Dimension { get; }

    /// <summary>Number of vectors added so far (removed rows included: row ids are never reused).</summary>
    int Count { get; }

    /// <summary>Rows removed so far.</summary>
    int RemovedCount { get; }

    /// <summary>The rows and removals as they stand now, frozen; searching this view later ignores every change since.</summary>
    VectorIndexView View { get; }

    /// <summary>Whether row <paramref name="id"/> has been removed.</summary>
    bool IsRemoved(int id);

    /// <summary>
    /// Removes rows: searches stop returning them (an approximate index may still walk through them).
    /// Returns how many were removed now (rows already removed count 0); a row id outside 0..Count-1 throws
    /// <see cref="ArgumentOutOfRangeException"/> before anything changes.
    /// </summary>
    int Remove(ReadOnlySpan<int> ids);

    /// <summary>
    /// A new index of the same kind and options holding the rows not removed, in order: the j-th
    /// remaining row becomes row j. This index is left as it is.
    /// </summary>
    IVectorIndex Compact();

    /// <summary>How queries are scored against items.</summary>
    VectorMetric Metric { get; }

    /// <summary>
    /// Appends the rows of <paramref name="vectors"/> (row-major, a multiple of <see cref="Dimension"/>
    /// long, every value finite). Throws <see cref="ArgumentException"/> naming the first bad row.
    /// </summary>
    void Add(ReadOnlySpan<float> vectors);

    /// <summary>
    /// Searches every row of <paramref name="queries"/> (row-major [n, Dimension]) over the current
    /// <see cref="View"/>. Result i answers query i with min(k, Count - RemovedCount) hits, best first; equal scores are ordered by lower row id first
    /// (exact search; an approximate index documents its own guarantees). Throws
    /// <see cref="ArgumentOutOfRangeException"/> for k &lt;= 0 and <see cref="ArgumentException"/> when the
    /// length is not a multiple of <see cref="Dimension"/> or a value is not finite.
    /// </summary>
    VectorHit[][] Search(ReadOnlySpan<float> queries, int k);

    /// <summary>As <see cref="Search(ReadOnlySpan{float}, int)"/>, over the rows and removals of <paramref name="view"/> (taken from this index).</summary>
    VectorHit[][] Search(ReadOnlySpan<float> queries, int k, VectorIndexView view);
}

/// <summary>
/// An index's rows and removals at one moment, frozen: the first <see cref="Rows"/> rows, minus the
/// removed ones. Row data never changes once added, so a search over a view sees exactly that set
/// while the index grows.
/// </summary>
public sealed class VectorIndexView
{
    internal VectorIndexView(IVectorIndex owner, int rows, ulong[]? removed, int removedCount, int entry = -1, int maxLevel = -1)
    {
        Owner = owner; Rows = rows; Removed = removed; RemovedCount = removedCount; Entry = entry; MaxLevel = maxLevel;
    }

    internal IVectorIndex Owner { get; }
    internal ulong[]? Removed { get; }
    /// <summary>HNSW: the entry point and top layer of the graph at this moment.</summary>
    internal int Entry { get; }
    internal int MaxLevel { get; }

    /// <summary>Rows added up to this view (removed ones included).</summary>
    public int Rows { get; }

    /// <summary>Rows removed up to this view.</summary>
    public int RemovedCount { get; }

    /// <summary>Rows a search over this view can return.</summary>
    public int LiveCount => Rows - RemovedCount;

    /// <summary>Whether row <paramref name="id"/> is removed in this view.</summary>
    public bool IsRemoved(int id) => RowBits.Get(Removed, id);

    internal void CheckOwner(IVectorIndex index)
    {
        if (!ReferenceEquals(Owner, index)) throw new ArgumentException("the view was taken from another index", "view");
    }

    /// <summary>The view after removing <paramref name="ids"/> (checked against <see cref="Rows"/>), and how many were newly removed.</summary>
    internal (VectorIndexView View, int Removed) WithRemoved(ReadOnlySpan<int> ids)
    {
        foreach (int id in ids)
            if ((uint)id >= (uint)Rows) throw new ArgumentOutOfRangeException(nameof(ids), id, $"the index holds {Rows} vectors");
        ulong[]? bits = null;
        int count = 0;
        foreach (int id in ids)
        {
            if (RowBits.Get(bits ?? Removed, id)) continue;
            bits ??= RowBits.CopyFor(Removed, Rows);
            RowBits.Set(bits, id);
            count++;
        }
        return count == 0 ? (this, 0) : (new VectorIndexView(Owner, Rows, bits, RemovedCount + count, Entry, MaxLevel), count);
    }
}
