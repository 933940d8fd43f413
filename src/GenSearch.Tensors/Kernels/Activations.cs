using System.Runtime.Intrinsics;

namespace GenSearch.Tensors.Kernels;

/// <summary>
/// GELU (tanh approximation, as in GPT-2 and BERT) and its derivative in one vectorised pass each,
/// with the scalar formulas beside them as the twins the tests compare against.
/// gelu(x) = 0.5 x (1 + tanh(u)), u = c (x + 0.044715 x^3), c = sqrt(2 / pi).
/// Since 0.5 (1 + tanh u) = sigmoid(2u), gelu(x) = x * s with s = 1 / (1 + e^(-2u)), and
/// gelu'(x) = s + 2 x s (1 - s) u'(x): one exponential per element, forward or backward.
/// </summary>
public static class Activations
{
    private const float C = 0.7978845608028654f; // sqrt(2 / pi)
    private const float A = 0.044715f;

    /// <summary>dst = gelu(x).</summary>
    public static void Gelu(ReadOnlySpan<float> x, Span<float> dst)
    {
        if (dst.Length < x.Length) throw new ArgumentException("destination too short");
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var minusTwoC = Vector256.Create(-2f * C); var a = Vector256.Create(A); var one = Vector256.Create(1f);
            for (; i <= x.Length - 8; i += 8)
            {
                var v = Vector256.Create(x.Slice(i, 8));
                var e = Vector256.Exp(minusTwoC * (v + a * v * v * v));
                (v / (one + e)).CopyTo(dst.Slice(i, 8));
            }
        }
        // The tail uses the body's sigmoid form, not the tanh-form twin, so that an element's value
        // does not depend on where it falls: the tanh form loses relative accuracy below x = -4.
        for (; i < x.Length; i++)
        {
            float v = x[i];
            dst[i] = v / (1f + MathF.Exp(-2f * C * (v + A * v * v * v)));
        }
    }

    /// <summary>dx += dy * gelu'(x).</summary>
    public static void GeluBackwardAdd(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx)
    {
        if (dy.Length < x.Length || dx.Length < x.Length) throw new ArgumentException("gradient spans too short");
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var minusTwoC = Vector256.Create(-2f * C); var a = Vector256.Create(A); var one = Vector256.Create(1f);
            var twoC = Vector256.Create(2f * C); var threeA = Vector256.Create(3f * A);
            for (; i <= x.Length - 8; i += 8)
            {
                var v = Vector256.Create(x.Slice(i, 8));
                var s = one / (one + Vector256.Exp(minusTwoC * (v + a * v * v * v)));
                var derivative = s + v * s * (one - s) * twoC * (one + threeA * v * v);
                (Vector256.Create(dx.Slice(i, 8)) + Vector256.Create(dy.Slice(i, 8)) * derivative).CopyTo(dx.Slice(i, 8));
            }
        }
        for (; i < x.Length; i++)
        {
            float v = x[i];
            float s = 1f / (1f + MathF.Exp(-2f * C * (v + A * v * v * v)));
            dx[i] += dy[i] * (s + v * s * (1f - s) * 2f * C * (1f + 3f * A * v * v));
        }
    }

    /// <summary>The scalar twin of <see cref="Gelu"/>, written in the tanh form.</summary>
    public static float GeluScalar(float x) => 0.5f * x * (1f + MathF.Tanh(C * (x + A * x * x * x)));

    /// <summary>The scalar twin of the GELU derivative, in the tanh form.</summary>
    public static float GeluDerivativeScalar(float x)
    {
        float t = MathF.Tanh(C * (x + A * x * x * x));
        return 0.5f * (1f + t) + 0.5f * x * (1f - t * t) * C * (1f + 3f * A * x * x);
    }
}
