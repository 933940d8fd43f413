using System.Buffers;
using System.Numerics.Tensors;
using GenSearch.Tensors.Kernels;

namespace GenSearch.Quantization;

/// <summary>
/// Nearest-centroid assignment under a cap on bucket sizes, the step that makes k-means "balanced".
/// Greedy by regret: every point's <see cref="Candidates"/> nearest centroids come from one GEMM pass;
/// points are placed in order of how much they lose by missing their first choice (second-best minus
/// best distance, largest first), each into its nearest candidate with room, or, when all candidates
/// are full, into its nearest centroid with room by a full scan. Exact caps, near-nearest codes.
/// </summary>
public static class BalancedAssignment
{
    /// <summary>Nearest centroids remembered per point before falling back to a full scan.</summary>
    public const int Candidates = 8;

    /// <summary>
    /// Assigns <paramref name="count"/> points to <paramref name="k"/> centroids so that no centroid takes more
    /// than <paramref name="cap"/> points (cap x k must reach count). Writes codes and, when asked, squared distances.
    /// </summary>
    public static void Assign(float[] points, int count, int dim, float[] centroids, int k, float[] centroidNorms, int cap,
        Span<int> codes, Span<float> distances)
    {
        if ((long)cap * k < count) throw new ArgumentException($"a cap of {cap} points on {k} clusters cannot hold {count} points");
        int t = Math.Min(Candidates, k);
        var candCode = new int[(long)count * t];
        var candDist = new float[(long)count * t];
        TopCandidates(points, count, dim, centroids, k, centroidNorms, t, candCode, candDist);

        var regret = new float[count];
        var order = new int[count];
        for (int i = 0; i < count; i++)
        {
            order[i] = i;
            regret[i] = t > 1 ? candDist[(long)i * t + 1] - candDist[(long)i * t] : 0f;
        }
        // Largest regret first; ties by index keep the result deterministic.
        Array.Sort(order, (a, b) => regret[b] != regret[a] ? regret[b].CompareTo(regret[a]) : a.CompareTo(b));

        var load = new int[k];
        for (int o = 0; o < count; o++)
        {
            int i = order[o];
            int code = -1;
            float best = 0;
            for (int j = 0; j < t; j++)
            {
                int c = candCode[(long)i * t + j];
                if (load[c] < cap) { code = c; best = candDist[(long)i * t + j]; break; }
            }
            if (code < 0) (code, best) = NearestWithRoom(points.AsSpan(i * dim, dim), centroids, k, dim, load, cap);
            load[code]++;
            codes[i] = code;
            if (!distances.IsEmpty) distances[i] = Math.Max(0f, best);
        }
    }

    private static (int Code, float Distance) NearestWithRoom(ReadOnlySpan<float> x, float[] centroids, int k, int dim, int[] load, int cap)
    {
        int arg = -1;
        float best = float.PositiveInfinity;
        for (int c = 0; c < k; c++)
        {
            if (load[c] >= cap) continue;
            float dist = TensorPrimitives.Distance(x, centroids.AsSpan(c * dim, dim));
            dist *= dist;
            if (dist < best) { best = dist; arg = c; }
        }
        return (arg, best);
    }

    /// <summary>The <paramref name="t"/> nearest centroids of every point, sorted nearest first, with squared distances.</summary>
    private static void TopCandidates(float[] points, int count, int dim, float[] centroids, int k, float[] norms, int t,
        int[] candCode, float[] candDist)
    {
        const int rowsPerBlock = NearestCentroid.BlockRows;
        int blocks = (count + rowsPerBlock - 1) / rowsPerBlock;
        int threads = Math.Min(KernelThreads.Count, Math.Max(1, blocks));
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, th =>
        {
            float[] scores = ArrayPool<float>.Shared.Rent(rowsPerBlock * k);
            try
            {
                for (int b = th; b < blocks; b += threads)
                {
                    int start = b * rowsPerBlock, rows = Math.Min(rowsPerBlock, count - start);
                    var block = points.AsSpan(start * dim, rows * dim);
                    Gemm.Sgemm(false, true, rows, k, dim, -2f, block, dim, centroids, dim, 0f, scores, k);
                    for (int r = 0; r < rows; r++)
                    {
                        var row = scores.AsSpan(r * k, k);
                        TensorPrimitives.Add(row, norms, row);
                        float xx = TensorPrimitives.Dot(block.Slice(r * dim, dim), block.Slice(r * dim, dim));
                        var codes = candCode.AsSpan((int)((long)(start + r) * t), t);
                        var dists = candDist.AsSpan((int)((long)(start + r) * t), t);
                        int filled = 0;
                        for (int c = 0; c < k; c++)
                        {
                            float s = row[c];
                            if (filled == t && s >= dists[t - 1]) continue;
                            // Insertion into the sorted top-t list.
                            int pos = filled < t ? filled++ : t - 1;
                            while (pos > 0 && dists[pos - 1] > s) { dists[pos] = dists[pos - 1]; codes[pos] = codes[pos - 1]; pos--; }
                            dists[pos] = s; codes[pos] = c;
                        }
                        for (int j = 0; j < t; j++) dists[j] += xx;
                    }
                }
            }
            finally { ArrayPool<float>.Shared.Return(scores); }
        });
    }
}
