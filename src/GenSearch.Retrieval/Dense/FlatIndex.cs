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
/// <see cref="ExactSearchReference"/> is its slow, obvious twin.
/// </summary>
public sealed class FlatIndex : IVectorIndex
{
    /// <summary>Queries scored per matrix product.</summary>
    public const int QueryBlock = 64;

    /// <summary>Items scored per matrix product: a 64 x 2048 float block is 512 KiB, about an L2 cache.</summary>
    public const int ItemBlock = 2048;

    private float[] _data = [];   // [capacity, Dimension]
    private float[] _norms = [];  // [capacity]: ||x||^2, used by L2 only
    private int _count;

    /// <summary>An empty index of <paramref name="dimension"/>-long vectors scored by <paramref name="metric"/>.</summary>
    public FlatIndex(int dimension, VectorMetric metric = VectorMetric.InnerProduct)
    {
        if (dimension <= 0) throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "dimension must be at least 1");
        if (!Enum.IsDefined(metric)) throw new ArgumentOutOfRangeException(nameof(metric), metric, "unknown metric");
        Dimension = dimension;
        Metric = metric;
    }

    /// <inheritdoc/>
    public int Dimension { get; }

    /// <inheritdoc/>
    public int Count => _count;

    /// <inheritdoc/>
    public VectorMetric Metric { get; }

    /// <summary>The stored vectors, row-major [Count, Dimension] (unit length under <see cref="VectorMetric.Cosine"/>).</summary>
    public ReadOnlySpan<float> Vectors => _data.AsSpan(0, _count * Dimension);

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
            int capacity = (int)Math.Min(Math.Max(needed, 2L * _norms.Length), Array.MaxLength / Dimension);
            Array.Resize(ref _data, capacity * Dimension);
            Array.Resize(ref _norms, capacity);
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
    }

    /// <inheritdoc/>
    public VectorHit[][] Search(ReadOnlySpan<float> queries, int k)
    {
        VectorMath.CheckK(k);
        int n = VectorMath.CheckRows(queries, Dimension, nameof(queries));
        var result = new VectorHit[n][];
        if (n == 0) return result;
        int kk = Math.Min(k, _count);
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
        int itemBlocks = (_count + ItemBlock - 1) / ItemBlock;
        if (queryBlocks >= threads || itemBlocks < 2)
        {
            // Enough query blocks to go round: each thread owns whole queries, no merge needed.
            var top = new TopK(n, kk);
            KernelParallel.For(queryBlocks, 1, b =>
            {
                int first = b * QueryBlock, rows = Math.Min(QueryBlock, n - first);
                ScoreRange(q, first, rows, 0, _count, top);
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
            int start = startBlock * ItemBlock, end = Math.Min(_count, endBlock * ItemBlock);
            var top = new TopK(n, kk);
            for (int first = 0; first < n; first += QueryBlock)
                ScoreRange(q, first, Math.Min(QueryBlock, n - first), start, end, top);
            partial[p] = top;
        });
        for (int p = 1; p < parts; p++)
            for (int i = 0; i < n; i++) partial[0].Merge(i, partial[p]);
        for (int i = 0; i < n; i++) result[i] = partial[0].Sorted(i);
        return result;
    }

    /// <summary>
    /// Scores queries [first, first + rows) against items [start, end) a block at a time and offers
    /// every score to <paramref name="top"/> (rows indexed by query).
    /// </summary>
    private void ScoreRange(float[] q, int first, int rows, int start, int end, TopK top)
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
                    _data.AsSpan(itemStart * d, items * d), d, 0f, block, items);
                for (int r = 0; r < rows; r++)
                {
                    var scores = block.AsSpan(r * items, items);
                    if (Metric == VectorMetric.L2)
                    {
                        // -||q - x||^2 = 2 q.x - ||x||^2 - ||q||^2; rounding can leave a tiny positive value: clamp.
                        var qr = queryRows.Slice(r * d, d);
                        TensorPrimitives.Subtract(scores, _norms.AsSpan(itemStart, items), scores);
                        TensorPrimitives.Subtract(scores, TensorPrimitives.Dot(qr, qr), scores);
                        TensorPrimitives.Min(scores, 0f, scores);
                    }
                    top.PushRow(first + r, scores, itemStart);
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(block);
        }
    }

    /// <summary>Writes the index to <paramref name="path"/> (safetensors: "vectors" F32 [Count, Dimension], metric in the metadata).</summary>
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
