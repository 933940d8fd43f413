using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace GenSearch.Tensors.Kernels;

/// <summary>
/// Vector-vector kernels (BLAS level 1) for short rows, such as one attention head's 64 columns:
/// a dot product and y += w x. Each is one Vector256 loop kept in registers plus a scalar tail, and
/// beside each is its slow twin (double accumulation, one element at a time) for the tests.
/// <para>
/// Why not <c>TensorPrimitives.Dot</c> / <c>MultiplyAdd</c>: measured on this machine (one core,
/// .NET 10, best of 7 timings of 2M calls) they are slower at the lengths decoding uses, because
/// their per-call dispatch is paid on every 64-float head: <see cref="Dot"/> ?DOT? and
/// <see cref="AddScaled"/> ?AXPY?. Above a few hundred floats the two are within noise.
/// </para>
/// </summary>
public static class Blas1
{
    /// <summary>sum_i x[i] y[i] over x's length (y at least as long).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        if (y.Length < x.Length) Throw.Argument("Dot: y is shorter than x");
        int i = 0;
        var sum = Vector256<float>.Zero;
        for (; i <= x.Length - 8; i += 8) sum += Vector256.Create(x.Slice(i, 8)) * Vector256.Create(y.Slice(i, 8));
        float total = Vector256.Sum(sum);
        for (; i < x.Length; i++) total += x[i] * y[i];
        return total;
    }

    /// <summary>y[i] += w x[i] over x's length (y at least as long): BLAS's axpy.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddScaled(ReadOnlySpan<float> x, float w, Span<float> y)
    {
        if (y.Length < x.Length) Throw.Argument("AddScaled: y is shorter than x");
        int i = 0;
        var wv = Vector256.Create(w);
        for (; i <= x.Length - 8; i += 8) (Vector256.Create(y.Slice(i, 8)) + wv * Vector256.Create(x.Slice(i, 8))).CopyTo(y.Slice(i, 8));
        for (; i < x.Length; i++) y[i] += w * x[i];
    }

    /// <summary>The slow twin of <see cref="Dot"/>: one product at a time, summed in double.</summary>
    public static double DotReference(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        double sum = 0;
        for (int i = 0; i < x.Length; i++) sum += (double)x[i] * y[i];
        return sum;
    }

    /// <summary>The slow twin of <see cref="AddScaled"/>: each element in double, rounded once.</summary>
    public static void AddScaledReference(ReadOnlySpan<float> x, float w, Span<float> y)
    {
        for (int i = 0; i < x.Length; i++) y[i] = (float)(y[i] + (double)w * x[i]);
    }
}
