using GenSearch.Tensors;
using GenSearch.Tensors.Kernels;

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

    /// <summary>
    /// Inference form of <see cref="Forward"/> on the same weights, no autograd: y [rows, out] = x [rows, in] W^T + b,
    /// rows = x.Length / in, as <see cref="Tensor.Linear"/> computes it (the bias in the GEMM's epilogue).
    /// </summary>
    public void Infer(ReadOnlySpan<float> x, Span<float> y)
    {
        int inDim = Weight.Shape[1], outDim = Weight.Shape[0], rows = x.Length / inDim;
        if (rows * inDim != x.Length || y.Length < rows * outDim) throw new ArgumentException($"Linear: {x.Length} inputs and {y.Length} outputs for [{outDim}, {inDim}]");
        if (Bias is not null)
            Gemm.SgemmBias(false, true, rows, outDim, inDim, 1f, x, inDim, Weight.Data, inDim, 0f, y, outDim, Bias.Data);
        else
            Gemm.Sgemm(false, true, rows, outDim, inDim, 1f, x, inDim, Weight.Data, inDim, 0f, y, outDim);
    }
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

    /// <summary>Inference form of <see cref="Forward"/>: the row of <paramref name="id"/>, read in place.</summary>
    public ReadOnlySpan<float> Row(int id)
    {
        int count = Weight.Shape[0], dim = Weight.Shape[1];
        if ((uint)id >= (uint)count) throw new ArgumentOutOfRangeException(nameof(id), $"id {id} is outside the table of {count}");
        return Weight.Data.AsSpan(id * dim, dim);
    }
}

/// <summary>Layer normalisation over the last axis with a learned scale (ones) and shift (zeros).</summary>
public sealed class LayerNorm : Module
{
    private readonly float _eps;

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

    /// <summary>Inference form of <see cref="Forward"/>: y [rows, dim] = norm(x [rows, dim]) with the kernel <see cref="Tensor.LayerNorm"/> uses.</summary>
    public void Infer(ReadOnlySpan<float> x, Span<float> y)
    {
        int n = Gamma.Size;
        for (int r = 0; r < x.Length / n; r++)
            LayerNormKernels.Forward(x.Slice(r * n, n), Gamma.Data, Beta.Data, y.Slice(r * n, n), _eps);
    }
}
