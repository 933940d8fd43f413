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

    /// <summary>
    /// Sets the map W so that the codes B W^T are as close as they can be to <paramref name="codes"/> [K, d]
    /// (least squares, ridge 1e-6 of the mean diagonal): exact when K &lt;= d, since B then has full row rank.
    /// W = C^T (B B^T + lambda I)^-1 B. A SimVQ codebook initialised from data (k-means centroids) in one step:
    /// a random B W^T sits far from the data, where one code (the shortest) is nearest to every point.
    /// </summary>
    public void FitCodes(ReadOnlySpan<float> codes)
    {
        int k = Count, d = Width;
        if (codes.Length != k * d) throw new ArgumentException($"{codes.Length} values for {k} codes of width {d}");
        var b = Basis.Data;
        var gram = new double[k * k];
        for (int i = 0; i < k; i++)
            for (int j = 0; j <= i; j++)
            {
                double dot = 0;
                for (int t = 0; t < d; t++) dot += (double)b[i * d + t] * b[j * d + t];
                gram[i * k + j] = gram[j * k + i] = dot;
            }
        double ridge = 0;
        for (int i = 0; i < k; i++) ridge += gram[i * k + i];
        ridge = 1e-6 * ridge / k;
        for (int i = 0; i < k; i++) gram[i * k + i] += ridge;
        // X = (B B^T + lambda I)^-1 C  [K, d], by Cholesky; then W = X^T B  [d, d] (W[r, s] = sum_i X[i, r] B[i, s]).
        var x = new double[k * d];
        for (int i = 0; i < k * d; i++) x[i] = codes[i];
        CholeskySolve(gram, k, x, d);
        var w = Projection.Data;
        for (int r = 0; r < d; r++)
            for (int s2 = 0; s2 < d; s2++)
            {
                double sum = 0;
                for (int i = 0; i < k; i++) sum += x[i * d + r] * b[i * d + s2];
                w[r * d + s2] = (float)sum;
            }
    }

    /// <summary>Solves A X = Y in place of Y [n, m] for a symmetric positive definite A [n, n] (overwritten by its factor).</summary>
    internal static void CholeskySolve(double[] a, int n, double[] y, int m)
    {
        for (int j = 0; j < n; j++)
        {
            double diag = a[j * n + j];
            for (int t = 0; t < j; t++) diag -= a[j * n + t] * a[j * n + t];
            if (!(diag > 0)) throw new InvalidOperationException("the basis's Gram matrix is not positive definite");
            double l = Math.Sqrt(diag);
            a[j * n + j] = l;
            for (int i = j + 1; i < n; i++)
            {
                double v = a[i * n + j];
                for (int t = 0; t < j; t++) v -= a[i * n + t] * a[j * n + t];
                a[i * n + j] = v / l;
            }
        }
        for (int c = 0; c < m; c++)
        {
            for (int i = 0; i < n; i++) // L z = y
            {
                double v = y[i * m + c];
                for (int t = 0; t < i; t++) v -= a[i * n + t] * y[t * m + c];
                y[i * m + c] = v / a[i * n + i];
            }
            for (int i = n - 1; i >= 0; i--) // L^T x = z
            {
                double v = y[i * m + c];
                for (int t = i + 1; t < n; t++) v -= a[t * n + i] * y[t * m + c];
                y[i * m + c] = v / a[i * n + i];
            }
        }
    }
}
