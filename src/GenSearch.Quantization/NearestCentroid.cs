using System.Buffers;
using System.Numerics.Tensors;
using GenSearch.Tensors.Kernels;

namespace GenSearch.Quantization;

/// <summary>
/// Nearest-centroid search, the hot loop of k-means and of encoding. Squared distances come from
/// ||x||^2 - 2 x.c + ||c||^2, so the work is one GEMM per block of points against all centroids
/// (<see cref="Gemm.Sgemm"/>) plus a row-wise argmin; <see cref="AssignReference"/> is its slow twin.
/// </summary>
public static class NearestCentroid
{
    /// <summary>Points per GEMM block: 256 rows x K floats of scores stay in L2 for K up to ~1024.</summary>
    internal const int BlockRows = 256;

    /// <summary>Squared norms of the rows of a row-major <paramref name="rows"/> x <paramref name="dim"/> matrix.</summary>
    public static float[] RowNorms(ReadOnlySpan<float> matrix, int rows, int dim)
    {
        var norms = new float[rows];
        for (int i = 0; i < rows; i++)
        {
            var r = matrix.Slice(i * dim, dim);
            norms[i] = TensorPrimitives.Dot(r, r);
        }
        return norms;
    }

    /// <summary>
    /// For each of the <paramref name="count"/> points in <paramref name="points"/> (row-major, <paramref name="dim"/> wide)
    /// writes the index of the nearest of the <paramref name="k"/> <paramref name="centroids"/> to <paramref name="codes"/>
    /// and, when <paramref name="distances"/> is not empty, the squared distance (clamped at 0).
    /// <paramref name="centroidNorms"/> are <see cref="RowNorms"/> of the centroids. Ties go to the lower index.
    /// Uses <see cref="KernelThreads.Count"/> threads over blocks of points.
    /// </summary>
    public static void Assign(float[] points, int count, int dim, float[] centroids, int k, float[] centroidNorms,
        Span<int> codes, Span<float> distances)
    {
        if (codes.Length < count) throw new ArgumentException("codes is shorter than the number of points", nameof(codes));
        bool wantDistances = !distances.IsEmpty;
        if (wantDistances && distances.Length < count) throw new ArgumentException("distances is shorter than the number of points", nameof(distances));
        int blocks = (count + BlockRows - 1) / BlockRows;
        int threads = Math.Max(1, Math.Min(KernelThreads.Count, blocks));
        // Spans cannot cross into the lambda; pinned arrays would, but copying out per block is cheap.
        var codeOut = new int[count];
        var distOut = wantDistances ? new float[count] : null;
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            float[] scores = ArrayPool<float>.Shared.Rent(BlockRows * k);
            try
            {
                for (int b = t; b < blocks; b += threads)
                {
                    int start = b * BlockRows, rows = Math.Min(BlockRows, count - start);
                    AssignBlock(points.AsSpan(start * dim, rows * dim), rows, dim, centroids, k, centroidNorms, scores,
                        codeOut.AsSpan(start, rows), distOut is null ? default : distOut.AsSpan(start, rows));
                }
            }
            finally { ArrayPool<float>.Shared.Return(scores); }
        });
        codeOut.CopyTo(codes);
        distOut?.CopyTo(distances);
    }

    /// <summary>One block: scores = -2 X C^T by GEMM, then + ||c||^2 and argmin per row.</summary>
    internal static void AssignBlock(ReadOnlySpan<float> block, int rows, int dim, float[] centroids, int k, float[] centroidNorms,
        float[] scores, Span<int> codes, Span<float> distances)
    {
        Gemm.Sgemm(false, true, rows, k, dim, -2f, block, dim, centroids, dim, 0f, scores, k);
        for (int i = 0; i < rows; i++)
        {
            var row = scores.AsSpan(i * k, k);
            TensorPrimitives.Add(row, centroidNorms, row);
            int best = TensorPrimitives.IndexOfMin(row);
            codes[i] = best;
            if (!distances.IsEmpty)
            {
                var x = block.Slice(i * dim, dim);
                distances[i] = Math.Max(0f, row[best] + TensorPrimitives.Dot(x, x));
            }
        }
    }

    /// <summary>The slow, obvious twin of <see cref="Assign"/>: every distance in double, one point at a time.</summary>
    public static void AssignReference(ReadOnlySpan<float> points, int count, int dim, ReadOnlySpan<float> centroids, int k,
        Span<int> codes, Span<float> distances)
    {
        for (int i = 0; i < count; i++)
        {
            double best = double.PositiveInfinity;
            int arg = 0;
            for (int c = 0; c < k; c++)
            {
                double d = 0;
                for (int j = 0; j < dim; j++)
                {
                    double diff = (double)points[i * dim + j] - centroids[c * dim + j];
                    d += diff * diff;
                }
                if (d < best) { best = d; arg = c; }
            }
            codes[i] = arg;
            if (!distances.IsEmpty) distances[i] = (float)best;
        }
    }
}
