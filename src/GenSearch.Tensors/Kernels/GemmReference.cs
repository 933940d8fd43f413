namespace GenSearch.Tensors.Kernels;

/// <summary>
/// The slow, obvious twin of <see cref="Gemm"/>: a triple loop with a double accumulator. Tests hold
/// every fast kernel against it; nothing on a hot path calls it.
/// </summary>
public static class GemmReference
{
    /// <summary>C = alpha * op(A) * op(B) + beta * C, all row-major. op(A) is M x K, op(B) is K x N.</summary>
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double sum = 0;
                for (int p = 0; p < k; p++)
                {
                    float av = transA ? a[p * lda + i] : a[i * lda + p];
                    float bv = transB ? b[j * ldb + p] : b[p * ldb + j];
                    sum += (double)av * bv;
                }
                float prior = beta == 0f ? 0f : beta * c[i * ldc + j];
                c[i * ldc + j] = (float)(alpha * sum) + prior;
            }
        }
    }

    /// <summary>C = alpha * op(A) * op(B) + beta * C + bias, bias[j] added to every row's column j.</summary>
    public static void SgemmBias(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc, ReadOnlySpan<float> bias)
    {
        Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) c[i * ldc + j] += bias[j];
    }

    /// <summary>
    /// <paramref name="batch"/> independent products; matrix <c>t</c> of A starts at <c>t * strideA</c>,
    /// likewise for B and C. A stride of 0 shares one matrix across the batch.
    /// </summary>
    public static void SgemmBatched(bool transA, bool transB, int batch, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, long strideA, ReadOnlySpan<float> b, int ldb, long strideB,
        float beta, Span<float> c, int ldc, long strideC)
    {
        for (int t = 0; t < batch; t++)
        {
            Sgemm(transA, transB, m, n, k, alpha,
                a[(int)(t * strideA)..], lda, b[(int)(t * strideB)..], ldb, beta, c[(int)(t * strideC)..], ldc);
        }
    }
}
