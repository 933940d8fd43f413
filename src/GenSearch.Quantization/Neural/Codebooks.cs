using GenSearch.Nn;
using GenSearch.Tensors;

namespace GenSearch.Quantization;

/// <summary>How a vector-quantization level holds its K code vectors.</summary>
public enum CodebookKind
{
    /// <summary>A learned [K, d] table (VQ-VAE, RQ-VAE): each code moves only when chosen.</summary>
    Plain,
    /// <summary>
    /// SimVQ (Zhu et al., arXiv 2411.02038): C = B W^T, B a frozen Gaussian basis [K, d], W a learned [d, d]
    /// map. Every code moves with W whenever any code is chosen, so codes no point picks are still pulled along.
    /// </summary>
    SimVq,
}

/// <summary>One level's codebook as a module: its code vectors as a tensor whose gradient reaches what trains.</summary>
public abstract class VqCodebook : Module
{
    /// <summary>Number of codes K.</summary>
    public abstract int Count { get; }

    /// <summary>Code width d.</summary>
    public abstract int Width { get; }

    /// <summary>The code vectors [K, d]; in a graph when gradients are enabled.</summary>
    public abstract Tensor Vectors();

    /// <summary>Whether single codes can be overwritten (k-means initialisation, dead-code reset).</summary>
    public abstract bool CanSetCodes { get; }

    /// <summary>Overwrites code <paramref name="code"/> with <paramref name="vector"/> (only when <see cref="CanSetCodes"/>).</summary>
    public abstract void SetCode(int code, ReadOnlySpan<float> vector);

    /// <summary>A codebook of <paramref name="kind"/>, seeded by <paramref name="rng"/>; <paramref name="initStd"/> is the std of the Gaussian init (plain table or SimVQ basis).</summary>
    public static VqCodebook Create(CodebookKind kind, int count, int width, float initStd, Rng rng) => kind switch
    {
        CodebookKind.Plain => new PlainCodebook(count, width, initStd, rng),
        CodebookKind.SimVq => new SimVqCodebook(count, width, initStd, rng),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown codebook kind"),
    };
}

/// <summary>A learned table of code vectors, state-dict name "weight" [K, d], initialised N(0, initStd).</summary>
public sealed class PlainCodebook : VqCodebook
{
    /// <summary>[K, d], trained by the codebook loss.</summary>
    public Tensor Weight { get; }

    /// <summary>A table of <paramref name="count"/> codes of <paramref name="width"/>.</summary>
    public PlainCodebook(int count, int width, float initStd, Rng rng)
        => Weight = RegisterParameter("weight", Tensor.Randn(rng, initStd, count, width));

    /// <inheritdoc/>
    public override int Count => Weight.Shape[0];
    /// <inheritdoc/>
    public override int Width => Weight.Shape[1];
    /// <inheritdoc/>
    public override Tensor Vectors() => Weight;
    /// <inheritdoc/>
    public override bool CanSetCodes => true;

    /// <inheritdoc/>
    public override void SetCode(int code, ReadOnlySpan<float> vector)
    {
        if (vector.Length != Width) throw new ArgumentException($"code vector has {vector.Length} values, the codebook is {Width} wide");
        vector.CopyTo(Weight.Data.AsSpan(code * Width, Width));
    }
}

/// <summary>
/// SimVQ codebook: C = B W^T with B "basis" [K, d] drawn N(0, initStd) and frozen (kept in the state dict with
/// <see cref="Tensor.RequiresGrad"/> false, so checkpoints carry it and optimizers skip it), and W "projection"
/// [d, d] learned, initialised as a PyTorch linear layer. Only W trains.
/// </summary>
public sealed class SimVqCodebook : VqCodebook
{
    /// <summary>The frozen random basis B [K, d].</summary>
    public Tensor Basis { get; }

    /// <summary>The learned map W [d, d].</summary>
    public Tensor Projection { get; }

    /// <summary>A SimVQ codebook of <paramref name="count"/> codes of <paramref name="width"/>.</summary>
    public SimVqCodebook(int count, int width, float initStd, Rng rng)
    {
        Basis = RegisterParameter("basis", Tensor.Randn(rng, initStd, count, width));
        Basis.RequiresGrad = false;
        float bound = 1f / MathF.Sqrt(width);
        Projection = RegisterParameter("projection", Tensor.Uniform(rng, -bound, bound, width, width));
    }

    /// <inheritdoc/>
    public override int Count => Basis.Shape[0];
    /// <inheritdoc/>
    public override int Width => Basis.Shape[1];
    /// <inheritdoc/>
    public override Tensor Vectors() => Tensor.Linear(Basis, Projection, null); // [K, d] = B W^T
    /// <inheritdoc/>
    public override bool CanSetCodes => false;

    /// <inheritdoc/>
    public override void SetCode(int code, ReadOnlySpan<float> vector)
        => throw new InvalidOperationException("a SimVQ code is a linear image of a frozen basis row and cannot be set on its own");
}
