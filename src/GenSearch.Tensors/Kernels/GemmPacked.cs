using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GenSearch.Tensors.Kernels;

/// <summary>
/// The single-threaded packed GEMM (GotoBLAS / BLIS loop order). For each KC x NC panel of op(B),
/// packed once into 16-column micro-panels, and each MC x KC block of op(A), packed into 6-row
/// micro-panels, the 6 x 16 micro-kernel sweeps the block. The B micro-panel (KC x 16 floats, 16 KB)
/// stays in L1 while the A block (MC x KC, 144 KB) streams from L2; the B panel lives in L3.
/// Transposes are absorbed by the packing, so the micro-kernel sees one layout.
/// </summary>
internal static unsafe class GemmPacked
{
    private const int MR = GemmMicroKernel.MR;
    private const int NR = GemmMicroKernel.NR;

    /// <summary>Depth of a packed panel: a 16-column B micro-panel of KC steps is 16 KB, half of L1.</summary>
    public const int KC = 256;

    /// <summary>Rows of a packed A block (a multiple of MR): 144 x 256 floats = 144 KB of the 512 KB L2.</summary>
    public const int MC = 144;

    /// <summary>Columns of a packed B panel (a multiple of NR): 256 x 4080 floats, about 4 MB of L3.</summary>
    public const int NC = 4080;

    /// <summary>Per-thread packing buffers, pinned so their addresses stay put; they only grow.</summary>
    [ThreadStatic] private static float[]? t_packA;
    [ThreadStatic] private static float[]? t_packB;

    /// <summary>
    /// C = alpha * op(A) * op(B) + beta * C + bias on the calling thread, <paramref name="bias"/> (n values,
    /// or null for none) added to every row. Pointers are to element (0, 0) of the stored matrices;
    /// lengths were checked by the caller. m, n &gt; 0.
    /// </summary>
    public static void Run(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, nint lda, float* b, nint ldb, float beta, float* c, nint ldc, float* bias = null)
    {
        if (k == 0 || alpha == 0f)
        {
            ScaleC(m, n, beta, c, ldc);
            AddBias(m, n, bias, c, ldc);
            return;
        }

        int ncMax = Math.Min(NC, RoundUp(n, NR));
        int kcMax = Math.Min(KC, k);
        float* packA = Buffer(ref t_packA, MC * kcMax);
        float* packB = Buffer(ref t_packB, ncMax * kcMax);

        for (int jc = 0; jc < n; jc += NC)
        {
            int nc = Math.Min(NC, n - jc);
            for (int pc = 0; pc < k; pc += KC)
            {
                int kc = Math.Min(KC, k - pc);
                // The first K panel applies the caller's beta and the bias; later ones accumulate into C.
                float betaPanel = pc == 0 ? beta : 1f;
                float* biasPanel = pc == 0 && bias != null ? bias + jc : null;
                PackB(transB, b, ldb, pc, jc, kc, nc, packB);
                for (int ic = 0; ic < m; ic += MC)
                {
                    int mc = Math.Min(MC, m - ic);
                    PackA(transA, a, lda, ic, pc, mc, kc, packA);
                    Macro(mc, nc, kc, alpha, betaPanel, packA, packB, c + ic * ldc + jc, ldc, biasPanel);
                }
            }
        }
    }

    /// <summary>Sweeps one packed A block against one packed B panel, a 6 x 16 tile at a time.</summary>
    private static void Macro(int mc, int nc, int kc, float alpha, float beta, float* packA, float* packB, float* c, nint ldc, float* bias)
    {
        for (int jr = 0; jr < nc; jr += NR)
        {
            int cols = Math.Min(NR, nc - jr);
            float* bp = packB + (nint)jr * kc;
            float* biasTile = bias == null ? null : bias + jr;
            for (int ir = 0; ir < mc; ir += MR)
            {
                int rows = Math.Min(MR, mc - ir);
                float* ap = packA + (nint)ir * kc;
                float* ct = c + ir * ldc + jr;
                if (rows == MR && cols == NR)
                    GemmMicroKernel.Tile(kc, ap, bp, ct, ldc, alpha, beta, biasTile);
                else
                    GemmMicroKernel.EdgeTile(kc, ap, bp, ct, ldc, rows, cols, alpha, beta, biasTile);
            }
        }
    }

    /// <summary>
    /// Packs op(A)[i0 .. i0+mc, p0 .. p0+kc] into 6-row micro-panels: panel r holds, for each step p,
    /// the 6 values of rows 6r .. 6r+5 side by side. Rows past the edge are zero.
    /// </summary>
    internal static void PackA(bool transA, float* a, nint lda, int i0, int p0, int mc, int kc, float* dst)
    {
        int full = mc / MR * MR;
        if (transA && full > 0)
        {
            // Stored K x M: one step of every full panel lies in one contiguous run of the row for that
            // step, so walk steps outside and panels inside; each row is read once, front to back.
            for (int p = 0; p < kc; p++)
            {
                float* src = a + (p0 + p) * lda + i0;
                float* d = dst + p * MR;
                for (int ir = 0; ir < full; ir += MR, src += MR, d += MR * kc)
                {
                    Vector128.Store(Vector128.Load(src), d);
                    d[4] = src[4];
                    d[5] = src[5];
                }
            }
            if (full == mc) return;
            // The last, partial panel goes through the general loop below.
            i0 += full;
            mc -= full;
            dst += full * kc;
        }
        for (int ir = 0; ir < mc; ir += MR, dst += MR * kc)
        {
            int rows = Math.Min(MR, mc - ir);
            int i = i0 + ir;
            if (transA)
            {
                // Stored K x M: the 6 values of one step are contiguous.
                float* src = a + p0 * lda + i;
                if (rows == MR)
                {
                    for (int p = 0; p < kc; p++, src += lda)
                    {
                        float* d = dst + p * MR;
                        d[0] = src[0]; d[1] = src[1]; d[2] = src[2]; d[3] = src[3]; d[4] = src[4]; d[5] = src[5];
                    }
                }
                else
                {
                    for (int p = 0; p < kc; p++, src += lda)
                    {
                        float* d = dst + p * MR;
                        for (int r = 0; r < MR; r++) d[r] = r < rows ? src[r] : 0f;
                    }
                }
            }
            else if (rows == MR)
            {
                // Stored M x K: six row streams, interleaved step by step; 8 steps at a time go through
                // an in-register transpose whose 8-float rows are stored 6 apart, each store's last two
                // floats overwritten by the next (the buffer has slack for the final one).
                float* r0 = a + i * lda + p0;
                float* r1 = r0 + lda, r2 = r1 + lda, r3 = r2 + lda, r4 = r3 + lda, r5 = r4 + lda;
                int p = 0;
                if (Avx.IsSupported)
                {
                    for (; p + 8 <= kc; p += 8)
                    {
                        var v5 = Avx.LoadVector256(r5 + p);
                        TransposeStore(Avx.LoadVector256(r0 + p), Avx.LoadVector256(r1 + p), Avx.LoadVector256(r2 + p),
                            Avx.LoadVector256(r3 + p), Avx.LoadVector256(r4 + p), v5, v5, v5, dst + p * MR, MR);
                    }
                }
                for (; p < kc; p++)
                {
                    float* d = dst + p * MR;
                    d[0] = r0[p]; d[1] = r1[p]; d[2] = r2[p]; d[3] = r3[p]; d[4] = r4[p]; d[5] = r5[p];
                }
            }
            else
            {
                for (int r = 0; r < MR; r++)
                {
                    float* row = a + (i + r) * lda + p0;
                    for (int p = 0; p < kc; p++) dst[p * MR + r] = r < rows ? row[p] : 0f;
                }
            }
        }
    }

    /// <summary>
    /// Packs op(B)[p0 .. p0+kc, j0 .. j0+nc] into 16-column micro-panels: panel s holds, for each step p,
    /// the 16 values of columns 16s .. 16s+15. Columns past the edge are zero.
    /// </summary>
    internal static void PackB(bool transB, float* b, nint ldb, int p0, int j0, int kc, int nc, float* dst)
    {
        int full = nc / NR * NR;
        if (!transB && full > 0)
        {
            // Stored K x N: walk steps outside and panels inside, so each row of B is read front to
            // back once (one page at a time) instead of 16 floats from each of kc rows per panel.
            for (int p = 0; p < kc; p++)
            {
                float* src = b + (p0 + p) * ldb + j0;
                float* d = dst + p * NR;
                for (int jr = 0; jr < full; jr += NR, src += NR, d += NR * kc)
                {
                    Vector256.Store(Vector256.Load(src), d);
                    Vector256.Store(Vector256.Load(src + 8), d + 8);
                }
            }
            if (full == nc) return;
            // The last, partial panel goes through the general loop below.
            j0 += full;
            nc -= full;
            dst += full * kc;
        }
        for (int jr = 0; jr < nc; jr += NR, dst += NR * kc)
        {
            int cols = Math.Min(NR, nc - jr);
            int j = j0 + jr;
            if (!transB)
            {
                // Stored K x N: the 16 values of one step are contiguous.
                float* src = b + p0 * ldb + j;
                if (cols == NR)
                {
                    for (int p = 0; p < kc; p++, src += ldb)
                    {
                        Vector256.Store(Vector256.Load(src), dst + p * NR);
                        Vector256.Store(Vector256.Load(src + 8), dst + p * NR + 8);
                    }
                }
                else
                {
                    for (int p = 0; p < kc; p++, src += ldb)
                    {
                        float* d = dst + p * NR;
                        for (int s = 0; s < NR; s++) d[s] = s < cols ? src[s] : 0f;
                    }
                }
            }
            else if (cols == NR && Avx.IsSupported)
            {
                // Stored N x K: 8 x 8 blocks (8 columns of op(B), 8 steps) are transposed in registers.
                float* src = b + j * ldb + p0;
                int p = 0;
                for (; p + 8 <= kc; p += 8)
                {
                    Transpose8x8(src + p, ldb, dst + p * NR);
                    Transpose8x8(src + 8 * ldb + p, ldb, dst + p * NR + 8);
                }
                for (; p < kc; p++)
                    for (int s = 0; s < NR; s++) dst[p * NR + s] = src[s * ldb + p];
            }
            else
            {
                // Stored N x K: each column of op(B) is a contiguous row of B, scattered with stride 16.
                for (int s = 0; s < NR; s++)
                {
                    float* d = dst + s;
                    if (s < cols)
                    {
                        float* src = b + (j + s) * ldb + p0;
                        for (int p = 0; p < kc; p++) d[p * NR] = src[p];
                    }
                    else
                    {
                        for (int p = 0; p < kc; p++) d[p * NR] = 0f;
                    }
                }
            }
        }
    }

    /// <summary>
    /// Reads 8 rows of 8 floats (row r at <c>src + r * ld</c>) and writes their transpose as 8 rows of 8
    /// floats at <c>dst + q * 16</c>, the layout of one half of a 16-column micro-panel.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(float* src, nint ld, float* dst) =>
        TransposeStore(Avx.LoadVector256(src), Avx.LoadVector256(src + ld), Avx.LoadVector256(src + 2 * ld),
            Avx.LoadVector256(src + 3 * ld), Avx.LoadVector256(src + 4 * ld), Avx.LoadVector256(src + 5 * ld),
            Avx.LoadVector256(src + 6 * ld), Avx.LoadVector256(src + 7 * ld), dst, NR);

    /// <summary>
    /// Transposes the 8 x 8 block whose rows are r0..r7 and stores its rows at <c>dst + q * stride</c>
    /// in increasing q (so with stride &lt; 8 each store overwrites the tail of the one before).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void TransposeStore(Vector256<float> r0, Vector256<float> r1, Vector256<float> r2, Vector256<float> r3,
        Vector256<float> r4, Vector256<float> r5, Vector256<float> r6, Vector256<float> r7, float* dst, nint stride)
    {
        // Interleave pairs of rows, then pairs of pairs, then swap 128-bit halves.
        Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1);
        Vector256<float> t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
        Vector256<float> t4 = Avx.UnpackLow(r4, r5), t5 = Avx.UnpackHigh(r4, r5);
        Vector256<float> t6 = Avx.UnpackLow(r6, r7), t7 = Avx.UnpackHigh(r6, r7);
        Vector256<float> u0 = Avx.Shuffle(t0, t2, 0x44), u1 = Avx.Shuffle(t0, t2, 0xEE);
        Vector256<float> u2 = Avx.Shuffle(t1, t3, 0x44), u3 = Avx.Shuffle(t1, t3, 0xEE);
        Vector256<float> u4 = Avx.Shuffle(t4, t6, 0x44), u5 = Avx.Shuffle(t4, t6, 0xEE);
        Vector256<float> u6 = Avx.Shuffle(t5, t7, 0x44), u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(dst, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(dst + stride, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(dst + 2 * stride, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(dst + 3 * stride, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(dst + 4 * stride, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(dst + 5 * stride, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(dst + 6 * stride, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(dst + 7 * stride, Avx.Permute2x128(u3, u7, 0x31));
    }

    /// <summary>C = beta * C over m x n (beta == 0 writes zeros without reading C).</summary>
    public static void ScaleC(int m, int n, float beta, float* c, nint ldc)
    {
        for (int i = 0; i < m; i++)
        {
            var row = new Span<float>(c + i * ldc, n);
            if (beta == 0f) row.Clear();
            else if (beta != 1f) System.Numerics.Tensors.TensorPrimitives.Multiply(row, beta, row);
        }
    }

    /// <summary>C[i, j] += bias[j] for every row (nothing when bias is null).</summary>
    public static void AddBias(int m, int n, float* bias, float* c, nint ldc)
    {
        if (bias == null) return;
        var b = new ReadOnlySpan<float>(bias, n);
        for (int i = 0; i < m; i++)
        {
            var row = new Span<float>(c + i * ldc, n);
            System.Numerics.Tensors.TensorPrimitives.Add(row, b, row);
        }
    }

    internal static int RoundUp(int x, int to) => (x + to - 1) / to * to;

    /// <summary>A 64-byte aligned pointer to at least <paramref name="floats"/> floats of this thread's buffer.</summary>
    internal static float* Buffer(ref float[]? buffer, int floats)
    {
        // 16 floats of slack for the 64-byte alignment, 16 more for packing stores that run past the end.
        if (buffer is null || buffer.Length < floats + 32)
            buffer = GC.AllocateUninitializedArray<float>(floats + 32, pinned: true);
        // Pinned (POH) arrays never move, so the address stays valid for the buffer's lifetime.
        nint address = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer));
        return (float*)((address + 63) & ~(nint)63);
    }
}
