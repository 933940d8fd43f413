using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GenSearch.Tensors.Kernels;

/// <summary>
/// Products with few rows against a transposed B, C = alpha * A * B^T + beta * C with A [M, K] and
/// B [N, K] both row-major: a linear layer applied to a handful of vectors (beam-search decoding
/// runs 1 to 64 rows through weights stored [out, in]). Every element of C is a dot product of two
/// contiguous rows, so nothing is packed: the packed path would copy and transpose all of B for each
/// call, which costs about a fifth as much as the arithmetic at 50 rows and as much as it at 1 row.
/// A 3 x 4 block of C keeps twelve ymm accumulators (plus three A vectors and one B vector: 16
/// registers); the four B rows stay in L1 while the A rows stream past them.
/// </summary>
[SkipLocalsInit]
internal static unsafe class GemmRowDot
{
    /// <summary>Most rows of A this path takes: beyond it the packed kernel's reuse wins.</summary>
    public const int MaxM = 64;

    /// <summary>Shallowest product this path takes: below one vector of depth the dot products are all tail.</summary>
    public const int MinK = 16;

    /// <summary>Per-thread buffer for the interleaved rows of A, pinned; it only grows.</summary>
    [ThreadStatic] private static float[]? t_packA;

    /// <summary>Whether a product of this shape and layout takes this path.</summary>
    public static bool Fits(bool transA, bool transB, int m, int k) =>
        GemmMicroKernel.HasFma && !transA && transB && m <= MaxM && k >= MinK;

    /// <summary>C = alpha * A * B^T + beta * C on the calling thread; beta == 0 writes C without reading it. m, n &gt; 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int m, int n, int k, float alpha, float* a, nint lda, float* b, nint ldb, float beta, float* c, nint ldc)
    {
        if (alpha == 0f)
        {
            GemmPacked.ScaleC(m, n, beta, c, ldc);
            return;
        }
        // Depth is taken KC steps at a time (later chunks add into C), so that the A rows of one chunk
        // (64 x 256 floats at most, 64 KB) stay close in L2 while every block of B rows sweeps them.
        // Rows of A are interleaved three at a time, 8 steps of each row side by side, so that a block
        // reads A as one stream: rows lda apart (4 KB for k = 1024) would all fall in the same L1 sets
        // as the B rows and evict one another. Copying A costs m * k moves against m * n * k FMAs.
        int n4 = n & ~3, m3 = m / 3 * 3;
        float* pack = GemmPacked.Buffer(ref t_packA, m3 * GemmPacked.KC + 1);
        for (int pc = 0; pc < k; pc += GemmPacked.KC)
        {
            int kc = Math.Min(GemmPacked.KC, k - pc), k8 = kc & ~7;
            float betaChunk = pc == 0 ? beta : 1f;
            for (int i = 0; i < m3; i += 3)
            {
                float* dst = pack + i * k8;
                for (int r = 0; r < 3; r++)
                {
                    float* src = a + (i + r) * lda + pc;
                    for (int p = 0; p < k8; p += 8) Avx.Store(dst + 3 * p + 8 * r, Avx.LoadVector256(src + p));
                }
            }
            for (int j = 0; j < n4; j += 4)
            {
                float* bj = b + j * ldb + pc;
                int i = 0;
                for (; i < m3; i += 3)
                    Block3x4(kc, pack + i * k8, a + i * lda + pc, lda, bj, ldb, c + i * ldc + j, ldc, alpha, betaChunk);
                for (; i < m; i++)
                    Block1x4(kc, a + i * lda + pc, bj, ldb, c + i * ldc + j, alpha, betaChunk);
            }
        }
        for (int j = n4; j < n; j++)
            for (int i = 0; i < m; i++)
            {
                float dot = Dot(k, a + i * lda, b + j * ldb);
                float* cij = c + i * ldc + j;
                *cij = beta == 0f ? alpha * dot : alpha * dot + beta * *cij;
            }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block3x4(int k, float* ap, float* a0, nint lda, float* b0, nint ldb, float* c, nint ldc, float alpha, float beta)
    {
        float* a1 = a0 + lda, a2 = a1 + lda;
        float* b1 = b0 + ldb, b2 = b1 + ldb, b3 = b2 + ldb;
        Vector256<float> s00 = default, s01 = default, s02 = default, s03 = default;
        Vector256<float> s10 = default, s11 = default, s12 = default, s13 = default;
        Vector256<float> s20 = default, s21 = default, s22 = default, s23 = default;
        int p = 0;
        for (; p + 8 <= k; p += 8)
        {
            var x0 = Avx.LoadVector256(ap + 3 * p);
            var x1 = Avx.LoadVector256(ap + 3 * p + 8);
            var x2 = Avx.LoadVector256(ap + 3 * p + 16);
            var y = Avx.LoadVector256(b0 + p);
            s00 = Fma.MultiplyAdd(x0, y, s00); s10 = Fma.MultiplyAdd(x1, y, s10); s20 = Fma.MultiplyAdd(x2, y, s20);
            y = Avx.LoadVector256(b1 + p);
            s01 = Fma.MultiplyAdd(x0, y, s01); s11 = Fma.MultiplyAdd(x1, y, s11); s21 = Fma.MultiplyAdd(x2, y, s21);
            y = Avx.LoadVector256(b2 + p);
            s02 = Fma.MultiplyAdd(x0, y, s02); s12 = Fma.MultiplyAdd(x1, y, s12); s22 = Fma.MultiplyAdd(x2, y, s22);
            y = Avx.LoadVector256(b3 + p);
            s03 = Fma.MultiplyAdd(x0, y, s03); s13 = Fma.MultiplyAdd(x1, y, s13); s23 = Fma.MultiplyAdd(x2, y, s23);
        }
        var r0 = Sum4(s00, s01, s02, s03);
        var r1 = Sum4(s10, s11, s12, s13);
        var r2 = Sum4(s20, s21, s22, s23);
        if (p < k)
        {
            r0 += Tail4(p, k, a0, b0, ldb);
            r1 += Tail4(p, k, a1, b0, ldb);
            r2 += Tail4(p, k, a2, b0, ldb);
        }
        Store4(r0, c, alpha, beta);
        Store4(r1, c + ldc, alpha, beta);
        Store4(r2, c + 2 * ldc, alpha, beta);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block1x4(int k, float* a0, float* b0, nint ldb, float* c, float alpha, float beta)
    {
        float* b1 = b0 + ldb, b2 = b1 + ldb, b3 = b2 + ldb;
        Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
        int p = 0;
        for (; p + 8 <= k; p += 8)
        {
            var x = Avx.LoadVector256(a0 + p);
            s0 = Fma.MultiplyAdd(x, Avx.LoadVector256(b0 + p), s0);
            s1 = Fma.MultiplyAdd(x, Avx.LoadVector256(b1 + p), s1);
            s2 = Fma.MultiplyAdd(x, Avx.LoadVector256(b2 + p), s2);
            s3 = Fma.MultiplyAdd(x, Avx.LoadVector256(b3 + p), s3);
        }
        var r = Sum4(s0, s1, s2, s3);
        if (p < k) r += Tail4(p, k, a0, b0, ldb);
        Store4(r, c, alpha, beta);
    }

    /// <summary>The four horizontal sums [sum(s0), sum(s1), sum(s2), sum(s3)] in one vector.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Sum4(Vector256<float> s0, Vector256<float> s1, Vector256<float> s2, Vector256<float> s3)
    {
        // hadd pairs within each 128-bit half: [s0 s0 s1 s1 | s0 s0 s1 s1], then [s0 s1 s2 s3 | s0 s1 s2 s3].
        var h = Avx.HorizontalAdd(Avx.HorizontalAdd(s0, s1), Avx.HorizontalAdd(s2, s3));
        return h.GetLower() + h.GetUpper();
    }

    /// <summary>The last k mod 8 steps of one A row against four B rows.</summary>
    private static Vector128<float> Tail4(int p, int k, float* a, float* b0, nint ldb)
    {
        float t0 = 0, t1 = 0, t2 = 0, t3 = 0;
        for (; p < k; p++)
        {
            float x = a[p];
            t0 += x * b0[p]; t1 += x * b0[ldb + p]; t2 += x * b0[2 * ldb + p]; t3 += x * b0[3 * ldb + p];
        }
        return Vector128.Create(t0, t1, t2, t3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store4(Vector128<float> r, float* c, float alpha, float beta)
    {
        r *= Vector128.Create(alpha);
        if (beta != 0f) r += Vector128.Create(beta) * Sse.LoadVector128(c);
        Sse.Store(c, r);
    }

    private static float Dot(int k, float* a, float* b)
    {
        var s = Vector256<float>.Zero;
        int p = 0;
        for (; p + 8 <= k; p += 8) s = Fma.MultiplyAdd(Avx.LoadVector256(a + p), Avx.LoadVector256(b + p), s);
        float sum = Vector256.Sum(s);
        for (; p < k; p++) sum += a[p] * b[p];
        return sum;
    }
}
