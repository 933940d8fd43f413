using GenSearch.Tensors.Kernels;

namespace GenSearch.Tensors.Tests;

/// <summary>
/// The row kernels decoding and the attention op run (<see cref="Blas1"/>, <see cref="SoftmaxKernels"/>,
/// <see cref="AttentionKernels"/>) against their slow twins: every length 0..256, odd shapes and
/// strides, masked entries, with a relative tolerance.
/// </summary>
public class RowKernelTests
{
    private static IEnumerable<int> EveryLength => Enumerable.Range(0, 257);

    [Fact]
    public void DotMatchesTwinAtEveryLength()
    {
        foreach (int n in EveryLength)
        {
            var x = Twins.RandomArray(n + 1, n, -2f, 2f);
            var y = Twins.RandomArray(n + 2, n + 3, -2f, 2f); // y may be longer than x
            double expected = Blas1.DotReference(x, y), magnitude = 0;
            for (int i = 0; i < n; i++) magnitude += Math.Abs((double)x[i] * y[i]);
            Twins.AssertClose([expected], [Blas1.Dot(x, y)], rtol: 0, atol: 1e-6 * magnitude + 1e-7, context: $"dot n={n}");
        }
    }

    [Fact]
    public void AddScaledMatchesTwinAtEveryLength()
    {
        foreach (int n in EveryLength)
        {
            var x = Twins.RandomArray(n + 1, n, -2f, 2f);
            var prior = Twins.RandomArray(n + 2, n + 5); // the tail past x's length must stay untouched
            float[] fast = (float[])prior.Clone(), slow = (float[])prior.Clone();
            Blas1.AddScaled(x, -0.75f, fast);
            Blas1.AddScaledReference(x, -0.75f, slow);
            Twins.AssertClose(slow, fast, rtol: 1e-6, atol: 1e-6, context: $"axpy n={n}");
            Assert.Equal(prior.AsSpan(n).ToArray(), fast.AsSpan(n).ToArray());
        }
    }

    /// <summary>A row of spread-out scores with some -infinity entries (masked keys) when <paramref name="masked"/>.</summary>
    private static float[] Scores(int n, bool masked)
    {
        var x = Twins.RandomArray(3 * n + 7, n, -8f, 8f);
        if (masked) for (int i = 0; i < n; i += 3) x[i] = float.NegativeInfinity;
        return x;
    }

    [Fact]
    public void SoftmaxMatchesTwinAtEveryLength()
    {
        foreach (int n in EveryLength)
            foreach (bool masked in new[] { false, true })
            {
                var x = Scores(n, masked);
                float[] fast = new float[n], slow = new float[n];
                SoftmaxKernels.Softmax(x, fast);
                SoftmaxKernels.SoftmaxReference(x, slow);
                Twins.AssertClose(slow, fast, rtol: 1e-5, atol: 1e-7, context: $"softmax n={n} masked={masked}");
                Twins.AssertClose(Twins.Softmax(x), fast, rtol: 1e-5, atol: 1e-7, context: $"softmax vs Twins n={n}");
                SoftmaxKernels.Softmax(x, x); // in place gives the same
                Assert.Equal(fast, x);
            }
    }

    [Fact]
    public void LogSoftmaxMatchesTwinAtEveryLength()
    {
        foreach (int n in EveryLength)
            foreach (bool masked in new[] { false, true })
            {
                var x = Scores(n, masked);
                float[] fast = new float[n], slow = new float[n];
                SoftmaxKernels.LogSoftmax(x, fast);
                SoftmaxKernels.LogSoftmaxReference(x, slow);
                Twins.AssertClose(slow, fast, rtol: 1e-5, atol: 1e-5, context: $"log-softmax n={n} masked={masked}");
                Twins.AssertClose(Twins.LogSoftmax(x), fast, rtol: 1e-5, atol: 1e-5, context: $"log-softmax vs Twins n={n}");
            }
    }

    [Fact]
    public void AllMaskedRowsAreUniform()
    {
        foreach (int n in new[] { 1, 5, 31, 32, 33, 300 })
        {
            var x = Enumerable.Repeat(float.NegativeInfinity, n).ToArray();
            var y = new float[n];
            SoftmaxKernels.Softmax(x, y);
            Assert.All(y, p => Assert.Equal(1f / n, p));
            SoftmaxKernels.LogSoftmax(x, y);
            Assert.All(y, l => Assert.Equal(-MathF.Log(n), l));
        }
    }

    [Fact]
    public void AttentionHeadMatchesTwinAtOddShapes()
    {
        int seed = 0;
        foreach (int queries in new[] { 1, 2, 3, 5 })
            foreach (int keys in new[] { 1, 2, 3, 7, 8, 16, 17, 33 })
                foreach (int width in new[] { 1, 3, 8, 13, 64 })
                    foreach (bool causal in new[] { false, true })
                        foreach (int padded in new[] { -1, 0, 2 }) // -1: no padding; 2: every other key; 0: every key (uniform rows)
                        {
                            if (causal && queries > keys) continue;
                            seed++;
                            int qStride = width + 3, kvStride = width + 5, outStride = width + 2;
                            var q = Twins.RandomArray(seed, (queries - 1) * qStride + width, -2f, 2f);
                            var k = Twins.RandomArray(seed + 1000, (keys - 1) * kvStride + width, -2f, 2f);
                            var v = Twins.RandomArray(seed + 2000, (keys - 1) * kvStride + width);
                            bool[] padding = padded < 0 ? [] : Enumerable.Range(0, keys).Select(j => padded == 0 || j % padded == 1).ToArray();
                            float scale = 1f / MathF.Sqrt(width);
                            var prior = Twins.RandomArray(seed + 3000, (queries - 1) * outStride + width);
                            float[] fast = (float[])prior.Clone(), slow = (float[])prior.Clone();
                            float[] pFast = new float[queries * keys], pSlow = new float[queries * keys];
                            AttentionKernels.Head(q, qStride, k, v, kvStride, queries, keys, width, scale, causal, padding, pFast, fast, outStride);
                            AttentionKernels.HeadReference(q, qStride, k, v, kvStride, queries, keys, width, scale, causal, padding, pSlow, slow, outStride);
                            string context = $"q={queries} k={keys} w={width} causal={causal} padded={padded}";
                            Twins.AssertClose(pSlow, pFast, rtol: 1e-4, atol: 1e-6, context: "p " + context);
                            Twins.AssertClose(slow, fast, rtol: 1e-4, atol: 1e-5, context: "o " + context);
                            // Columns between the strided output rows are left alone.
                            for (int i = 0; i < fast.Length; i++)
                                if (i % outStride >= width) Assert.Equal(prior[i], fast[i]);
                        }
    }
}
