using System.Buffers;
using System.Numerics.Tensors;
using GenSearch.Tensors.IO;
using GenSearch.Tensors.Kernels;

namespace GenSearch.Retrieval.Dense;

/// <summary>
/// Exact search (faiss <c>IndexFlat</c>): every query is scored against every item. Scores come a
/// block at a time from one matrix product, [queries in block] x [items in block], and each score
/// row feeds a bounded top-k heap, so memory stays at one <see cref="QueryBlock"/> x
/// <see cref="ItemBlock"/> score block per thread however large the catalog. Work is spread over
/// <see cref="KernelThreads.Count"/> threads by query blocks, or by item ranges when there are too
/// few queries to go round (results are merged per query; ties resolve to the lower row id either way).
/// <see cref="ExactSearchReference"/> is its slow, obvious twin. Removed rows score minus infinity
/// inside the block and are never returned. Rows are written once and never moved in place (a grown
/// array is a copy), and each Add or Remove publishes a new <see cref="VectorIndexView"/>, so searches
/// may run while one writer adds or removes.
/// </summary>
public sealed class FlatIndex : IVectorIndex
{
    /// <summary>Queries scored per matrix product.</summary>
    public const int QueryBlock = 64;

    /// <summary>Items scored per matrix product: a 64 x 2048 float block is 512 KiB, about an L2 cache.</summary>
    public const int ItemBlock = 2048;

    private float[] _data = [];   // [capacity, Dimension]
    private float[] _norms = [];  // [capacity]: ||x||^2, used by L2 only
    private int _count;           // rows written; the published view may lag behind while Add runs
    private volatile VectorIndexView _view;

    /// <summary>An empty index of <paramref name="dimension"/>-long vectors scored by <paramref name="metric"/>.</summary>
    public FlatIndex(int dimension, VectorMetric metric = VectorMetric.InnerProduct)
    {
        if (dimension <= 0) throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "dimension must be at least 1");
        if (!Enum.IsDefined(metric)) throw new ArgumentOutOfRangeException(nameof(metric), metric, "unknown metric");
        Dimension = dimension;
        Metric = metric;
        _view = new VectorIndexView(this, 0, null, 0);
    }

    /// <inheritdoc/>
    public int Dimension { get; }

    /// <inheritdoc/>
    public int Count => _view.Rows;

    /// <inheritdoc/>
    public int RemovedCount => _view.RemovedCount;

    /// <inheritdoc/>
    public VectorIndexView View => _view;

    /// <inheritdoc/>
    public bool IsRemoved(int id) => (uint)id < (uint)_view.Rows ? _view.IsRemoved(id)
        : throw new ArgumentOutOfRangeException(nameof(id), id, $"the index holds {_view.Rows} vectors");

    /// <inheritdoc/>
    public int Remove(ReadOnlySpan<int> ids)
    {
        var (view, removed) = _view.WithRemoved(ids);
        _view = view;
        return removed;
    }

    /// <inheritdoc/>
    public IVectorIndex Compact()
    {
        var view = _view;
        var copy = new FlatIndex(Dimension, Metric);
        var data = _data;
        for (int start = 0; start < view.Rows;)
        {
            while (start < view.Rows && view.IsRemoved(start)) start++;
            int end = start;
            while (end < view.Rows && !view.IsRemoved(end)) end++;
            if (end > start) copy.Append(data.AsSpan(start * Dimension, (end - start) * Dimension), end - start, normalise: false);
            start = end;
        }
        return copy;
    }

    /// <inheritdoc/>
    public VectorMetric Metric { get; }

    /// <summary>The stored vectors, row-major [Count, Dimension] (unit length under <see cref="VectorMetric.Cosine"/>).</summary>
    public ReadOnlySpan<float> Vectors => _data.AsSpan(0, _view.Rows * Dimension);

    /// <inheritdoc/>
    public void Add(ReadOnlySpan<float> vectors)
        => Append(vectors, VectorMath.CheckRows(vectors, Dimension, nameof(vectors)), normalise: Metric == VectorMetric.Cosine);

    private void Append(ReadOnlySpan<float> vectors, int rows, bool normalise)
    {
        if ((long)(_count + (long)rows) * Dimension > Array.MaxLength)
            throw new ArgumentException($"vectors: {_count} + {rows} rows of dimension {Dimension} do not fit in one array", nameof(vectors));
        int needed = _count + rows;
        if (needed > _norms.Length)
        {
            // New arrays are filled before they replace the old ones: a search still reading the old ones sees its rows.
            int capacity = (int)Math.Min(Math.Max(needed, 2L * _norms.Length), Array.MaxLength / Dimension);
            var data = new float[capacity * Dimension];
            var norms = new float[capacity];
            _data.AsSpan(0, _count * Dimension).CopyTo(data);
            _norms.AsSpan(0, _count).CopyTo(norms);
            _data = data;
            _norms = norms;
        }
        var target = _data.AsSpan(_count * Dimension, rows * Dimension);
        vectors.CopyTo(target);
        if (normalise) VectorMath.NormalizeRows(target, Dimension);
        for (int i = 0; i < rows; i++)
        {
            var row = target.Slice(i * Dimension, Dimension);
            _norms[_count + i] = TensorPrimitives.Dot(row, row);
        }
        _count = needed;
        var view = _view;
        _view = new VectorIndexView(this, needed, view.Removed, view.RemovedCount); // publishes the rows
    }

    /// <inheritdoc/>
    public VectorHit[][] Search(ReadOnlySpan<float> queries, int k) => Search(queries, k, _view);

    /// <inheritdoc/>
    public VectorHit[][] Search(ReadOnlySpan<float> queries, int k, VectorIndexView view)
    {
        VectorMath.CheckK(k);
        view.CheckOwner(this);
        int n = VectorMath.CheckRows(queries, Dimension, nameof(queries));
        var result = new VectorHit[n][];
        if (n == 0) return result;
        int kk = Math.Min(k, view.LiveCount);
        // The arrays are read after the view: they hold at least its rows (rows are never moved in place).
        var store = new Store(_data, _norms, view.Rows, view.Removed);
        if (kk == 0)
        {
            for (int i = 0; i < n; i++) result[i] = [];
            return result;
        }

        // A private copy: the workers capture it (a span cannot be), and cosine normalises it.
        float[] q = queries.ToArray();
        if (Metric == VectorMetric.Cosine) VectorMath.NormalizeRows(q, Dimension);

        int threads = KernelThreads.Count;
        int queryBlocks = (n + QueryBlock - 1) / QueryBlock;
        int itemBlocks = (store.Rows + ItemBlock - 1) / ItemBlock;
        if (queryBlocks >= threads || itemBlocks < 2)
        {
            // Enough query blocks to go round: each thread owns whole queries, no merge needed.
            var top = new TopK(n, kk);
            KernelParallel.For(queryBlocks, 1, b =>
            {
                int first = b * QueryBlock, rows = Math.Min(QueryBlock, n - first);
                ScoreRange(store, q, first, rows, 0, store.Rows, top);
            });
            for (int i = 0; i < n; i++) result[i] = top.Sorted(i);
            return result;
        }

        // Few queries, many items: each thread scans a range of whole item blocks for every query.
        int parts = Math.Min(threads, itemBlocks);
        var partial = new TopK[parts];
        KernelParallel.For(parts, 1, p =>
        {
            int startBlock = (int)((long)itemBlocks * p / parts), endBlock = (int)((long)itemBlocks * (p + 1) / parts);
            int start = startBlock * ItemBlock, end = Math.Min(store.Rows, endBlock * ItemBlock);
            var top = new TopK(n, kk);
            for (int first = 0; first < n; first += QueryBlock)
                ScoreRange(store, q, first, Math.Min(QueryBlock, n - first), start, end, top);
            partial[p] = top;
        });
        for (int p = 1; p < parts; p++)
            for (int i = 0; i < n; i++) partial[0].Merge(i, partial[p]);
        for (int i = 0; i < n; i++) result[i] = partial[0].Sorted(i);
        return result;
    }

    /// <summary>
    /// Scores queries [first, first + rows) against items [start, end) a block at a time and offers
    /// every score to <paramref name="top"/> (rows indexed by query). Removed items score minus
    /// infinity, so they never displace a live one and a search asks for at most the live count.
    /// </summary>
    private void ScoreRange(Store store, float[] q, int first, int rows, int start, int end, TopK top)
    {
        int d = Dimension;
        float[] block = ArrayPool<float>.Shared.Rent(QueryBlock * ItemBlock);
        try
        {
            var queryRows = q.AsSpan(first * d, rows * d);
            for (int itemStart = start; itemStart < end; itemStart += ItemBlock)
            {
                int items = Math.Min(ItemBlock, end - itemStart);
                // scores[rows, items] = Q[rows, d] * X[items, d]^T; under L2 2 q.x, finished per row below.
                float alpha = Metric == VectorMetric.L2 ? 2f : 1f;
                Gemm.Sgemm(false, true, rows, items, d, alpha, queryRows, d,
                    store.Data.AsSpan(itemStart * d, items * d), d, 0f, block, items);
                for (int r = 0; r < rows; r++)
                {
                    var scores = block.AsSpan(r * items, items);
                    if (Metric == VectorMetric.L2)
                    {
                        // -||q - x||^2 = 2 q.x - ||x||^2 - ||q||^2; rounding can leave a tiny positive value: clamp.
                        var qr = queryRows.Slice(r * d, d);
                        TensorPrimitives.Subtract(scores, store.Norms.AsSpan(itemStart, items), scores);
                        TensorPrimitives.Subtract(scores, TensorPrimitives.Dot(qr, qr), scores);
                        TensorPrimitives.Min(scores, 0f, scores);
                    }
                    if (store.Removed is { } removed)
                        for (int j = 0; j < items; j++)
                            if (RowBits.Get(removed, itemStart + j)) scores[j] = float.NegativeInfinity;
                    top.PushRow(first + r, scores, itemStart);
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(block);
        }
    }

    /// <summary>What one search reads: the arrays and the view's rows and removals.</summary>
    private readonly record struct Store(float[] Data, float[] Norms, int Rows, ulong[]? Removed);

    /// <summary>
    /// Writes the index to <paramref name="path"/> (safetensors: "vectors" F32 [Count, Dimension], metric in the metadata).
    /// Removed rows are written as live ones: <see cref="Compact"/> first to drop them.
    /// </summary>
    public void Save(string path)
    {
        var vectors = Vectors.ToArray();
        SafeTensors.Save(path, [SafeTensorEntry.F32("vectors", [_count, Dimension], vectors)],
            new Dictionary<string, string> { ["format"] = FormatName, ["metric"] = Metric.ToString() });
    }

    /// <summary>Reads an index written by <see cref="Save"/>; errors name the file.</summary>
    public static FlatIndex Load(string path)
    {
        var file = SafeTensors.Load(path);
        if (!file.Metadata.TryGetValue("format", out var format) || format != FormatName)
            throw new InvalidDataException($"{path}: not a flat index (metadata 'format' is '{format}', expected '{FormatName}')");
        if (!file.Metadata.TryGetValue("metric", out var metricName) || !Enum.TryParse<VectorMetric>(metricName, out var metric))
            throw new InvalidDataException($"{path}: metadata 'metric' is '{metricName}', not one of {string.Join(", ", Enum.GetNames<VectorMetric>())}");
        var entry = file["vectors"];
        if (entry.Shape.Length != 2 || entry.Shape[1] < 1)
            throw new InvalidDataException($"{path}: tensor 'vectors' has shape [{string.Join(", ", entry.Shape)}], expected [count, dimension]");
        var index = new FlatIndex((int)entry.Shape[1], metric);
        float[] vectors = entry.AsF32();
        int rows;
        try
        {
            rows = VectorMath.CheckRows(vectors, index.Dimension, "vectors");
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{path}: tensor {e.Message}", e);
        }
        // Stored vectors are already normalised under cosine: append them bit for bit.
        index.Append(vectors, rows, normalise: false);
        return index;
    }

    private const string FormatName = "gensearch-flat-index";
}
