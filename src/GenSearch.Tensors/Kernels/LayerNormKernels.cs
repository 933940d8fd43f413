using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace GenSearch.Tensors.Kernels;

/// <summary>
/// Layer normalisation of one row, forward and backward, each in as few passes over the row as the
/// arithmetic allows: forward reads the row twice for the mean and the (two-pass, so stable) variance
/// and writes it once; backward makes one pass for the parameter gradients and the two row means it
/// needs, and one to write dx. The scalar twins (double accumulators, the textbook formulas) are
/// what the tests hold them against.
/// </summary>
public static class LayerNormKernels
{
    /// <summary>
    /// y = (x - mean) * rstd * gamma + beta over one row, with the biased variance as in PyTorch;
    /// returns the mean and rstd = 1 / sqrt(var + eps) for the backward.
    /// </summary>
    public static (float Mean, float Rstd) Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, Span<float> y, float eps)
    {
        int n = x.Length;
        if (gamma.Length < n || beta.Length < n || y.Length < n) throw new ArgumentException("layer norm spans shorter than the row");
        if (n == 0) return (0f, 1f / MathF.Sqrt(eps));
        float mu = Sum(x) / n;
        var vmu = Vector256.Create(mu);
        var acc = Vector256<float>.Zero;
        int i = 0;
        for (; i <= n - 8; i += 8)
        {
            var d = Vector256.Create(x.Slice(i, 8)) - vmu;
            acc += d * d;
        }
        float sq = Vector256.Sum(acc);
        for (; i < n; i++) sq += (x[i] - mu) * (x[i] - mu);
        float rs = 1f / MathF.Sqrt(sq / n + eps);
        var vrs = Vector256.Create(rs);
        i = 0;
        for (; i <= n - 8; i += 8)
        {
            var xhat = (Vector256.Create(x.Slice(i, 8)) - vmu) * vrs;
            Vector256.FusedMultiplyAdd(xhat, Vector256.Create(gamma.Slice(i, 8)), Vector256.Create(beta.Slice(i, 8))).CopyTo(y.Slice(i, 8));
        }
        for (; i < n; i++) y[i] = MathF.FusedMultiplyAdd((x[i] - mu) * rs, gamma[i], beta[i]);
        return (mu, rs);
    }

    /// <summary>
    /// One row's backward: adds g * xhat into <paramref name="dGamma"/> and g into <paramref name="dBeta"/>,
    /// and when <paramref name="dx"/> is not empty writes dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)),
    /// dxhat = g * gamma, xhat = (x - mean) * rstd.
    /// </summary>
    public static void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> g, ReadOnlySpan<float> gamma, float mean, float rstd,
        Span<float> dx, Span<float> dGamma, Span<float> dBeta)
    {
        int n = x.Length;
        if (g.Length < n || gamma.Length < n || dGamma.Length < n || dBeta.Length < n || (!dx.IsEmpty && dx.Length < n))
            throw new ArgumentException("layer norm gradient spans shorter than the row");
        var vmu = Vector256.Create(mean); var vrs = Vector256.Create(rstd);
        Vector256<float> accD = Vector256<float>.Zero, accDX = Vector256<float>.Zero;
        int i = 0;
        for (; i <= n - 8; i += 8)
        {
            var xhat = (Vector256.Create(x.Slice(i, 8)) - vmu) * vrs;
            var gv = Vector256.Create(g.Slice(i, 8));
            Vector256.FusedMultiplyAdd(gv, xhat, Vector256.Create(dGamma.Slice(i, 8))).CopyTo(dGamma.Slice(i, 8));
            (Vector256.Create(dBeta.Slice(i, 8)) + gv).CopyTo(dBeta.Slice(i, 8));
            var dxhat = gv * Vector256.Create(gamma.Slice(i, 8));
            accD += dxhat;
            accDX = Vector256.FusedMultiplyAdd(dxhat, xhat, accDX);
        }
        float sumD = Vector256.Sum(accD), sumDX = Vector256.Sum(accDX);
        for (; i < n; i++)
        {
            float xhat = (x[i] - mean) * rstd;
            dGamma[i] = MathF.FusedMultiplyAdd(g[i], xhat, dGamma[i]);
            dBeta[i] += g[i];
            float dxhat = g[i] * gamma[i];
            sumD += dxhat;
            sumDX += dxhat * xhat;
        }
        if (dx.IsEmpty || n == 0) return;
        float meanD = sumD / n, meanDX = sumDX / n;
        var vmeanD = Vector256.Create(meanD); var vmeanDX = Vector256.Create(meanDX);
        i = 0;
        for (; i <= n - 8; i += 8)
        {
            var xhat = (Vector256.Create(x.Slice(i, 8)) - vmu) * vrs;
            var dxhat = Vector256.Create(g.Slice(i, 8)) * Vector256.Create(gamma.Slice(i, 8));
            ((dxhat - vmeanD - xhat * vmeanDX) * vrs).CopyTo(dx.Slice(i, 8));
        }
        for (; i < n; i++)
        {
            float xhat = (x[i] - mean) * rstd;
            dx[i] = (g[i] * gamma[i] - meanD - xhat * meanDX) * rstd;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Sum(ReadOnlySpan<float> x)
    {
        var acc = Vector256<float>.Zero;
        int i = 0;
        for (; i <= x.Length - 8; i += 8) acc += Vector256.Create(x.Slice(i, 8));
        float sum = Vector256.Sum(acc);
        for (; i < x.Length; i++) sum += x[i];
        return sum;
    }

    /// <summary>The scalar twin of <see cref="Forward"/>, in double.</summary>
    public static (float Mean, float Rstd) ForwardReference(ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, Span<float> y, float eps)
    {
        int n = x.Length;
        double mean = 0;
        for (int i = 0; i < n; i++) mean += x[i];
        mean = n == 0 ? 0 : mean / n;
        double variance = 0;
        for (int i = 0; i < n; i++) variance += (x[i] - mean) * (x[i] - mean);
        variance = n == 0 ? 0 : variance / n;
        double rstd = 1 / Math.Sqrt(variance + eps);
        for (int i = 0; i < n; i++) y[i] = (float)((x[i] - mean) * rstd * gamma[i] + beta[i]);
        return ((float)mean, (float)rstd);
    }

    /// <summary>The scalar twin of <see cref="Backward"/>, in double.</summary>
    public static void BackwardReference(ReadOnlySpan<float> x, ReadOnlySpan<float> g, ReadOnlySpan<float> gamma, float mean, float rstd,
        Span<float> dx, Span<float> dGamma, Span<float> dBeta)
    {
        int n = x.Length;
        double sumD = 0, sumDX = 0;
        for (int i = 0; i < n; i++)
        {
            double xhat = (x[i] - (double)mean) * rstd;
            dGamma[i] += (float)(g[i] * xhat);
            dBeta[i] += g[i];
            sumD += (double)g[i] * gamma[i];
            sumDX += (double)g[i] * gamma[i] * xhat;
        }
        if (dx.IsEmpty) return;
        for (int i = 0; i < n; i++)
        {
            double xhat = (x[i] - (double)mean) * rstd;
            dx[i] = (float)(((double)g[i] * gamma[i] - sumD / n - xhat * sumDX / n) * rstd);
        }
    }
}
