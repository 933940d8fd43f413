namespace GenSearch.Tensors.Tests;

/// <summary>Asserts <see cref="GradientCheck"/> finds no mismatch, naming the first few when it does.</summary>
public static class GradCheck
{
    public static void Check(Func<Tensor[], Tensor> f, Tensor[] inputs, float eps = 3e-3f, float atol = 3e-3f, float rtol = 2e-2f)
    {
        var mismatches = GradientCheck.Run(f, inputs, eps, atol, rtol);
        Assert.True(mismatches.Count == 0, string.Join("; ", mismatches.Take(3)));
    }

    public static Tensor Random(int seed, params int[] shape) => Tensor.Randn(new Rng((ulong)seed), 1f, shape);

    public static Tensor Positive(int seed, params int[] shape) => Tensor.Uniform(new Rng((ulong)seed), 0.5f, 2f, shape);
}
