using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Numerics.Tensors;

namespace GenSearch.Retrieval.Dense;

/// <summary>Argument checks and the small vector operations the dense indexes share.</summary>
internal static class VectorMath
{
    /// <summary>
    /// The number of rows in <paramref name="values"/> (row-major, <paramref name="dimension"/> wide);
    /// throws naming <paramref name="what"/>, the row and the column of the first problem.
    /// </summary>
    public static int CheckRows(ReadOnlySpan<float> values, int dimension, string what)
    {
        if (values.Length % dimension != 0)
            throw new ArgumentException(
                $"{what}: {values.Length} floats is not a whole number of rows of dimension {dimension} " +
                $"({values.Length / dimension} rows and {values.Length % dimension} left over)", what);
        long rows = values.Length / dimension;
        for (int i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
                throw new ArgumentException($"{what}: row {i / dimension}, column {i % dimension} is {values[i]}; vectors must be finite", what);
        }
        return (int)rows;
    }

    /// <summary>Throws when <paramref name="k"/> is not positive.</summary>
    public static void CheckK(int k)
    {
        if (k <= 0) throw new ArgumentOutOfRangeException(nameof(k), k, "k must be at least 1");
    }

    /// <summary>Scales every row to unit Euclidean length; an all-zero row stays zero.</summary>
    public static void NormalizeRows(Span<float> values, int dimension)
    {
        for (int start = 0; start < values.Length; start += dimension)
        {
            var row = values.Slice(start, dimension);
            float norm = TensorPrimitives.Norm(row);
            if (norm > 0) TensorPrimitives.Divide(row, norm, row);
        }
    }

    /// <summary>The score of <paramref name="a"/> against <paramref name="b"/> under <paramref name="metric"/> (higher is better).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Score(VectorMetric metric, ReadOnlySpan<float> a, ReadOnlySpan<float> b)
        => metric == VectorMetric.L2 ? -SquaredDistance(a, b) : TensorPrimitives.Dot(a, b);

    /// <summary>||a - b||^2, vectorised; the two spans have the same length.</summary>
    public static float SquaredDistance(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        ref float pa = ref MemoryMarshal.GetReference(a);
        ref float pb = ref MemoryMarshal.GetReference(b);
        int n = a.Length, i = 0;
        float sum = 0;
        if (Vector.IsHardwareAccelerated && n >= Vector<float>.Count)
        {
            var acc = Vector<float>.Zero;
            for (; i <= n - Vector<float>.Count; i += Vector<float>.Count)
            {
                var d = Vector.LoadUnsafe(ref pa, (nuint)i) - Vector.LoadUnsafe(ref pb, (nuint)i);
                acc += d * d;
            }
            sum = Vector.Sum(acc);
        }
        for (; i < n; i++)
        {
            float d = Unsafe.Add(ref pa, i) - Unsafe.Add(ref pb, i);
            sum += d * d;
        }
        return sum;
    }
}
