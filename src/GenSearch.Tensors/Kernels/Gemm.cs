using System.Runtime.CompilerServices;

namespace GenSearch.Tensors.Kernels;

/// <summary>
/// Single-precision matrix products, row-major, with either operand transposed. This file holds the
/// public contract, the argument checks and the split across threads; the packed, cache-blocked FMA
/// implementation is <see cref="GemmPacked"/> with its <see cref="GemmMicroKernel"/>, and
/// <see cref="GemmReference"/> is the slow twin the tests hold it against.
/// </summary>
public static unsafe class Gemm
{
    /// <summary>
    /// Below this many multiply-adds (m * n * k) per part, work stays on one thread: waking a second
    /// thread costs from a few to some tens of microseconds, and 128 x 128 x 128 takes about 50 us on
    /// one core, so smaller products would gain little or lose.
    /// </summary>
    internal const long ThreadingThreshold = 128 * 128 * 128;

    /// <summary>C = alpha * op(A) * op(B) + beta * C, all row-major. op(A) is M x K, op(B) is K x N.
    /// With beta == 0, C is written without being read (it may hold garbage or NaN).</summary>
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        Check(transA, transB, 1, m, n, k, a.Length, lda, 0, b.Length, ldb, 0, c.Length, ldc, 0);
        if (m == 0 || n == 0) return;
        fixed (float* pa = a, pb = b, pc = c)
            Run(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, null, KernelThreads.Count);
    }

    /// <summary>
    /// C = alpha * op(A) * op(B) + beta * C + bias, with <paramref name="bias"/>[j] added to every row's
    /// column j: a linear layer's forward (X W^T + b) in one pass, the bias added while each tile is
    /// still in registers rather than written into C first and read back.
    /// </summary>
    public static void SgemmBias(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc, ReadOnlySpan<float> bias)
    {
        Check(transA, transB, 1, m, n, k, a.Length, lda, 0, b.Length, ldb, 0, c.Length, ldc, 0);
        if (bias.Length < n) Fail($"Sgemm: bias has {bias.Length} elements, fewer than the {n} columns of C");
        if (m == 0 || n == 0) return;
        fixed (float* pa = a, pb = b, pc = c, pbias = bias)
            Run(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, pbias, KernelThreads.Count);
    }

    /// <summary>
    /// <paramref name="batch"/> independent products; matrix <c>t</c> of A starts at <c>t * strideA</c>,
    /// likewise for B and C. A stride of 0 shares one matrix across the batch; for C the products then
    /// apply one after another (with beta == 1 they sum into C). Small products (attention over a few
    /// tokens) are spread across threads by batch, not split inside.
    /// </summary>
    public static void SgemmBatched(bool transA, bool transB, int batch, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, long strideA, ReadOnlySpan<float> b, int ldb, long strideB,
        float beta, Span<float> c, int ldc, long strideC)
    {
        Check(transA, transB, batch, m, n, k, a.Length, lda, strideA, b.Length, ldb, strideB, c.Length, ldc, strideC);
        if (batch == 0 || m == 0 || n == 0) return;
        int threads = KernelThreads.Count;
        long work = (long)m * n * Math.Max(k, 1);
        fixed (float* pa = a, pb = b, pc = c)
        {
            // Few large products: split each one. Many products: give each thread a run of whole ones.
            // A shared C (stride 0) is updated product after product, as the reference does, so that
            // beta == 1 sums the batch into it.
            if (threads == 1 || batch == 1 || strideC == 0 || (batch < 2 * threads && work >= ThreadingThreshold))
            {
                for (int t = 0; t < batch; t++)
                    Run(transA, transB, m, n, k, alpha, pa + t * strideA, lda, pb + t * strideB, ldb, beta, pc + t * strideC, ldc, null, threads);
                return;
            }
            // Four runs per thread, claimed as threads come free, so a thread the scheduler delays
            // leaves its share to the others instead of holding up the call.
            int parts = (int)Math.Min(Math.Min(batch, 4 * threads), Math.Max(1, batch * work / ThreadingThreshold));
            nint ia = (nint)pa, ib = (nint)pb, ic = (nint)pc;
            KernelWorkers.Run(parts, threads, part =>
            {
                int first = (int)((long)batch * part / parts), end = (int)((long)batch * (part + 1) / parts);
                for (int t = first; t < end; t++)
                {
                    OneThread(transA, transB, m, n, k, alpha, (float*)ia + t * strideA, lda,
                        (float*)ib + t * strideB, ldb, beta, (float*)ic + t * strideC, ldc);
                }
            });
        }
    }

    /// <summary>
    /// One product on up to <paramref name="threads"/> threads. The split is along the longer of M and N,
    /// on tile boundaries; each thread packs its own panels, so no thread waits for another. Splitting M
    /// repeats the packing of B (K x N) in every thread, splitting N that of A (M x K): the longer side
    /// makes the repeated part the smaller one. <paramref name="bias"/> (n values or null) is added to every row.
    /// </summary>
    private static void Run(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, nint lda, float* b, nint ldb, float beta, float* c, nint ldc, float* bias, int threads)
    {
        if (TransposeIsFaster(transA, transB, m, n, k))
        {
            RunTransposed(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias, threads);
            return;
        }
        long work = (long)m * n * Math.Max(k, 1);
        int parts = (int)Math.Min(threads, Math.Max(1, work / ThreadingThreshold));
        bool splitN = n >= m;
        int unit = splitN ? GemmMicroKernel.NR : GemmMicroKernel.MR;
        int extent = splitN ? n : m;
        parts = Math.Min(parts, (extent + unit - 1) / unit);
        if (parts <= 1)
        {
            OneThread(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias);
            return;
        }
        // The path is chosen from the whole product, so that every split computes each element the same way.
        bool rowDot = GemmRowDot.Fits(transA, transB, m, k);

        int chunk = ((extent + parts - 1) / parts + unit - 1) / unit * unit;
        nint ia = (nint)a, ib = (nint)b, ic = (nint)c, ibias = (nint)bias;
        KernelWorkers.Run(parts, threads, part =>
        {
            int start = part * chunk;
            int size = Math.Min(chunk, extent - start);
            if (size <= 0) return;
            float* pa = (float*)ia, pb = (float*)ib, pc = (float*)ic, pbias = (float*)ibias;
            if (splitN)
            {
                float* bPart = transB ? pb + start * ldb : pb + start;
                float* biasPart = pbias == null ? null : pbias + start;
                if (rowDot) RowDotWithBias(m, size, k, alpha, pa, lda, bPart, ldb, beta, pc + start, ldc, biasPart);
                else GemmPacked.Run(transA, transB, m, size, k, alpha, pa, lda, bPart, ldb, beta, pc + start, ldc, biasPart);
            }
            else
            {
                float* aPart = transA ? pa + start : pa + start * lda;
                if (rowDot) RowDotWithBias(size, n, k, alpha, aPart, lda, pb, ldb, beta, pc + start * ldc, ldc, pbias);
                else GemmPacked.Run(transA, transB, size, n, k, alpha, aPart, lda, pb, ldb, beta, pc + start * ldc, ldc, pbias);
            }
        });
    }

    /// <summary>
    /// Whether a weight-gradient-like product, A^T * B with A stored K x M, B stored K x N, M at least
    /// twice N and K deep, runs faster as its transpose C^T = B^T * A. Measured, not derived: at
    /// 1024 x 4096 x 256 the transposed product runs at 85 GFLOP/s on one core against 75-77 (141-156
    /// against 118 on two); the same product with M and N the other way round was already near
    /// OpenBLAS. The transpose of C (M x N) costs little next to K = 512 or more steps.
    /// </summary>
    internal static bool TransposeIsFaster(bool transA, bool transB, int m, int n, int k) =>
        transA && !transB && m >= 2 * n && k >= 512 && (long)m * n * k >= ThreadingThreshold;

    [ThreadStatic] private static float[]? t_transposed;

    /// <summary>
    /// C = alpha * A^T * B + beta * C + bias computed as T = alpha * B^T * A (N x M, into scratch), then
    /// C = T^T + beta * C + bias, in 32 x 32 blocks so that both sides stay in cache.
    /// </summary>
    private static void RunTransposed(int m, int n, int k, float alpha, float* a, nint lda, float* b, nint ldb,
        float beta, float* c, nint ldc, float* bias, int threads)
    {
        float* t = GemmPacked.Buffer(ref t_transposed, m * n);
        // op(A) = B^T (B stored K x N), op(B) = A (stored K x M): T is N x M, row stride M.
        Run(true, false, n, m, k, alpha, b, ldb, a, lda, 0f, t, m, null, threads);
        const int Block = 32;
        for (int i0 = 0; i0 < m; i0 += Block)
            for (int j0 = 0; j0 < n; j0 += Block)
            {
                int i1 = Math.Min(m, i0 + Block), j1 = Math.Min(n, j0 + Block);
                for (int i = i0; i < i1; i++)
                {
                    float* row = c + i * ldc;
                    for (int j = j0; j < j1; j++)
                    {
                        float value = t[(nint)j * m + i] + (bias == null ? 0f : bias[j]);
                        // beta == 0 writes C without reading it (it may hold NaN), as everywhere else.
                        row[j] = beta == 0f ? value : value + beta * row[j];
                    }
                }
            }
    }

    /// <summary>
    /// One product on the calling thread: row dot products when A has few rows and B is stored
    /// transposed (a linear layer on a few vectors), the direct path when small, else the packed one.
    /// </summary>
    private static void OneThread(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, nint lda, float* b, nint ldb, float beta, float* c, nint ldc, float* bias = null)
    {
        if (GemmRowDot.Fits(transA, transB, m, k))
            RowDotWithBias(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias);
        else if (GemmSmall.Fits(m, n, k))
            GemmSmall.Run(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias);
        else
            GemmPacked.Run(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias);
    }

    /// <summary>The row-dot path, then the bias added row by row (that path has no epilogue; its C is still in cache).</summary>
    private static void RowDotWithBias(int m, int n, int k, float alpha, float* a, nint lda, float* b, nint ldb, float beta, float* c, nint ldc, float* bias)
    {
        GemmRowDot.Run(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        if (bias != null) GemmPacked.AddBias(m, n, bias, c, ldc);
    }

    /// <summary>Checks shapes, leading dimensions and that every addressed element lies inside its span.</summary>
    private static void Check(bool transA, bool transB, int batch, int m, int n, int k,
        int aLength, int lda, long strideA, int bLength, int ldb, long strideB, int cLength, int ldc, long strideC)
    {
        if (batch < 0 || m < 0 || n < 0 || k < 0)
            Fail($"Sgemm: negative size (batch {batch}, m {m}, n {n}, k {k})");
        if (strideA < 0 || strideB < 0 || strideC < 0)
            Fail($"Sgemm: negative batch stride (A {strideA}, B {strideB}, C {strideC})");
        if (batch == 0) return;
        // Stored shapes: A is M x K (K x M when transposed), B is K x N (N x K when transposed).
        CheckMatrix("A", transA ? k : m, transA ? m : k, lda, aLength, batch, strideA);
        CheckMatrix("B", transB ? n : k, transB ? k : n, ldb, bLength, batch, strideB);
        CheckMatrix("C", m, n, ldc, cLength, batch, strideC);
    }

    private static void CheckMatrix(string name, int rows, int cols, int ld, int length, int batch, long stride)
    {
        if (rows == 0 || cols == 0) return; // an empty matrix addresses nothing, whatever its leading dimension
        if (ld < cols)
            Fail($"Sgemm: leading dimension of {name} is {ld}, less than its {cols} stored columns");
        long needed = (long)(batch - 1) * stride + (long)(rows - 1) * ld + cols;
        if (needed > length)
            Fail($"Sgemm: {name} needs {needed} elements for {batch} x {rows} x {cols} (ld {ld}, stride {stride}) but has {length}");
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Fail(string message) => throw new ArgumentException(message);
}
