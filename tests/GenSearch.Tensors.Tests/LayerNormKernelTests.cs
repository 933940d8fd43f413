using GenSearch.Tensors.Kernels;

namespace GenSearch.Tensors.Tests;

/// <summary>The fused one-row layer-norm kernels against their double-precision scalar twins at every length.</summary>
public class LayerNormKernelTests
{
    public static IEnumerable<int> Lengths => Enumerable.Range(1, 64).Concat([127, 255, 256, 257, 1024]);

    [Fact]
    public void ForwardMatchesTwinAtEveryLength()
    {
        foreach (int n in Lengths)
        {
            // An offset mean and a spread of scales, so the two-pass variance matters.
            var x = Twins.RandomArray(n, n, 3f, 5f);
            var gamma = Twins.RandomArray(n + 1, n, 0.5f, 1.5f);
            var beta = Twins.RandomArray(n + 2, n);
            float[] fast = new float[n], slow = new float[n];
            var (mean, rstd) = LayerNormKernels.Forward(x, gamma, beta, fast, 1e-5f);
            var (refMean, refRstd) = LayerNormKernels.ForwardReference(x, gamma, beta, slow, 1e-5f);
            Assert.Equal(refMean, mean, 1e-5f * Math.Abs(refMean));
            Assert.Equal(refRstd, rstd, 1e-4f * refRstd);
            Twins.AssertClose(slow, fast, rtol: 1e-4, atol: 1e-4, context: $"layer norm n={n}");
        }
    }

    [Fact]
    public void BackwardMatchesTwinAtEveryLength()
    {
        foreach (int n in Lengths)
        {
            var x = Twins.RandomArray(n, n, -2f, 2f);
            var gamma = Twins.RandomArray(n + 1, n, 0.5f, 1.5f);
            var g = Twins.RandomArray(n + 3, n);
            var (mean, rstd) = LayerNormKernels.ForwardReference(x, gamma, new float[n], new float[n], 1e-5f);
            // Prior parameter gradients: the kernels add into them.
            var priorGamma = Twins.RandomArray(n + 4, n); var priorBeta = Twins.RandomArray(n + 5, n);
            float[] dx = new float[n], dGamma = (float[])priorGamma.Clone(), dBeta = (float[])priorBeta.Clone();
            float[] refDx = new float[n], refGamma = (float[])priorGamma.Clone(), refBeta = (float[])priorBeta.Clone();
            LayerNormKernels.Backward(x, g, gamma, mean, rstd, dx, dGamma, dBeta);
            LayerNormKernels.BackwardReference(x, g, gamma, mean, rstd, refDx, refGamma, refBeta);
            Twins.AssertClose(refDx, dx, rtol: 1e-4, atol: 1e-5, context: $"dx n={n}");
            Twins.AssertClose(refGamma, dGamma, rtol: 1e-5, atol: 1e-6, context: $"dgamma n={n}");
            Twins.AssertClose(refBeta, dBeta, rtol: 1e-5, atol: 1e-6, context: $"dbeta n={n}");

            // Without dx only the parameter gradients move.
            float[] dGamma2 = (float[])priorGamma.Clone(), dBeta2 = (float[])priorBeta.Clone();
            LayerNormKernels.Backward(x, g, gamma, mean, rstd, Span<float>.Empty, dGamma2, dBeta2);
            Assert.Equal(dGamma, dGamma2);
            Assert.Equal(dBeta, dBeta2);
        }
    }

    [Fact]
    public void ShortSpansThrow()
    {
        Assert.Throws<ArgumentException>(() => LayerNormKernels.Forward(new float[8], new float[7], new float[8], new float[8], 1e-5f));
        Assert.Throws<ArgumentException>(() => LayerNormKernels.Backward(new float[8], new float[8], new float[8], 0f, 1f, new float[7], new float[8], new float[8]));
    }
}
