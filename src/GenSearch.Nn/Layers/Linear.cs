using GenSearch.Tensors;

namespace GenSearch.Nn;

/// <summary>y = x W^T + b, weight [out, in]. Initialised as PyTorch does: U(-1/sqrt(in), 1/sqrt(in)).</summary>
public sealed class Linear : Module
{
    /// <summary>[out, in].</summary>
    public Tensor Weight { get; }

    /// <summary>[out], or null.</summary>
    public Tensor? Bias { get; }

    /// <summary>A layer from <paramref name="inFeatures"/> to <paramref name="outFeatures"/>, seeded by <paramref name="rng"/>.</summary>
    public Linear(int inFeatures, int outFeatures, Rng rng, bool bias = true)
    {
        float bound = 1f / MathF.Sqrt(inFeatures);
        Weight = RegisterParameter("weight", Tensor.Uniform(rng, -bound, bound, outFeatures, inFeatures));
        if (bias) Bias = RegisterParameter("bias", Tensor.Uniform(rng, -bound, bound, outFeatures));
    }

    /// <summary>x [..., in] -> [..., out].</summary>
    public Tensor Forward(Tensor x) => Tensor.Linear(x, Weight, Bias);
}

/// <summary>A lookup table of vectors: ids -> rows of weight [count, dim], initialised N(0, 0.02).</summary>
public sealed class Embedding : Module
{
    /// <summary>[count, dim].</summary>
    public Tensor Weight { get; }

    /// <summary>A table of <paramref name="count"/> vectors of <paramref name="dim"/>.</summary>
    public Embedding(int count, int dim, Rng rng, float std = 0.02f)
        => Weight = RegisterParameter("weight", Tensor.Randn(rng, std, count, dim));

    /// <summary>ids (shape <paramref name="idShape"/>) -> [..idShape, dim].</summary>
    public Tensor Forward(int[] ids, params int[] idShape) => Tensor.Embedding(Weight, ids, idShape);
}

/// <summary>Layer normalisation over the last axis with a learned scale (ones) and shift (zeros).</summary>
public sealed class LayerNorm : Module
{
    private readonly float _eps;

    internal float Epsilon => _eps;

    /// <summary>[dim].</summary>
    public Tensor Gamma { get; }

    /// <summary>[dim].</summary>
    public Tensor Beta { get; }

    /// <summary>Normalises vectors of <paramref name="dim"/>.</summary>
    public LayerNorm(int dim, float eps = 1e-5f)
    {
        _eps = eps;
        Gamma = RegisterParameter("weight", Tensor.Full(1f, dim));
        Beta = RegisterParameter("bias", Tensor.Zeros(dim));
    }

    /// <summary>x [..., dim] -> [..., dim].</summary>
    public Tensor Forward(Tensor x) => Tensor.LayerNorm(x, Gamma, Beta, _eps);
}
