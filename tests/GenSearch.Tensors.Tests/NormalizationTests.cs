namespace GenSearch.Tensors.Tests;

/// <summary>Softmax, LogSoftmax and LayerNorm against double-precision row loops.</summary>
[Collection(KernelThreadsCollection.Name)]
public class NormalizationTests
{
    /// <summary>Rows of random values with some entries masked to -infinity (never all, unless the row is length 0).</summary>
    private static Tensor MaskedRows(int seed, int rows, int n, float scale)
    {
        var values = Twins.RandomArray(seed, rows * n, -scale, scale);
        var rng = new Rng((ulong)seed + 100);
        for (int r = 0; r < rows; r++)
            for (int j = 1; j < n; j++)
                if (rng.NextFloat() < 0.2f) values[r * n + j] = float.NegativeInfinity;
        return Tensor.FromArray(values, rows, n);
    }

    private static void CheckSoftmaxFamily(Tensor x, string context)
    {
        int n = x.Shape[^1], rows = n == 0 ? 0 : x.Size / n;
        var softmax = x.Softmax();
        var logSoftmax = x.LogSoftmax();
        Assert.Equal(x.Shape, softmax.Shape);
        Assert.Equal(x.Shape, logSoftmax.Shape);
        for (int r = 0; r < rows; r++)
        {
            var p = Twins.Softmax(x.Data.AsSpan(r * n, n));
            Twins.AssertClose(p, softmax.Data.AsSpan(r * n, n), rtol: 1e-5, atol: 1e-7, context: $"softmax {context} row {r}");
            Twins.AssertClose(Twins.LogSoftmax(x.Data.AsSpan(r * n, n)), logSoftmax.Data.AsSpan(r * n, n), rtol: 1e-5, atol: 1e-5, context: $"log-softmax {context} row {r}");
        }
    }

    [Fact]
    public void SoftmaxFamilyMatchesDoubleTwinAtEveryRowLength()
    {
        foreach (int n in KernelTests.Lengths)
        {
            CheckSoftmaxFamily(Tensor.FromArray(Twins.RandomArray(n, 3 * n, -5f, 5f), 3, n), $"n={n}");
            CheckSoftmaxFamily(MaskedRows(n, 3, n, 5f), $"masked n={n}");
        }
    }

    [Fact]
    public void SoftmaxFamilyIsStableForLargeValues()
    {
        foreach (int n in new[] { 1, 2, 9, 64, 257 })
        {
            CheckSoftmaxFamily(Tensor.FromArray(Twins.RandomArray(n, 2 * n, 1e4f - 10f, 1e4f + 10f), 2, n), $"around 1e4 n={n}");
            CheckSoftmaxFamily(Tensor.FromArray(Twins.RandomArray(n, 2 * n, -1e4f, 1e4f), 2, n), $"spread 1e4 n={n}");
            CheckSoftmaxFamily(Tensor.FromArray(Twins.RandomArray(n, 2 * n, -1e30f, 1e30f), 2, n), $"spread 1e30 n={n}");
        }
    }

    [Fact]
    public void AllMaskedRowIsUniformNotNaN()
    {
        // An all -infinity row (fully masked attention or vocabulary) is uniform under Softmax, and
        // LogSoftmax agrees with log(Softmax), so no NaN reaches a loss or a beam score.
        foreach (int n in new[] { 1, 3, 8, 300 })
        {
            var x = Tensor.FromArray(Enumerable.Repeat(float.NegativeInfinity, n).Concat(Twins.RandomArray(n, n)).ToArray(), 2, n);
            CheckSoftmaxFamily(x, $"all masked n={n}");
        }
    }

    [Fact]
    public void SoftmaxRowsSumToOneOverRank3()
    {
        var y = Twins.Random(5, 2, 3, 50).Softmax();
        for (int r = 0; r < 6; r++)
            Assert.Equal(1.0, y.Data.AsSpan(r * 50, 50).ToArray().Sum(v => (double)v), 1e-5);
    }

    [Fact]
    public void SoftmaxOfEmptyRowsKeepsShape()
    {
        Assert.Equal([3, 0], Tensor.Zeros(3, 0).Softmax().Shape);
        Assert.Equal([0, 4], Tensor.Zeros(0, 4).LogSoftmax().Shape);
    }

    private static void CheckLayerNorm(Tensor x, Tensor gamma, Tensor beta, float eps, double rtol, double atol, string context)
    {
        int n = x.Shape[^1], rows = n == 0 ? 0 : x.Size / n;
        var y = Tensor.LayerNorm(x, gamma, beta, eps);
        Assert.Equal(x.Shape, y.Shape);
        for (int r = 0; r < rows; r++)
            Twins.AssertClose(Twins.LayerNorm(x.Data.AsSpan(r * n, n), gamma.Data, beta.Data, eps), y.Data.AsSpan(r * n, n), rtol, atol, $"layer norm {context} row {r}");
    }

    [Fact]
    public void LayerNormMatchesDoubleTwinAtEveryRowLength()
    {
        foreach (int n in KernelTests.Lengths)
        {
            var x = Tensor.FromArray(Twins.RandomArray(n, 4 * n, -3f, 3f), 2, 2, n);
            var gamma = Tensor.Uniform(new Rng((ulong)n + 1), 0.5f, 1.5f, n);
            var beta = Twins.Random(n + 2, n);
            CheckLayerNorm(x, gamma, beta, 1e-5f, 1e-4, 1e-4, $"n={n}");
        }
    }

    [Fact]
    public void LayerNormOfConstantRowsIsBeta()
    {
        // Zero variance: (x - mean) = 0 exactly, so the output is beta with no NaN from 0 / sqrt(eps).
        foreach (int n in new[] { 1, 2, 8, 33 })
        {
            var x = Tensor.FromArray(new float[] { 3.25f, -7f, 0f }.SelectMany(v => Enumerable.Repeat(v, n)).ToArray(), 3, n);
            var gamma = Twins.Random(1, n);
            var beta = Twins.Random(2, n);
            var y = Tensor.LayerNorm(x, gamma, beta);
            for (int r = 0; r < 3; r++) Assert.Equal(beta.Data, y.Data.AsSpan(r * n, n).ToArray());
        }
    }

    [Fact]
    public void LayerNormWithLargeOffsetAndManyRowsMatchesTwin()
    {
        // A large common offset tests the two-pass variance; many rows exercise the threaded path.
        int rows = 4 * Tensor.ElementwiseGrain / 64 + 3, n = 64;
        var values = Twins.RandomArray(11, rows * n, -1f, 1f).Select(v => v + 1000f).ToArray();
        CheckLayerNorm(Tensor.FromArray(values, rows, n), Tensor.Full(1f, n), Tensor.Zeros(n), 1e-5f, 2e-3, 2e-3, "offset 1000");
    }

    [Fact]
    public void LayerNormParameterGradientsDoNotDependOnThreadTiming()
    {
        // Each thread sums its rows' dGamma/dBeta; adding those partial sums in completion order would
        // make training runs differ in the last bits from run to run. They must be bit-identical.
        int saved = Kernels.KernelThreads.Count;
        try
        {
            Kernels.KernelThreads.Count = 8;
            int n = 16, rows = 16 * Tensor.ElementwiseGrain / n;
            var x = Tensor.FromArray(Twins.RandomArray(21, rows * n, -3f, 3f), rows, n);
            var upstream = Tensor.FromArray(Twins.RandomArray(22, rows * n, -1f, 1f), rows, n);
            float[]? first = null;
            for (int run = 0; run < 12; run++)
            {
                var gamma = Tensor.Full(1f, n); gamma.RequiresGrad = true;
                var beta = Tensor.Zeros(n); beta.RequiresGrad = true;
                (Tensor.LayerNorm(x, gamma, beta) * upstream).SumAll().Backward();
                var grads = gamma.Grad!.Concat(beta.Grad!).ToArray();
                if (first is null) first = grads;
                else Assert.Equal(first, grads);
            }
        }
        finally { Kernels.KernelThreads.Count = saved; }
    }

    [Fact]
    public void ScalarInputIsAClearErrorNotAnIndexFault()
    {
        var scalar = Tensor.Scalar(1f);
        Assert.Contains("Softmax", Assert.Throws<ArgumentException>(() => scalar.Softmax()).Message);
        Assert.Contains("LogSoftmax", Assert.Throws<ArgumentException>(() => scalar.LogSoftmax()).Message);
        Assert.Contains("LayerNorm", Assert.Throws<ArgumentException>(() => Tensor.LayerNorm(scalar, Tensor.Full(1f, 1), Tensor.Zeros(1))).Message);
    }

    [Fact]
    public void LayerNormRejectsWrongParameterSizes()
    {
        var ex = Assert.Throws<ArgumentException>(() => Tensor.LayerNorm(Tensor.Zeros(2, 4), Tensor.Zeros(3), Tensor.Zeros(4)));
        Assert.Contains("LayerNorm", ex.Message);
        Assert.Contains("[3]", ex.Message);
    }
}
