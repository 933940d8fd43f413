using System.Numerics.Tensors;
using GenSearch.Tensors.Kernels;

namespace GenSearch.Tensors;

public sealed partial class Tensor
{
    /// <summary>
    /// Matrix product op(a) * op(b) over the last two axes, op = transpose when the flag is set.
    /// a is [..., M, K] ([..., K, M] with <paramref name="transA"/>); b is [K, N] ([N, K] with
    /// <paramref name="transB"/>), shared across a's leading axes, or [..., K, N] with the same leading
    /// axes as a. A rank-2 a with a batched b is shared across b's batch.
    /// </summary>
    public static Tensor MatMul(Tensor a, Tensor b, bool transA = false, bool transB = false)
    {
        if (a.Rank < 2 || b.Rank < 2) Throw.Shape("MatMul", $"needs rank >= 2, got {a.ShapeString} and {b.ShapeString}");
        int m = transA ? a.Shape[^1] : a.Shape[^2], ka = transA ? a.Shape[^2] : a.Shape[^1];
        int kb = transB ? b.Shape[^1] : b.Shape[^2], n = transB ? b.Shape[^2] : b.Shape[^1];
        if (ka != kb) Throw.Shape("MatMul", $"inner extents differ: {a.ShapeString}{(transA ? "^T" : "")} x {b.ShapeString}{(transB ? "^T" : "")}");
        int k = ka;
        int[] batchA = a.Shape[..^2], batchB = b.Shape[..^2];
        int[] batchShape = batchA.Length > 0 ? batchA : batchB;
        if (batchA.Length > 0 && batchB.Length > 0 && !batchA.AsSpan().SequenceEqual(batchB))
            Throw.Shape("MatMul", $"batch extents differ: {a.ShapeString} and {b.ShapeString}");
        int batch = (int)ShapeSize(batchShape);
        long strideA = batchA.Length > 0 ? (long)m * k : 0, strideB = batchB.Length > 0 ? (long)k * n : 0;
        var result = Uninitialized([.. batchShape, m, n]);
        int lda = a.Shape[^1], ldb = b.Shape[^1];

        if (batchB.Length == 0 && !transA)
            Gemm.Sgemm(false, transB, batch * m, n, k, 1f, a.Data, lda, b.Data, ldb, 0f, result.Data, n); // one product over all rows
        else
            Gemm.SgemmBatched(transA, transB, batch, m, n, k, 1f, a.Data, lda, strideA, b.Data, ldb, strideB, 0f, result.Data, n, (long)m * n);

        if (!NeedsGrad(a, b)) return result;
        return Record(result, [a, b], output =>
        {
            var g = output.Grad!;
            if (a.RequiresGrad)
            {
                var ga = a.GradBuffer();
                // dA = dC op(B)^T, or stored transposed: dA^T = op(B) dC^T.
                if (!transA)
                    GemmAccumulate(false, !transB, m, k, n, g, n, (long)m * n, b.Data, ldb, strideB, ga, lda, strideA, batch);
                else
                    GemmAccumulate(transB, true, k, m, n, b.Data, ldb, strideB, g, n, (long)m * n, ga, lda, strideA, batch);
            }
            if (b.RequiresGrad)
            {
                var gb = b.GradBuffer();
                // dB = op(A)^T dC, or stored transposed: dB^T = dC^T op(A).
                if (!transB)
                    GemmAccumulate(!transA, false, k, n, m, a.Data, lda, strideA, g, n, (long)m * n, gb, ldb, strideB, batch);
                else
                    GemmAccumulate(true, transA, n, k, m, g, n, (long)m * n, a.Data, lda, strideA, gb, ldb, strideB, batch);
            }
        });
    }

    /// <summary>
    /// C += op(A) op(B) for each batch entry. A destination shared across the batch (stride 0) sums
    /// every entry's product into itself, which is the gradient of a broadcast operand.
    /// </summary>
    private static void GemmAccumulate(bool transA, bool transB, int m, int n, int k,
        float[] a, int lda, long strideA, float[] b, int ldb, long strideB, float[] c, int ldc, long strideC, int batch)
    {
        if (strideC == 0 && batch > 1)
        {
            // The shared operand's gradient is the sum of every batch entry's product, added one
            // entry at a time (beta = 1) so entries never race on the same destination.
            for (int t = 0; t < batch; t++)
                Gemm.Sgemm(transA, transB, m, n, k, 1f, a.AsSpan((int)(t * strideA)), lda, b.AsSpan((int)(t * strideB)), ldb, 1f, c, ldc);
            return;
        }
        Gemm.SgemmBatched(transA, transB, batch, m, n, k, 1f, a, lda, strideA, b, ldb, strideB, 1f, c, ldc, strideC);
    }

    /// <summary>
    /// A fully connected layer in one op: x [..., in] times weight [out, in] transposed, plus bias [out].
    /// The fused backward adds the weight's gradient straight into its buffer (dW += dY^T X).
    /// </summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias)
    {
        if (weight.Rank != 2 || x.Rank < 1 || x.Shape[^1] != weight.Shape[1])
            Throw.Shape("Linear", $"input {x.ShapeString} does not fit weight {weight.ShapeString} ([out, in])");
        int inDim = weight.Shape[1], outDim = weight.Shape[0];
        // Rows from the leading extents, not x.Size / inDim: with inDim 0 that is 0 and would leave the output unwritten.
        int rows = (int)ShapeSize(x.Shape.AsSpan(0, x.Rank - 1));
        if (bias is not null && (bias.Rank != 1 || bias.Shape[0] != outDim))
            Throw.Shape("Linear", $"bias {bias.ShapeString} does not fit {outDim} outputs");
        var result = Uninitialized([.. x.Shape[..^1], outDim]);
        var y = result.Data;
        if (bias is not null)
            Gemm.SgemmBias(false, true, rows, outDim, inDim, 1f, x.Data, inDim, weight.Data, inDim, 0f, y, outDim, bias.Data); // bias added in the kernel's epilogue
        else
            Gemm.Sgemm(false, true, rows, outDim, inDim, 1f, x.Data, inDim, weight.Data, inDim, 0f, y, outDim);
        Tensor[] inputs = bias is null ? [x, weight] : [x, weight, bias];
        if (!NeedsGrad(inputs)) return result;
        return Record(result, inputs, output =>
        {
            var g = output.Grad!;
            if (x.RequiresGrad)
            {
                // The first gradient into x is written (beta 0) into fresh storage, later ones added.
                float beta = x.Grad is null ? 0f : 1f;
                x.Grad ??= GradientPool.RentUninitialized(x.Size);
                Gemm.Sgemm(false, false, rows, inDim, outDim, 1f, g, outDim, weight.Data, inDim, beta, x.Grad, inDim);
            }
            if (weight.RequiresGrad)
                Gemm.Sgemm(true, false, outDim, inDim, rows, 1f, g, outDim, x.Data, inDim, 1f, weight.GradBuffer(), inDim);
            if (bias is not null && bias.RequiresGrad)
                AddColumnSums(g, rows, outDim, bias.GradBuffer());
        });
    }

    /// <summary>
    /// dst[j] += sum over rows of g[r, j] (a bias gradient), rows split across the kernel threads. Each
    /// range sums into its own buffer and the buffers are added in row order, so the result depends on
    /// the thread count but not on which thread finished first.
    /// </summary>
    internal static void AddColumnSums(float[] g, int rows, int cols, float[] dst)
    {
        int rowGrain = Math.Max(1, ElementwiseGrain / Math.Max(1, cols));
        var partials = new SortedList<int, float[]>();
        KernelParallel.ForRanges(rows, rowGrain, (first, last) =>
        {
            var sum = new float[cols];
            for (int r = first; r < last; r++) TensorPrimitives.Add(sum, g.AsSpan(r * cols, cols), sum);
            lock (partials) partials.Add(first, sum);
        });
        foreach (var sum in partials.Values) TensorPrimitives.Add(dst, sum, dst);
    }
}
