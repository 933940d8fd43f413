using System.Buffers;
using System.Globalization;
using System.Numerics.Tensors;
using GenSearch.Tensors.IO;
using GenSearch.Tensors.Kernels;

namespace GenSearch.Quantization;

/// <summary>RQ-KMeans parameters with defaults.</summary>
public sealed record ResidualKMeansOptions
{
    /// <summary>Levels L: codes per vector. Default 3.</summary>
    public int Levels { get; init; } = 3;

    /// <summary>Codes per level K. Default 256.</summary>
    public int Codes { get; init; } = 256;

    /// <summary>
    /// The k-means run at every level (its <see cref="KMeansOptions.Clusters"/> is replaced by <see cref="Codes"/> and its
    /// seed by <c>Seed + level</c>). Set <see cref="KMeansOptions.BalanceFactor"/> for balanced levels, which
    /// counters the middle-level concentration (the "Hourglass") at its source.
    /// </summary>
    public KMeansOptions KMeans { get; init; } = new();

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad field.</summary>
    public void Validate()
    {
        if (Levels < 1) throw new ArgumentException($"Levels must be at least 1 (got {Levels})");
        if (Codes < 1) throw new ArgumentException($"Codes must be at least 1 (got {Codes})");
        KMeans.Validate();
    }
}

/// <summary>
/// RQ-KMeans: L levels of K centroids, level l clustering what levels 0..l-1 left unexplained (the
/// residual). Encoding is greedy: nearest centroid of each level in turn, subtracting it. Decoding sums
/// the chosen centroids. Codebooks export as tensors <c>level{l}.codebook</c> [K, D].
/// </summary>
public sealed class ResidualKMeans : IQuantizer
{
    /// <summary>The <see cref="Method"/> name.</summary>
    public const string MethodName = "rqkmeans";

    private readonly KMeans[] _levels;

    /// <summary>An untrained RQ-KMeans over <paramref name="dimension"/>-wide vectors.</summary>
    public ResidualKMeans(int dimension, ResidualKMeansOptions? options = null)
    {
        Options = options ?? new ResidualKMeansOptions();
        Options.Validate();
        Dimension = dimension;
        _levels = new KMeans[Options.Levels];
        for (int l = 0; l < Options.Levels; l++)
            _levels[l] = new KMeans(dimension, Options.KMeans with { Clusters = Options.Codes, Seed = Options.KMeans.Seed + l });
        CodebookSizes = Enumerable.Repeat(Options.Codes, Options.Levels).ToArray();
    }

    /// <summary>The parameters.</summary>
    public ResidualKMeansOptions Options { get; }
    /// <inheritdoc/>
    public string Method => MethodName;
    /// <inheritdoc/>
    public int Dimension { get; }
    /// <inheritdoc/>
    public int Levels => Options.Levels;
    /// <inheritdoc/>
    public IReadOnlyList<int> CodebookSizes { get; }
    /// <inheritdoc/>
    public bool IsTrained => _levels.All(l => l.IsTrained);
    /// <summary>Level l's k-means (its centroids are the level's codebook).</summary>
    public KMeans Level(int l) => _levels[l];

    /// <inheritdoc/>
    public IReadOnlyList<TrainingStep> Train(float[] vectors, int count)
    {
        CheckShape(vectors, count);
        // Levels train on one sample, so that level l sees the residuals of the same points level l-1 fitted.
        var first = Options.KMeans;
        float[] residual = vectors;
        int n = count;
        long limit = first.MaxPointsPerCluster == 0 ? long.MaxValue : (long)Options.Codes * first.MaxPointsPerCluster;
        if (count > limit)
        {
            n = (int)limit;
            residual = SampleRows(vectors, count, n, Dimension, new Random(first.Seed));
        }
        else
        {
            residual = (float[])vectors.Clone();
        }
        var steps = new List<TrainingStep>();
        var codes = new int[n];
        for (int l = 0; l < Levels; l++)
        {
            steps.AddRange(_levels[l].Train(residual, n, l));
            if (l + 1 == Levels) break;
            // Residuals under the assignment the level trained with (capped when balanced).
            int cap = _levels[l].Options.CapFor(n);
            if (cap == int.MaxValue) _levels[l].Assign(residual, n, codes);
            else _levels[l].AssignBalanced(residual, n, cap, codes);
            SubtractCentroids(residual, n, codes, _levels[l].Centroids, Dimension);
        }
        return steps;
    }

    /// <summary>Greedy residual encoding, blocks of vectors in parallel on <see cref="KernelThreads.Count"/> threads.</summary>
    public void Encode(float[] vectors, int count, Span<int> codes)
    {
        EnsureTrained();
        CheckShape(vectors, count);
        if (codes.Length < (long)count * Levels) throw new ArgumentException($"codes need {count} x {Levels} ints");
        int d = Dimension, L = Levels, K = Options.Codes;
        const int rowsPerBlock = NearestCentroid.BlockRows;
        int blocks = (count + rowsPerBlock - 1) / rowsPerBlock;
        int threads = Math.Min(KernelThreads.Count, Math.Max(1, blocks));
        var output = new int[(long)count * L];
        var norms = _levels.Select(k => NearestCentroid.RowNorms(k.Centroids, K, d)).ToArray();
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            float[] scores = ArrayPool<float>.Shared.Rent(rowsPerBlock * K);
            float[] residual = ArrayPool<float>.Shared.Rent(rowsPerBlock * d);
            var levelCodes = new int[rowsPerBlock];
            try
            {
                for (int b = t; b < blocks; b += threads)
                {
                    int start = b * rowsPerBlock, rows = Math.Min(rowsPerBlock, count - start);
                    var block = residual.AsSpan(0, rows * d);
                    vectors.AsSpan(start * d, rows * d).CopyTo(block);
                    for (int l = 0; l < L; l++)
                    {
                        var centroids = _levels[l].Centroids;
                        NearestCentroid.AssignBlock(block, rows, d, centroids, K, norms[l], scores, levelCodes, default);
                        for (int i = 0; i < rows; i++)
                        {
                            output[(long)(start + i) * L + l] = levelCodes[i];
                            if (l + 1 < L)
                            {
                                var r = block.Slice(i * d, d);
                                TensorPrimitives.Subtract(r, centroids.AsSpan(levelCodes[i] * d, d), r);
                            }
                        }
                    }
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(scores);
                ArrayPool<float>.Shared.Return(residual);
            }
        });
        output.CopyTo(codes);
    }

    /// <inheritdoc/>
    public void Decode(ReadOnlySpan<int> codes, int count, Span<float> vectors)
    {
        EnsureTrained();
        int d = Dimension, L = Levels, K = Options.Codes;
        if (codes.Length < (long)count * L) throw new ArgumentException($"codes need {count} x {L} ints");
        if (vectors.Length < (long)count * d) throw new ArgumentException($"vectors need {count} x {d} floats");
        for (int i = 0; i < count; i++)
        {
            var v = vectors.Slice(i * d, d);
            v.Clear();
            for (int l = 0; l < L; l++)
            {
                int c = codes[i * L + l];
                if ((uint)c >= (uint)K) throw new ArgumentOutOfRangeException(nameof(codes), $"row {i} level {l}: code {c} is outside 0..{K - 1}");
                TensorPrimitives.Add(v, _levels[l].Centroids.AsSpan(c * d, d), v);
            }
        }
    }

    /// <summary>
    /// Capped encoding of a whole collection (a catalog being tokenized): level by level, each bucket takes at
    /// most <c>ceil(BalanceFactor * count / K)</c> vectors. Falls back to <see cref="Encode"/> when unbalanced.
    /// </summary>
    public void EncodeBalanced(float[] vectors, int count, Span<int> codes)
    {
        int cap = _levels[0].Options.CapFor(count);
        if (cap == int.MaxValue) { Encode(vectors, count, codes); return; }
        EnsureTrained();
        CheckShape(vectors, count);
        var residual = (float[])vectors.Clone();
        var levelCodes = new int[count];
        for (int l = 0; l < Levels; l++)
        {
            _levels[l].AssignBalanced(residual, count, cap, levelCodes);
            for (int i = 0; i < count; i++) codes[i * Levels + l] = levelCodes[i];
            if (l + 1 < Levels) SubtractCentroids(residual, count, levelCodes, _levels[l].Centroids, Dimension);
        }
    }

    /// <inheritdoc/>
    public (IReadOnlyList<SafeTensorEntry> Tensors, IReadOnlyDictionary<string, string> Metadata) Export()
    {
        EnsureTrained();
        var tensors = _levels.Select((k, l) => SafeTensorEntry.F32($"level{l}.codebook", [Options.Codes, Dimension], (float[])k.Centroids.Clone())).ToList();
        var meta = new Dictionary<string, string>
        {
            ["method"] = MethodName,
            ["levels"] = Levels.ToString(CultureInfo.InvariantCulture),
            ["codes"] = Options.Codes.ToString(CultureInfo.InvariantCulture),
            ["dimension"] = Dimension.ToString(CultureInfo.InvariantCulture),
            ["balance_factor"] = Options.KMeans.BalanceFactor.ToString(CultureInfo.InvariantCulture),
        };
        return (tensors, meta);
    }

    /// <summary>Rebuilds a trained RQ-KMeans from <see cref="Export"/>'s tensors (as loaded from a safetensors file).</summary>
    public static ResidualKMeans Import(SafeTensorsFile file)
    {
        var levels = new List<float[]>();
        long k = -1, d = -1;
        for (int l = 0; file.TryGet($"level{l}.codebook") is { } t; l++)
        {
            if (t.Shape.Length != 2) throw new InvalidDataException($"{file.Path}: tensor '{t.Name}' has shape [{string.Join(", ", t.Shape)}], expected [K, D]");
            if (l == 0) (k, d) = (t.Shape[0], t.Shape[1]);
            else if (t.Shape[0] != k || t.Shape[1] != d) throw new InvalidDataException($"{file.Path}: tensor '{t.Name}' is [{t.Shape[0]}, {t.Shape[1]}], level0 is [{k}, {d}]");
            levels.Add(t.AsF32());
        }
        if (levels.Count == 0) throw new InvalidDataException($"{file.Path}: no 'level0.codebook' tensor; not an RQ-KMeans file");
        double balance = file.Metadata.TryGetValue("balance_factor", out var b) ? double.Parse(b, CultureInfo.InvariantCulture) : 0;
        var rq = new ResidualKMeans((int)d, new ResidualKMeansOptions
        {
            Levels = levels.Count, Codes = (int)k, KMeans = new KMeansOptions { Clusters = (int)k, BalanceFactor = balance },
        });
        for (int l = 0; l < levels.Count; l++) rq._levels[l] = KMeans.FromCentroids(levels[l], (int)k, (int)d, rq._levels[l].Options);
        return rq;
    }

    private static void SubtractCentroids(float[] x, int n, int[] codes, float[] centroids, int d)
    {
        for (int i = 0; i < n; i++)
        {
            var r = x.AsSpan(i * d, d);
            TensorPrimitives.Subtract(r, centroids.AsSpan(codes[i] * d, d), r);
        }
    }

    private static float[] SampleRows(float[] x, int count, int n, int d, Random rng)
    {
        var index = new int[count];
        for (int i = 0; i < count; i++) index[i] = i;
        for (int i = 0; i < n; i++) { int j = rng.Next(i, count); (index[i], index[j]) = (index[j], index[i]); }
        Array.Sort(index, 0, n);
        var sample = new float[(long)n * d];
        for (int i = 0; i < n; i++) x.AsSpan(index[i] * d, d).CopyTo(sample.AsSpan(i * d, d));
        return sample;
    }

    private void CheckShape(float[] vectors, int count)
    {
        if (count < 0 || vectors.Length < (long)count * Dimension)
            throw new ArgumentException($"vectors hold {vectors.Length} floats, fewer than {count} x {Dimension}");
    }

    private void EnsureTrained()
    {
        if (!IsTrained) throw new InvalidOperationException("the quantizer is not trained: call Train or load a trained one first");
    }
}
