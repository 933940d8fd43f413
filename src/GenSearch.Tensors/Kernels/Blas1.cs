using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace GenSearch.Tensors.Kernels;

/// <summary>
/// Vector-vector kernels (BLAS level 1): a dot product and y += w x, as decoding runs them on one
/// attention head's columns (64 in the reference model) per cached position. Beside each is its slow
/// twin (double, one element at a time) for the tests.
/// <para>
/// Rows shorter than <see cref="ShortRow"/> take one Vector256 loop kept in registers plus a scalar
/// tail; longer ones <c>TensorPrimitives</c>. Measured (2026-11-30, the shared 2-core machine under
/// load, best of 9 timings of 1M calls, two runs): at 4 to 64 floats the loop won or tied (Dot at 16:
/// 3.7 ns against 6.4 to 9.4; at 64: 10.6 to 15.1 against 15.5 to 16.5; y += w x within noise, 4 to
/// 15 ns either way), as <c>TensorPrimitives</c>' per-call dispatch is paid on every short head;
/// from 128 floats <c>TensorPrimitives</c> won (Dot at 256: 20 to 28 ns against 45 to 73; y += w x at
/// 256: 23 to 30 against 59 to 88), its unrolled loop keeping several sums in flight.
/// </para>
/// </summary>
public static class Blas1
{
    /// <summary>Rows from this length on go to <c>TensorPrimitives</c>.</summary>
    public const int ShortRow = 128;

    /// <summary>sum_i x[i] y[i] over x's length (y at least as long).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        if (y.Length < x.Length) Throw.Argument("Dot: y is shorter than x");
        if (x.Length >= ShortRow) return TensorPrimitives.Dot(x, y[..x.Length]);
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
        if (x.Length >= ShortRow)
        {
            var head = y[..x.Length];
            TensorPrimitives.MultiplyAdd(x, w, head, head);
            return;
        }
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
