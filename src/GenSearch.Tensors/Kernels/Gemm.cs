namespace GenSearch.Tensors.Kernels;

/// <summary>
/// Single-precision matrix products, row-major, with either operand transposed. This file holds the
/// public contract; the packed, cache-blocked FMA implementation lives beside it.
/// </summary>
public static class Gemm
{
    /// <summary>C = alpha * op(A) * op(B) + beta * C, all row-major. op(A) is M x K, op(B) is K x N.
    /// With beta == 0, C is written without being read (it may hold garbage or NaN).</summary>
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
        => GemmReference.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    /// <summary>
    /// <paramref name="batch"/> independent products; matrix <c>t</c> of A starts at <c>t * strideA</c>,
    /// likewise for B and C. A stride of 0 shares one matrix across the batch. Small products
    /// (attention over a few tokens) are spread across threads by batch, not split inside.
    /// </summary>
    public static void SgemmBatched(bool transA, bool transB, int batch, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, long strideA, ReadOnlySpan<float> b, int ldb, long strideB,
        float beta, Span<float> c, int ldc, long strideC)
        => GemmReference.SgemmBatched(transA, transB, batch, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC);
}
