using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GenSearch.Tensors.Kernels;

/// <summary>
/// The innermost piece of the packed GEMM: a 6 x 16 tile of C from a packed 6-row micro-panel of A
/// and a packed 16-column micro-panel of B. Twelve ymm accumulators, two B vectors and one broadcast
/// A value use 15 of the 16 AVX2 registers, so the loop runs without spills.
/// </summary>
[SkipLocalsInit]
internal static unsafe class GemmMicroKernel
{
    /// <summary>Rows of the C tile (the A micro-panel height).</summary>
    public const int MR = 6;

    /// <summary>Columns of the C tile (the B micro-panel width, two ymm vectors).</summary>
    public const int NR = 16;

    /// <summary>True when the AVX2 + FMA kernel can run; otherwise a portable Vector256 kernel does.</summary>
    public static readonly bool HasFma = Fma.IsSupported && Avx2.IsSupported;

    /// <summary>
    /// C[0..6, 0..16] = alpha * (Ap * Bp) + beta * C + bias, where Ap holds kc steps of 6 values and Bp kc
    /// steps of 16 values, and <paramref name="bias"/> (16 values, or null for none) is added to every row:
    /// a linear layer's bias applied while the tile is still in registers, instead of a pass over C.
    /// beta == 0 writes C without reading it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile(int kc, float* a, float* b, float* c, nint ldc, float alpha, float beta, float* bias = null)
    {
        if (!HasFma)
        {
            TilePortable(kc, a, b, c, ldc, alpha, beta, bias);
            return;
        }

        // C is read only after the loop; asking for its lines now hides their latency behind the loop.
        if (beta != 0f)
        {
            for (int r = 0; r < MR; r++)
            {
                Sse.Prefetch0(c + r * ldc);
                Sse.Prefetch0(c + r * ldc + NR - 1);
            }
        }

        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;

        // Two k steps per iteration halve the loop overhead; the remainder runs one step.
        int p = 0;
        for (; p + 2 <= kc; p += 2)
        {
            Vector256<float> b0 = Avx.LoadVector256(b), b1 = Avx.LoadVector256(b + 8), av;
            av = Avx.BroadcastScalarToVector256(a); c00 = Fma.MultiplyAdd(av, b0, c00); c01 = Fma.MultiplyAdd(av, b1, c01);
            av = Avx.BroadcastScalarToVector256(a + 1); c10 = Fma.MultiplyAdd(av, b0, c10); c11 = Fma.MultiplyAdd(av, b1, c11);
            av = Avx.BroadcastScalarToVector256(a + 2); c20 = Fma.MultiplyAdd(av, b0, c20); c21 = Fma.MultiplyAdd(av, b1, c21);
            av = Avx.BroadcastScalarToVector256(a + 3); c30 = Fma.MultiplyAdd(av, b0, c30); c31 = Fma.MultiplyAdd(av, b1, c31);
            av = Avx.BroadcastScalarToVector256(a + 4); c40 = Fma.MultiplyAdd(av, b0, c40); c41 = Fma.MultiplyAdd(av, b1, c41);
            av = Avx.BroadcastScalarToVector256(a + 5); c50 = Fma.MultiplyAdd(av, b0, c50); c51 = Fma.MultiplyAdd(av, b1, c51);
            b0 = Avx.LoadVector256(b + 16); b1 = Avx.LoadVector256(b + 24);
            av = Avx.BroadcastScalarToVector256(a + 6); c00 = Fma.MultiplyAdd(av, b0, c00); c01 = Fma.MultiplyAdd(av, b1, c01);
            av = Avx.BroadcastScalarToVector256(a + 7); c10 = Fma.MultiplyAdd(av, b0, c10); c11 = Fma.MultiplyAdd(av, b1, c11);
            av = Avx.BroadcastScalarToVector256(a + 8); c20 = Fma.MultiplyAdd(av, b0, c20); c21 = Fma.MultiplyAdd(av, b1, c21);
            av = Avx.BroadcastScalarToVector256(a + 9); c30 = Fma.MultiplyAdd(av, b0, c30); c31 = Fma.MultiplyAdd(av, b1, c31);
            av = Avx.BroadcastScalarToVector256(a + 10); c40 = Fma.MultiplyAdd(av, b0, c40); c41 = Fma.MultiplyAdd(av, b1, c41);
            av = Avx.BroadcastScalarToVector256(a + 11); c50 = Fma.MultiplyAdd(av, b0, c50); c51 = Fma.MultiplyAdd(av, b1, c51);
            a += 2 * MR;
            b += 2 * NR;
        }
        if (p < kc)
        {
            Vector256<float> b0 = Avx.LoadVector256(b), b1 = Avx.LoadVector256(b + 8), av;
            av = Avx.BroadcastScalarToVector256(a); c00 = Fma.MultiplyAdd(av, b0, c00); c01 = Fma.MultiplyAdd(av, b1, c01);
            av = Avx.BroadcastScalarToVector256(a + 1); c10 = Fma.MultiplyAdd(av, b0, c10); c11 = Fma.MultiplyAdd(av, b1, c11);
            av = Avx.BroadcastScalarToVector256(a + 2); c20 = Fma.MultiplyAdd(av, b0, c20); c21 = Fma.MultiplyAdd(av, b1, c21);
            av = Avx.BroadcastScalarToVector256(a + 3); c30 = Fma.MultiplyAdd(av, b0, c30); c31 = Fma.MultiplyAdd(av, b1, c31);
            av = Avx.BroadcastScalarToVector256(a + 4); c40 = Fma.MultiplyAdd(av, b0, c40); c41 = Fma.MultiplyAdd(av, b1, c41);
            av = Avx.BroadcastScalarToVector256(a + 5); c50 = Fma.MultiplyAdd(av, b0, c50); c51 = Fma.MultiplyAdd(av, b1, c51);
        }

        Vector256<float> bias0 = default, bias1 = default;
        if (bias != null) { bias0 = Avx.LoadVector256(bias); bias1 = Avx.LoadVector256(bias + 8); }
        Store(c, alpha, beta, c00, c01, bias0, bias1);
        Store(c + ldc, alpha, beta, c10, c11, bias0, bias1);
        Store(c + 2 * ldc, alpha, beta, c20, c21, bias0, bias1);
        Store(c + 3 * ldc, alpha, beta, c30, c31, bias0, bias1);
        Store(c + 4 * ldc, alpha, beta, c40, c41, bias0, bias1);
        Store(c + 5 * ldc, alpha, beta, c50, c51, bias0, bias1);
    }

    /// <summary>One row of a tile: c = alpha * acc + beta * c + bias (bias zero when there is none).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* c, float alpha, float beta, Vector256<float> lo, Vector256<float> hi,
        Vector256<float> biasLo, Vector256<float> biasHi)
    {
        var va = Vector256.Create(alpha);
        if (beta == 0f)
        {
            Avx.Store(c, Fma.MultiplyAdd(va, lo, biasLo));
            Avx.Store(c + 8, Fma.MultiplyAdd(va, hi, biasHi));
        }
        else if (beta == 1f)
        {
            Avx.Store(c, Fma.MultiplyAdd(va, lo, Avx.Add(Avx.LoadVector256(c), biasLo)));
            Avx.Store(c + 8, Fma.MultiplyAdd(va, hi, Avx.Add(Avx.LoadVector256(c + 8), biasHi)));
        }
        else
        {
            var vb = Vector256.Create(beta);
            Avx.Store(c, Fma.MultiplyAdd(va, lo, Fma.MultiplyAdd(vb, Avx.LoadVector256(c), biasLo)));
            Avx.Store(c + 8, Fma.MultiplyAdd(va, hi, Fma.MultiplyAdd(vb, Avx.LoadVector256(c + 8), biasHi)));
        }
    }

    /// <summary>
    /// A partial tile (rows &lt; 6 or columns &lt; 16 at the matrix edge): the full tile is computed into a
    /// scratch block, since the packed panels are zero-padded, and only the valid part is merged into C.
    /// </summary>
    public static void EdgeTile(int kc, float* a, float* b, float* c, nint ldc, int rows, int cols, float alpha, float beta, float* bias = null)
    {
        float* tile = stackalloc float[MR * NR];
        Tile(kc, a, b, tile, NR, 1f, 0f);
        Merge(tile, c, ldc, rows, cols, alpha, beta, bias);
    }

    /// <summary>C[0..rows, 0..cols] = alpha * tile + beta * C + bias[0..cols] (bias null: none), from a 6 x 16 scratch tile.</summary>
    public static void Merge(float* tile, float* c, nint ldc, int rows, int cols, float alpha, float beta, float* bias = null)
    {
        for (int i = 0; i < rows; i++)
        {
            float* ci = c + i * ldc;
            float* ti = tile + i * NR;
            if (beta == 0f)
                for (int j = 0; j < cols; j++) ci[j] = alpha * ti[j] + (bias == null ? 0f : bias[j]);
            else
                for (int j = 0; j < cols; j++) ci[j] = alpha * ti[j] + (beta * ci[j] + (bias == null ? 0f : bias[j]));
        }
    }

    /// <summary>
    /// A tile of <paramref name="rows"/> (1..6) x 16 reading A in place rather than packed: element (r, p)
    /// is at <c>a + r * rowStride + p * colStride</c>. Small products use it, where packing A would cost
    /// as much as the arithmetic. Missing rows repeat the last real one and are not stored, so nothing
    /// past the matrix is read. B is a packed 16-column micro-panel as in <see cref="Tile"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TileDirectA(int kc, int rows, float* a, nint rowStride, nint colStride, float* b, float* c, nint ldc, float alpha, float beta, float* bias = null)
    {
        float* a0 = a;
        float* a1 = a + Math.Min(1, rows - 1) * rowStride, a2 = a + Math.Min(2, rows - 1) * rowStride;
        float* a3 = a + Math.Min(3, rows - 1) * rowStride, a4 = a + Math.Min(4, rows - 1) * rowStride;
        float* a5 = a + Math.Min(5, rows - 1) * rowStride;
        if (!HasFma)
        {
            // Portable fallback: gather the rows into packed form first.
            float* packed = stackalloc float[MR * kc];
            for (int p = 0; p < kc; p++)
            {
                nint q = p * colStride;
                float* d = packed + p * MR;
                d[0] = a0[q]; d[1] = a1[q]; d[2] = a2[q]; d[3] = a3[q]; d[4] = a4[q]; d[5] = a5[q];
            }
            float* full = stackalloc float[MR * NR];
            TilePortable(kc, packed, b, full, NR, 1f, 0f, null);
            Merge(full, c, ldc, rows, NR, alpha, beta, bias);
            return;
        }

        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        nint o = 0;
        for (int p = 0; p < kc; p++, o += colStride)
        {
            Vector256<float> b0 = Avx.LoadVector256(b), b1 = Avx.LoadVector256(b + 8), av;
            av = Avx.BroadcastScalarToVector256(a0 + o); c00 = Fma.MultiplyAdd(av, b0, c00); c01 = Fma.MultiplyAdd(av, b1, c01);
            av = Avx.BroadcastScalarToVector256(a1 + o); c10 = Fma.MultiplyAdd(av, b0, c10); c11 = Fma.MultiplyAdd(av, b1, c11);
            av = Avx.BroadcastScalarToVector256(a2 + o); c20 = Fma.MultiplyAdd(av, b0, c20); c21 = Fma.MultiplyAdd(av, b1, c21);
            av = Avx.BroadcastScalarToVector256(a3 + o); c30 = Fma.MultiplyAdd(av, b0, c30); c31 = Fma.MultiplyAdd(av, b1, c31);
            av = Avx.BroadcastScalarToVector256(a4 + o); c40 = Fma.MultiplyAdd(av, b0, c40); c41 = Fma.MultiplyAdd(av, b1, c41);
            av = Avx.BroadcastScalarToVector256(a5 + o); c50 = Fma.MultiplyAdd(av, b0, c50); c51 = Fma.MultiplyAdd(av, b1, c51);
            b += NR;
        }

        Vector256<float> bias0 = default, bias1 = default;
        if (bias != null) { bias0 = Avx.LoadVector256(bias); bias1 = Avx.LoadVector256(bias + 8); }
        Store(c, alpha, beta, c00, c01, bias0, bias1);
        if (rows > 1) Store(c + ldc, alpha, beta, c10, c11, bias0, bias1);
        if (rows > 2) Store(c + 2 * ldc, alpha, beta, c20, c21, bias0, bias1);
        if (rows > 3) Store(c + 3 * ldc, alpha, beta, c30, c31, bias0, bias1);
        if (rows > 4) Store(c + 4 * ldc, alpha, beta, c40, c41, bias0, bias1);
        if (rows > 5) Store(c + 5 * ldc, alpha, beta, c50, c51, bias0, bias1);
    }

    /// <summary>The same tile with portable vectors, for machines without FMA (tests on other hosts).</summary>
    private static void TilePortable(int kc, float* a, float* b, float* c, nint ldc, float alpha, float beta, float* bias)
    {
        Span<Vector256<float>> acc = stackalloc Vector256<float>[2 * MR];
        acc.Clear();
        for (int p = 0; p < kc; p++, a += MR, b += NR)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 8);
            for (int r = 0; r < MR; r++)
            {
                var av = Vector256.Create(a[r]);
                acc[2 * r] += av * b0;
                acc[2 * r + 1] += av * b1;
            }
        }
        for (int r = 0; r < MR; r++)
        {
            float* cr = c + r * ldc;
            var lo = acc[2 * r] * alpha;
            var hi = acc[2 * r + 1] * alpha;
            if (beta != 0f)
            {
                lo += Vector256.Load(cr) * beta;
                hi += Vector256.Load(cr + 8) * beta;
            }
            if (bias != null)
            {
                lo += Vector256.Load(bias);
                hi += Vector256.Load(bias + 8);
            }
            lo.Store(cr);
            hi.Store(cr + 8);
        }
    }
}
