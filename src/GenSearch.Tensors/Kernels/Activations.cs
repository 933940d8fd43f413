using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace GenSearch.Tensors.Kernels;

/// <summary>
/// GELU (tanh approximation, as in GPT-2 and BERT) and its derivative, vectorised, with the scalar
/// formulas beside them as the twins the tests compare against.
/// gelu(x) = 0.5 x (1 + tanh(c (x + 0.044715 x^3))), c = sqrt(2 / pi).
/// </summary>
public static class Activations
{
    private const float C = 0.7978845608028654f; // sqrt(2 / pi)
    private const float A = 0.044715f;

    /// <summary>dst = gelu(x).</summary>
    public static void Gelu(ReadOnlySpan<float> x, Span<float> dst)
    {
        if (dst.Length < x.Length) throw new ArgumentException("destination too short");
        dst = dst[..x.Length];
        // u = c (x + a x^3), then tanh(u) in place, then 0.5 x (1 + tanh u).
        int i = 0;
        var vc = Vector256.Create(C); var va = Vector256.Create(A);
        for (; i <= x.Length - 8; i += 8)
        {
            var v = Vector256.Create(x.Slice(i, 8));
            (vc * (v + va * v * v * v)).CopyTo(dst.Slice(i, 8));
        }
        for (; i < x.Length; i++) dst[i] = C * (x[i] + A * x[i] * x[i] * x[i]);
        TensorPrimitives.Tanh(dst, dst);
        i = 0;
        var half = Vector256.Create(0.5f); var one = Vector256.Create(1f);
        for (; i <= x.Length - 8; i += 8)
        {
            var v = Vector256.Create(x.Slice(i, 8));
            var t = Vector256.Create(dst.Slice(i, 8));
            (half * v * (one + t)).CopyTo(dst.Slice(i, 8));
        }
        for (; i < x.Length; i++) dst[i] = 0.5f * x[i] * (1f + dst[i]);
    }

    /// <summary>dx += dy * gelu'(x). <paramref name="scratch"/> holds x.Length floats.</summary>
    public static void GeluBackwardAdd(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx, Span<float> scratch)
    {
        int n = x.Length;
        var t = scratch[..n];
        for (int i = 0; i < n; i++) t[i] = C * (x[i] + A * x[i] * x[i] * x[i]);
        TensorPrimitives.Tanh(t, t);
        int j = 0;
        var half = Vector256.Create(0.5f); var one = Vector256.Create(1f);
        var c3 = Vector256.Create(3f * A); var vc = Vector256.Create(C);
        for (; j <= n - 8; j += 8)
        {
            var v = Vector256.Create(x.Slice(j, 8));
            var th = Vector256.Create(t.Slice(j, 8));
            var du = vc * (one + c3 * v * v);
            var d = half * (one + th) + half * v * (one - th * th) * du;
            (Vector256.Create(dx.Slice(j, 8)) + Vector256.Create(dy.Slice(j, 8)) * d).CopyTo(dx.Slice(j, 8));
        }
        for (; j < n; j++)
        {
            float du = C * (1f + 3f * A * x[j] * x[j]);
            dx[j] += dy[j] * (0.5f * (1f + t[j]) + 0.5f * x[j] * (1f - t[j] * t[j]) * du);
        }
    }

    /// <summary>The scalar twin of <see cref="Gelu"/>.</summary>
    public static float GeluScalar(float x) => 0.5f * x * (1f + MathF.Tanh(C * (x + A * x * x * x)));

    /// <summary>The scalar twin of the GELU derivative.</summary>
    public static float GeluDerivativeScalar(float x)
    {
        float t = MathF.Tanh(C * (x + A * x * x * x));
        return 0.5f * (1f + t) + 0.5f * x * (1f - t * t) * C * (1f + 3f * A * x * x);
    }
}
