using System.Runtime.CompilerServices;

namespace GenSearch.Tensors.Kernels;

/// <summary>
/// Small products (attention over a few tokens, thin layers) without the blocking machinery: op(B) is
/// packed once into 16-column micro-panels and A is read in place by
/// <see cref="GemmMicroKernel.TileDirectA"/>, which also takes the last rows when fewer than six
/// remain. For 16 x 16 x 64 packing A as well would cost about as much as the arithmetic.
/// </summary>
[SkipLocalsInit]
internal static unsafe class GemmSmall
{
    /// <summary>Most multiply-adds (m * n * k) a product may have to take this path.</summary>
    public const long MaxWork = 64 * 64 * 64;

    /// <summary>Widest op(B) this path packs in one piece (its packed panel is at most KC x MaxN floats).</summary>
    public const int MaxN = 256;

    private const int MR = GemmMicroKernel.MR;
    private const int NR = GemmMicroKernel.NR;

    [ThreadStatic] private static float[]? t_packB;

    /// <summary>Whether a product of this shape takes the small path.</summary>
    public static bool Fits(int m, int n, int k) =>
        k <= GemmPacked.KC && n <= MaxN && (long)m * n * k <= MaxWork;

    /// <summary>
    /// C = alpha * op(A) * op(B) + beta * C + bias on the calling thread, <paramref name="bias"/> (n values,
    /// or null for none) added to every row; requires <see cref="Fits"/>, m, n &gt; 0.
    /// </summary>
    public static void Run(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, nint lda, float* b, nint ldb, float beta, float* c, nint ldc, float* bias = null)
    {
        if (k == 0 || alpha == 0f)
        {
            GemmPacked.ScaleC(m, n, beta, c, ldc);
            GemmPacked.AddBias(m, n, bias, c, ldc);
            return;
        }

        float* packB = GemmPacked.Buffer(ref t_packB, GemmPacked.RoundUp(n, NR) * k);
        GemmPacked.PackB(transB, b, ldb, 0, 0, k, n, packB);
        // Element (i, p) of op(A) is at a + i * rowStride + p * colStride.
        nint rowStride = transA ? 1 : lda, colStride = transA ? lda : 1;
        float* tile = stackalloc float[MR * NR];

        for (int ir = 0; ir < m; ir += MR)
        {
            int rows = Math.Min(MR, m - ir);
            float* ai = a + ir * rowStride;
            for (int jr = 0; jr < n; jr += NR)
            {
                int cols = Math.Min(NR, n - jr);
                float* bp = packB + (nint)jr * k;
                float* ct = c + ir * ldc + jr;
                float* biasTile = bias == null ? null : bias + jr;
                if (cols == NR)
                {
                    GemmMicroKernel.TileDirectA(k, rows, ai, rowStride, colStride, bp, ct, ldc, alpha, beta, biasTile);
                }
                else
                {
                    // Past the last column of C: compute into scratch and merge the valid part.
                    GemmMicroKernel.TileDirectA(k, rows, ai, rowStride, colStride, bp, tile, NR, 1f, 0f);
                    GemmMicroKernel.Merge(tile, ct, ldc, rows, cols, alpha, beta, biasTile);
                }
            }
        }
    }
}
