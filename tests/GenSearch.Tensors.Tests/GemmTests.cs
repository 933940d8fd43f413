using GenSearch.Tensors.Kernels;

namespace GenSearch.Tensors.Tests;

/// <summary>
/// The packed GEMM against its slow twin. Every result element must lie within a relative bound of
/// the reference: |fast - ref| &lt;= 1e-5 * (|alpha| * sum_p |a_ip| |b_pj| + |beta| |c_ij|), the size of
/// the terms that were rounded, so large cancelling sums do not hide behind a loose absolute tolerance.
/// </summary>
[Collection(KernelThreadsCollection.Name)]
public class GemmTests
{
    private static readonly (bool A, bool B)[] Transposes = [(false, false), (false, true), (true, false), (true, true)];

    [Fact]
    public void ReferenceMatchesHandComputedProduct()
    {
        // [1 2; 3 4] * [5 6; 7 8] = [19 22; 43 50]
        float[] a = [1, 2, 3, 4], b = [5, 6, 7, 8], c = new float[4];
        GemmReference.Sgemm(false, false, 2, 2, 2, 1f, a, 2, b, 2, 0f, c, 2);
        Assert.Equal([19f, 22f, 43f, 50f], c);
        // A^T * B with A^T = [1 3; 2 4]: [26 30; 38 44]
        GemmReference.Sgemm(true, false, 2, 2, 2, 1f, a, 2, b, 2, 0f, c, 2);
        Assert.Equal([26f, 30f, 38f, 44f], c);
    }

    [Fact]
    public void FastMatchesHandComputedProduct()
    {
        float[] a = [1, 2, 3, 4], b = [5, 6, 7, 8], c = new float[4];
        Gemm.Sgemm(false, false, 2, 2, 2, 1f, a, 2, b, 2, 0f, c, 2);
        Assert.Equal([19f, 22f, 43f, 50f], c);
        Gemm.Sgemm(true, true, 2, 2, 2, 1f, a, 2, b, 2, 0f, c, 2);
        // A^T * B^T = [1 3; 2 4] * [5 7; 6 8] = [23 31; 34 46]
        Assert.Equal([23f, 31f, 34f, 46f], c);
    }

    [Fact]
    public void SweepsEveryMAndNUpTo64()
    {
        // All m, n in 0..64 at two depths; the transpose combination rotates so each appears everywhere.
        var rng = new Random(1);
        foreach (int k in new[] { 1, 19 })
            for (int m = 0; m <= 64; m++)
                for (int n = 0; n <= 64; n++)
                {
                    var (ta, tb) = Transposes[(m + 3 * n + k) % 4];
                    Check(rng, ta, tb, m, n, k, 1f, 0f);
                }
    }

    [Fact]
    public void SweepsEveryKUpTo64()
    {
        var rng = new Random(2);
        foreach (var (m, n) in new[] { (1, 1), (6, 16), (7, 17), (13, 35), (12, 32) })
            for (int k = 0; k <= 64; k++)
                foreach (var (ta, tb) in Transposes)
                    Check(rng, ta, tb, m, n, k, 1f, 0f);
    }

    [Fact]
    public void PackedAndSmallPathsEachMatchTheReference()
    {
        // The public entry picks a path by size; here each path runs on shapes the other would take.
        var rng = new Random(8);
        foreach (var path in new[] { Path.Packed, Path.Small })
            for (int m = 1; m <= 40; m += 3)
                for (int n = 1; n <= 40; n += 1)
                {
                    var (ta, tb) = Transposes[(m + n) % 4];
                    Check(rng, ta, tb, m, n, 1 + (m * n) % 40, 0.5f, n % 3 == 0 ? 0f : 0.5f, pad: n % 2, path: path);
                }
        foreach (var (ta, tb) in Transposes)
            Check(rng, ta, tb, 64, 64, 64, 1f, 0f, path: Path.Packed);
    }

    [Fact]
    public void RowDotPathMatchesTheReferenceAtEveryRowCountAndOddShapes()
    {
        // The few-rows path (A * B^T without packing): every m in 1..64, widths around its 4-column
        // blocks, depths with and without a tail past the last 8-wide step, padded leading dimensions.
        var rng = new Random(10);
        for (int m = 1; m <= 64; m++)
            foreach (int n in new[] { 1, 3, 4, 7, 16, 33 })
            {
                int k = new[] { 16, 17, 23, 64, 71, 256 }[(m + n) % 6];
                Check(rng, false, true, m, n, k, m % 5 == 0 ? -0.5f : 1f, m % 3 == 0 ? 0.5f : 0f, pad: m % 3, path: Path.RowDot);
            }
        foreach (var (m, n, k) in new[] { (50, 256, 256), (50, 1024, 256), (50, 256, 1024), (1, 512, 256), (7, 13, 1029) })
            Check(rng, false, true, m, n, k, 1f, 1f, path: Path.RowDot);
        Check(rng, false, true, 5, 9, 20, 0f, 0.5f, path: Path.RowDot); // alpha 0 only scales C
        Check(rng, false, true, 50, 77, 256, 1f, 0.5f, path: Path.RowDot, bias: true); // the bias after row dots, as Gemm adds it
        // Through the public entry, split across threads along N: each element is computed as on one thread.
        int saved = KernelThreads.Count;
        try
        {
            AssertOneAndTwoThreadsAgree(rng, false, true, 50, 1024, 256);
            Check(rng, false, true, 64, 600, 300, 1f, 0.5f);
        }
        finally
        {
            KernelThreads.Count = saved;
        }
    }

    [Fact]
    public void WeightGradientShapesComputedThroughTheTransposeMatchTheReference()
    {
        var rng = new Random(17);
        Assert.True(Gemm.TransposeIsFaster(true, false, 160, 40, 600)); // the shapes below take that route
        Assert.False(Gemm.TransposeIsFaster(true, false, 40, 160, 600));
        int saved = KernelThreads.Count;
        try
        {
            foreach (int threads in new[] { 1, 2 })
            {
                KernelThreads.Count = threads;
                Check(rng, true, false, 160, 40, 600, 1f, 0f);                    // C holds NaN: never read
                Check(rng, true, false, 160, 40, 600, -1.5f, 0.5f, pad: 3);
                Check(rng, true, false, 257, 64, 515, 1f, 1f, bias: true);
                Check(rng, true, false, 130, 33, 1100, 0.5f, 0f, pad: 1, bias: true);
            }
            AssertOneAndTwoThreadsAgree(rng, true, false, 160, 40, 600); // on this route too
        }
        finally
        {
            KernelThreads.Count = saved;
        }
    }

    [Theory]
    [InlineData(1f, 0f)]
    [InlineData(0.5f, 1f)]
    [InlineData(-2f, 0.25f)]
    [InlineData(1f, -1f)]
    [InlineData(0f, 0.5f)]
    public void AlphaAndBetaVariations(float alpha, float beta)
    {
        var rng = new Random(3);
        foreach (var (ta, tb) in Transposes)
        {
            Check(rng, ta, tb, 23, 41, 37, alpha, beta);
            Check(rng, ta, tb, 150, 70, 300, alpha, beta); // crosses the MC and KC block edges
            Check(rng, ta, tb, 5, 9, 0, alpha, beta);
        }
    }

    [Fact]
    public void LeadingDimensionsLargerThanRows()
    {
        var rng = new Random(4);
        foreach (var (ta, tb) in Transposes)
        {
            Check(rng, ta, tb, 19, 35, 27, 1.5f, 0.5f, pad: 5);
            Check(rng, ta, tb, 64, 48, 300, 1f, 0f, pad: 13);
        }
    }

    [Fact]
    public void OddLargeShapes()
    {
        var rng = new Random(5);
        foreach (var (ta, tb) in Transposes)
        {
            Check(rng, ta, tb, 257, 129, 301, 1f, 0f);
            Check(rng, ta, tb, 1000, 3, 7, 1f, 0.5f);
            Check(rng, ta, tb, 3, 1000, 7, 1f, 0f);
            Check(rng, ta, tb, 4, 5, 1100, 1f, 0f);
        }
        Check(rng, false, true, 100, 4200, 20, 1f, 0f); // N crosses the NC panel edge
    }

    [Fact]
    public void OneAndTwoThreadsGiveIdenticalResults()
    {
        var rng = new Random(6);
        int saved = KernelThreads.Count;
        try
        {
            foreach (var (ta, tb) in Transposes)
            {
                foreach (var (m, n, k) in new[] { (301, 97, 129), (97, 301, 260), (160, 128, 128) })
                    AssertOneAndTwoThreadsAgree(rng, ta, tb, m, n, k);
            }
        }
        finally
        {
            KernelThreads.Count = saved;
        }
    }

    [Theory]
    [InlineData(64, 16, 16, 64)]   // attention-sized: spread across threads by batch
    [InlineData(3, 200, 150, 90)]  // few large products: each one split
    [InlineData(1, 7, 9, 11)]
    [InlineData(0, 7, 9, 11)]
    public void BatchedMatchesReferenceWithSharedOperands(int batch, int m, int n, int k)
    {
        var rng = new Random(7);
        foreach (var (ta, tb) in Transposes)
        {
            int lda = ta ? m + 1 : k + 2, ldb = tb ? k + 3 : n + 1, ldc = n + 2;
            int aSize = (ta ? k : m) * lda, bSize = (tb ? n : k) * ldb, cSize = m * ldc;
            // Strides 0 (shared), tight and padded.
            foreach (var (sa, sb) in new[] { (aSize, 0), (0, bSize + 5), (aSize + 3, bSize) })
            {
                float[] a = Fill(rng, Math.Max(1, sa * batch + aSize)), b = Fill(rng, Math.Max(1, sb * batch + bSize));
                float[] c = Fill(rng, cSize * batch), expected = (float[])c.Clone(), prior = (float[])c.Clone();
                Gemm.SgemmBatched(ta, tb, batch, m, n, k, 1.25f, a, lda, sa, b, ldb, sb, 0.5f, c, ldc, cSize);
                GemmReference.SgemmBatched(ta, tb, batch, m, n, k, 1.25f, a, lda, sa, b, ldb, sb, 0.5f, expected, ldc, cSize);
                float[] absA = Abs(a), absB = Abs(b);
                for (int t = 0; t < batch; t++)
                {
                    AssertClose(expected.AsSpan(t * cSize, cSize), c.AsSpan(t * cSize, cSize), absA.AsSpan(t * sa), absB.AsSpan(t * sb),
                        ta, tb, m, n, k, lda, ldb, ldc, 1.25f, 0.5f, prior.AsSpan(t * cSize, cSize));
                }
            }
        }
    }

    [Fact]
    public void BatchedWithSharedCSumsTheProductsWhenBetaIsOne()
    {
        var rng = new Random(9);
        const int batch = 40, m = 9, n = 20, k = 33;
        float[] a = Fill(rng, batch * m * k), b = Fill(rng, batch * k * n), c = Fill(rng, m * n);
        float[] expected = (float[])c.Clone();
        Gemm.SgemmBatched(false, false, batch, m, n, k, 1f, a, k, m * k, b, n, k * n, 1f, c, n, 0);
        GemmReference.SgemmBatched(false, false, batch, m, n, k, 1f, a, k, m * k, b, n, k * n, 1f, expected, n, 0);
        for (int i = 0; i < c.Length; i++)
            Assert.True(Math.Abs(c[i] - expected[i]) <= 1e-4 * batch * k, $"C[{i}] = {c[i]}, reference {expected[i]}");
    }

    [Fact]
    public void BiasInTheEpilogueMatchesTheReferenceAtEveryMAndN()
    {
        // Every m, n in 0..64 at depths that take the small path, the packed path and k == 0 (bias only);
        // each public call also runs split across two threads when the product is large enough.
        var rng = new Random(10);
        foreach (int k in new[] { 0, 1, 19 })
            for (int m = 0; m <= 64; m += m < 16 ? 1 : 7)
                for (int n = 0; n <= 64; n++)
                {
                    var (ta, tb) = Transposes[(m + 3 * n + k) % 4];
                    Check(rng, ta, tb, m, n, k, 1f, (m + n) % 3 == 0 ? 0.5f : 0f, pad: n % 2, bias: true);
                }
    }

    [Fact]
    public void BiasInTheEpilogueOnEveryPathAndBlockEdge()
    {
        var rng = new Random(11);
        foreach (var (ta, tb) in Transposes)
        {
            foreach (var path in new[] { Path.Packed, Path.Small })
                Check(rng, ta, tb, 13, 37, 29, 0.5f, 1f, pad: 3, path: path, bias: true);
            Check(rng, ta, tb, 150, 70, 300, -1.5f, 0.25f, bias: true); // crosses MC and KC: bias added once
            Check(rng, ta, tb, 257, 129, 301, 1f, 0f, bias: true);
            Check(rng, ta, tb, 4, 5, 0, 1f, 0.5f, bias: true);
        }
        Check(rng, false, true, 100, 4200, 20, 1f, 0f, bias: true); // N crosses the NC panel edge
        int saved = KernelThreads.Count;
        try
        {
            foreach (int threads in new[] { 1, 2, 3 })
            {
                KernelThreads.Count = threads;
                Check(rng, false, true, 301, 97, 129, 1f, 0f, bias: true);
                Check(rng, false, true, 97, 301, 260, 1f, 0f, bias: true);
            }
        }
        finally
        {
            KernelThreads.Count = saved;
        }
    }

    [Fact]
    public void BiasShorterThanNThrows()
    {
        float[] a = new float[4], b = new float[4], c = new float[4];
        var e = Assert.Throws<ArgumentException>(() => Gemm.SgemmBias(false, false, 2, 2, 2, 1f, a, 2, b, 2, 0f, c, 2, new float[1]));
        Assert.Contains("bias has 1", e.Message);
    }

    [Fact]
    public void BadArgumentsThrowNamingTheOperand()
    {
        float[] a = new float[6], b = new float[6], c = new float[4];
        var e = Assert.Throws<ArgumentException>(() => Gemm.Sgemm(false, false, 2, 2, 4, 1f, a, 4, b, 2, 0f, c, 2));
        Assert.Contains("A needs 8", e.Message);
        e = Assert.Throws<ArgumentException>(() => Gemm.Sgemm(false, false, 2, 2, 3, 1f, a, 2, b, 2, 0f, c, 2));
        Assert.Contains("leading dimension of A", e.Message);
        e = Assert.Throws<ArgumentException>(() => Gemm.SgemmBatched(false, false, 2, 2, 2, 3, 1f, a, 3, 0, b, 2, 0, 0f, c, 2, 4));
        Assert.Contains("C needs 8", e.Message);
        Assert.Throws<ArgumentException>(() => Gemm.Sgemm(false, false, -1, 2, 3, 1f, a, 3, b, 2, 0f, c, 2));
    }

    /// <summary>
    /// Runs fast and reference on random operands with leading dimensions padded by <paramref name="pad"/>;
    /// the padding holds NaN, so any read outside the matrix poisons the result. With beta == 0, C starts
    /// as NaN too, since it must be written without being read.
    /// </summary>
    private enum Path { Public, Packed, Small, RowDot }

    /// <summary>The public entry gives bit-identical C on one and on two threads (callers restore KernelThreads.Count).</summary>
    private static void AssertOneAndTwoThreadsAgree(Random rng, bool ta, bool tb, int m, int n, int k)
    {
        float[] a = Fill(rng, m * k), b = Fill(rng, k * n), c0 = Fill(rng, m * n);
        float[] c1 = (float[])c0.Clone(), c2 = (float[])c0.Clone();
        KernelThreads.Count = 1;
        Gemm.Sgemm(ta, tb, m, n, k, 0.75f, a, ta ? m : k, b, tb ? k : n, 0.5f, c1, n);
        KernelThreads.Count = 2;
        Gemm.Sgemm(ta, tb, m, n, k, 0.75f, a, ta ? m : k, b, tb ? k : n, 0.5f, c2, n);
        Assert.Equal(c1, c2);
    }

    private static void Check(Random rng, bool ta, bool tb, int m, int n, int k, float alpha, float beta, int pad = 0, Path path = Path.Public, bool bias = false)
    {
        int aRows = ta ? k : m, aCols = ta ? m : k, bRows = tb ? n : k, bCols = tb ? k : n;
        int lda = aCols + pad, ldb = bCols + pad, ldc = n + pad;
        float[] a = FillPadded(rng, aRows, aCols, lda), b = FillPadded(rng, bRows, bCols, ldb);
        float[] c = beta == 0f ? Enumerable.Repeat(float.NaN, m * ldc).ToArray() : FillPadded(rng, m, n, ldc);
        float[] expected = (float[])c.Clone();
        float[] prior = (float[])c.Clone();
        // The bias is exactly n long, so a read past its end would be caught by the span checks (public
        // path) or, on the internal paths, poison the result through the NaN that follows it.
        float[]? biasValues = bias ? FillPadded(rng, 1, n, n) : null;
        float[]? biasPadded = bias ? [.. biasValues!, float.NaN, float.NaN] : null;
        if (path == Path.Public && bias)
            Gemm.SgemmBias(ta, tb, m, n, k, alpha, a, Math.Max(1, lda), b, Math.Max(1, ldb), beta, c, Math.Max(1, ldc), biasValues.AsSpan(0, n));
        else if (path == Path.Public)
            Gemm.Sgemm(ta, tb, m, n, k, alpha, a, Math.Max(1, lda), b, Math.Max(1, ldb), beta, c, Math.Max(1, ldc));
        else
            RunPath(path, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, biasPadded);
        if (bias)
            GemmReference.SgemmBias(ta, tb, m, n, k, alpha, a, Math.Max(1, lda), b, Math.Max(1, ldb), beta, expected, Math.Max(1, ldc), biasValues);
        else
            GemmReference.Sgemm(ta, tb, m, n, k, alpha, a, Math.Max(1, lda), b, Math.Max(1, ldb), beta, expected, Math.Max(1, ldc));
        AssertClose(expected, c, Abs(a), Abs(b), ta, tb, m, n, k, lda, ldb, ldc, alpha, beta, prior, biasValues);
        // The padding of C is left as it was.
        for (int i = 0; i < m; i++)
            for (int j = n; j < ldc; j++)
                Assert.True(float.IsNaN(c[i * ldc + j]) == float.IsNaN(prior[i * ldc + j]) && (float.IsNaN(prior[i * ldc + j]) || c[i * ldc + j] == prior[i * ldc + j]),
                    $"padding of C changed at ({i}, {j})");
    }

    private static unsafe void RunPath(Path path, bool ta, bool tb, int m, int n, int k, float alpha,
        float[] a, int lda, float[] b, int ldb, float beta, float[] c, int ldc, float[]? bias = null)
    {
        fixed (float* pa = a, pb = b, pc = c, pbias = bias)
        {
            if (path == Path.Packed) GemmPacked.Run(ta, tb, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, pbias);
            else if (path == Path.RowDot)
            {
                GemmRowDot.Run(m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
                GemmPacked.AddBias(m, n, pbias, pc, ldc);
            }
            else GemmSmall.Run(ta, tb, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, pbias);
        }
    }

    private static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, ReadOnlySpan<float> absA, ReadOnlySpan<float> absB,
        bool ta, bool tb, int m, int n, int k, int lda, int ldb, int ldc, float alpha, float beta, ReadOnlySpan<float> priorC, float[]? bias = null)
    {
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double scale = 0;
                for (int p = 0; p < k; p++)
                    scale += (ta ? absA[p * lda + i] : absA[i * lda + p]) * (double)(tb ? absB[j * ldb + p] : absB[p * ldb + j]);
                scale = Math.Abs(alpha) * scale + (beta != 0f ? Math.Abs(beta * priorC[i * ldc + j]) : 0) + (bias is null ? 0 : Math.Abs(bias[j]));
                float e = expected[i * ldc + j], got = actual[i * ldc + j];
                if (!(Math.Abs(e - got) <= 1e-5 * scale + 1e-30))
                    Assert.Fail($"m {m} n {n} k {k} transA {ta} transB {tb}: C[{i}, {j}] = {got}, reference {e} (scale {scale})");
            }
        }
    }

    private static float[] Fill(Random rng, int count)
    {
        var x = new float[count];
        for (int i = 0; i < count; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }

    private static float[] FillPadded(Random rng, int rows, int cols, int ld)
    {
        var x = new float[Math.Max(1, rows * ld)];
        Array.Fill(x, float.NaN);
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                x[r * ld + c] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }

    private static float[] Abs(float[] x) => x.Select(Math.Abs).ToArray();
}
