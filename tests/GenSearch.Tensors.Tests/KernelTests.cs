using GenSearch.Tensors.Kernels;

namespace GenSearch.Tensors.Tests;

/// <summary>The vectorised activation kernels against their scalar and double-precision twins at every length.</summary>
public class KernelTests
{
    /// <summary>Every length 0..64 (all vector/tail splits) plus a few odd longer ones.</summary>
    public static IEnumerable<int> Lengths => Enumerable.Range(0, 65).Concat([127, 257, 1000]);

    private const double C = 0.7978845608028654, A = 0.044715;

    /// <summary>gelu in double through the sigmoid form, which keeps its relative accuracy for large negative x.</summary>
    private static double GeluDouble(double x) => x / (1 + Math.Exp(-2 * C * (x + A * x * x * x)));

    private static double GeluDerivativeDouble(double x)
    {
        double s = 1 / (1 + Math.Exp(-2 * C * (x + A * x * x * x)));
        return s + 2 * x * s * (1 - s) * C * (1 + 3 * A * x * x);
    }

    [Fact]
    public void GeluMatchesScalarTwinAtEveryLength()
    {
        foreach (int n in Lengths)
        {
            var x = Twins.RandomArray(n, n, -6f, 6f);
            var fast = new float[n];
            Activations.Gelu(x, fast);
            var scalar = x.Select(Activations.GeluScalar).ToArray();
            // The float scalar twin (tanh form) loses relative accuracy where gelu is tiny, hence the atol.
            Twins.AssertClose(scalar, fast, rtol: 1e-5, atol: 1e-6, context: $"gelu n={n}");
            Twins.AssertClose(x.Select(v => GeluDouble(v)).ToArray(), fast, rtol: 1e-5, atol: 1e-30, context: $"gelu vs double n={n}");
        }
    }

    [Fact]
    public void GeluBackwardAddMatchesScalarTwinAtEveryLength()
    {
        foreach (int n in Lengths)
        {
            var x = Twins.RandomArray(n, n, -6f, 6f);
            var dy = Twins.RandomArray(n + 1000, n, -2f, 2f);
            var prior = Twins.RandomArray(n + 2000, n);
            var fast = (float[])prior.Clone();
            Activations.GeluBackwardAdd(x, dy, fast);
            var expected = new double[n];
            var scalar = new float[n];
            for (int i = 0; i < n; i++)
            {
                expected[i] = prior[i] + dy[i] * GeluDerivativeDouble(x[i]);
                scalar[i] = prior[i] + dy[i] * Activations.GeluDerivativeScalar(x[i]);
            }
            Twins.AssertClose(scalar, fast, rtol: 1e-5, atol: 1e-5, context: $"gelu' n={n}");
            Twins.AssertClose(expected, fast, rtol: 1e-5, atol: 1e-5, context: $"gelu' vs double n={n}");
        }
    }

    [Fact]
    public void GeluAtExtremesIsFiniteAndCorrect()
    {
        float[] x = [-1e4f, -100f, -20f, -10f, -5f, -1e-3f, -1e-30f, 0f, 1e-30f, 1e-3f, 5f, 10f, 20f, 100f, 1e4f, 0f, 3f];
        var y = new float[x.Length];
        Activations.Gelu(x, y);
        Twins.AssertClose(x.Select(v => GeluDouble(v)).ToArray(), y, rtol: 1e-5, atol: 1e-37, context: "gelu extremes");
        var dx = new float[x.Length];
        Activations.GeluBackwardAdd(x, Enumerable.Repeat(1f, x.Length).ToArray(), dx);
        Twins.AssertClose(x.Select(v => GeluDerivativeDouble(v)).ToArray(), dx, rtol: 1e-5, atol: 1e-6, context: "gelu' extremes");
    }

    [Fact]
    public void GeluInPlaceEqualsOutOfPlace()
    {
        foreach (int n in new[] { 0, 1, 7, 8, 9, 33, 257 })
        {
            var x = Twins.RandomArray(n, n, -4f, 4f);
            var outOfPlace = new float[n];
            Activations.Gelu(x, outOfPlace);
            Activations.Gelu(x, x);
            Assert.Equal(outOfPlace, x);
        }
    }

    [Fact]
    public void ShortSpansAreRejected()
    {
        Assert.Throws<ArgumentException>(() => Activations.Gelu(new float[9], new float[8]));
        Assert.Throws<ArgumentException>(() => Activations.GeluBackwardAdd(new float[9], new float[9], new float[8]));
        Assert.Throws<ArgumentException>(() => Activations.GeluBackwardAdd(new float[9], new float[8], new float[9]));
    }

    [Fact]
    public void TensorGeluUsesTheKernelOnLargeTensorsToo()
    {
        // Above the elementwise grain the op splits the work over threads; every range must be written.
        int n = Tensor.ElementwiseGrain * 3 + 5;
        var x = Tensor.FromArray(Twins.RandomArray(5, n, -3f, 3f), n);
        var y = x.Gelu();
        Twins.AssertClose(x.Data.Select(v => GeluDouble(v)).ToArray(), y.Data, rtol: 1e-5, atol: 1e-30, context: "Tensor.Gelu");
    }
}
