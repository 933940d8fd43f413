
namespace GenSearch.Retrieval.Dense;

/// <summary>
/// Puts a vector index behind <see cref="IRetriever"/>, so dense retrieval is scored by the same
/// evaluation code as BM25: queries are turned into vectors by <c>encodeQueries</c> (a query tower,
/// say), searched as one batch, and row ids mapped back to corpus ids. Ties follow the index's order
/// (lower row id first for <see cref="FlatIndex"/>). A query the encoder maps to the zero vector gets
/// no results.
/// <para>
/// A live catalog (<see cref="IUpdatableRetriever"/>) when built with an item encoder: an upsert
/// encodes the new items, appends their rows and removes the rows of the versions they replace; a
/// removal tombstones rows (<see cref="IVectorIndex.Remove"/>). A snapshot pairs a frozen
/// <see cref="VectorIndexView"/> with the row-to-id array, swapped through one volatile reference,
/// so a search maps exactly the rows of the catalog it started on. When more than
/// <see cref="CompactionThreshold"/> of the rows are removed the index is rebuilt without them
/// (<see cref="IVectorIndex.Compact"/>: a copy for <see cref="FlatIndex"/>, a full build for
/// <see cref="HnswIndex"/>), under the writer lock while searches go on over the old snapshot.
/// </para>
/// </summary>
public sealed class VectorRetriever : IUpdatableRetriever
{
    private readonly Func<IReadOnlyList<Query>, float[]> _encodeQueries;
    private readonly Func<IReadOnlyList<Document>, float[]>? _encodeItems;
    private readonly object _writeLock = new();
    private readonly Dictionary<string, int> _rowOf = new(StringComparer.Ordinal); // writers only, under the lock
    private IVectorIndex _index;   // writers only: the index the next change goes to
    private string[] _ids;         // row -> id; rows below a published view's are never rewritten
    private volatile Snapshot _snapshot;

    /// <summary>What a search reads: the index, its frozen view, and the id of each row.</summary>
    private sealed record Snapshot(IVectorIndex Index, VectorIndexView View, string[] Ids);

    /// <summary>
    /// A retriever over <paramref name="index"/>, whose row i is item <paramref name="ids"/>[i];
    /// <paramref name="encodeQueries"/> returns a row-major [queries, index.Dimension] matrix, and
    /// <paramref name="encodeItems"/>, when given, the same for items to upsert (without it,
    /// <see cref="Upsert"/> throws <see cref="NotSupportedException"/>). When an id appears on
    /// several rows, the last is the one an upsert or removal of that id replaces.
    /// </summary>
    public VectorRetriever(string name, IVectorIndex index, IReadOnlyList<string> ids, Func<IReadOnlyList<Query>, float[]> encodeQueries,
        Func<IReadOnlyList<Document>, float[]>? encodeItems = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (ids.Count != index.Count)
            throw new ArgumentException($"{ids.Count} ids for an index of {index.Count} vectors: row i needs id i", nameof(ids));
        Name = name;
        _index = index;
        _ids = [.. ids];
        for (int i = 0; i < _ids.Length; i++) if (!index.IsRemoved(i)) _rowOf[_ids[i]] = i;
        _encodeQueries = encodeQueries;
        _encodeItems = encodeItems;
        _snapshot = new Snapshot(index, index.View, _ids);
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public int Count => _snapshot.View.LiveCount;

    /// <summary>
    /// Share of removed rows above which a change rebuilds the index without them. Default 0.25:
    /// tombstones cost a little search time and memory each (an HNSW search still walks through them),
    /// and a rebuild costs a full build, so a quarter of the rows is where the waste is worth a build.
    /// </summary>
    public double CompactionThreshold { get; init; } = 0.25;

    /// <summary>The index searches use now (a new one after a compaction).</summary>
    public IVectorIndex Index => _snapshot.Index;

    /// <summary>Adds items, or replaces the item of the same id: encodes them with the item encoder and appends their rows.</summary>
    public CatalogChange Upsert(IReadOnlyList<Document> items)
    {
        if (_encodeItems is null)
            throw new NotSupportedException($"{Name}: this retriever was built without an item encoder, so it cannot encode items to upsert " +
                                            "(pass encodeItems to the constructor)");
        var batch = CatalogBatch.LastPerId(items, Name);
        if (batch.Count == 0) return default;
        float[] vectors = _encodeItems(batch); // outside the lock: encoding is the slow part
        lock (_writeLock)
        {
            var index = _index;
            if (vectors.Length != batch.Count * index.Dimension)
                throw new InvalidOperationException(
                    $"{Name}: the item encoder returned {vectors.Length} floats for {batch.Count} items of dimension {index.Dimension}");
            int first = index.Count;
            index.Add(vectors); // validates every row before changing anything
            var stale = new List<int>();
            var ids = _ids.Length >= first + batch.Count ? _ids : Grow(_ids, first + batch.Count);
            for (int j = 0; j < batch.Count; j++)
            {
                if (_rowOf.TryGetValue(batch[j].Id, out int old)) stale.Add(old);
                ids[first + j] = batch[j].Id;
                _rowOf[batch[j].Id] = first + j;
            }
            _ids = ids;
            index.Remove(stale.ToArray());
            Publish();
            return new CatalogChange(batch.Count - stale.Count, stale.Count, 0, 0);
        }
    }

    /// <summary>Removes items by id (tombstones their rows); unknown ids are counted.</summary>
    public CatalogChange Remove(IReadOnlyList<string> ids)
    {
        var batch = CatalogBatch.DistinctIds(ids);
        lock (_writeLock)
        {
            var rows = new List<int>();
            foreach (var id in batch)
                if (_rowOf.Remove(id, out int row)) rows.Add(row);
            if (rows.Count > 0)
            {
                _index.Remove(rows.ToArray());
                Publish();
            }
            return new CatalogChange(0, 0, rows.Count, ids.Count - rows.Count);
        }
    }

    /// <summary>Compacts when too much is removed, then publishes the index's view with the ids (under the lock).</summary>
    private void Publish()
    {
        var index = _index;
        if (index.RemovedCount > CompactionThreshold * index.Count)
        {
            var view = index.View;
            var compact = index.Compact();
            var ids = new string[Math.Max(16, compact.Count)];
            _rowOf.Clear();
            for (int row = 0, j = 0; row < view.Rows; row++)
            {
                if (view.IsRemoved(row)) continue;
                ids[j] = _ids[row];
                _rowOf[_ids[row]] = j++;
            }
            _index = index = compact;
            _ids = ids; // a new array: the old one stays with the old snapshot
        }
        _snapshot = new Snapshot(index, index.View, _ids);
    }

    private static string[] Grow(string[] ids, int needed)
    {
        var grown = new string[Math.Max(needed, 2 * ids.Length)];
        ids.CopyTo(grown, 0);
        return grown;
    }

    /// <inheritdoc/>
    public IReadOnlyList<SearchHit>[] Search(IReadOnlyList<Query> queries, int k)
    {
        var snapshot = _snapshot; // one catalog for the whole batch
        var index = snapshot.Index;
        float[] vectors = _encodeQueries(queries);
        if (vectors.Length != queries.Count * index.Dimension)
            throw new InvalidOperationException(
                $"{Name}: the query encoder returned {vectors.Length} floats for {queries.Count} queries of dimension {index.Dimension}");
        var hits = index.Search(vectors, k, snapshot.View);
        var result = new IReadOnlyList<SearchHit>[hits.Length];
        int dim = index.Dimension;
        for (int i = 0; i < hits.Length; i++)
            // A zero vector means the encoder knew nothing of the query (an n-gram tower that has seen
            // none of its features): every item would tie, so return nothing, as BM25 does.
            result[i] = vectors.AsSpan(i * dim, dim).ContainsAnyExcept(0f)
                ? Array.ConvertAll(hits[i], h => new SearchHit(snapshot.Ids[h.Id], h.Score)) : [];
        return result;
    }
}
