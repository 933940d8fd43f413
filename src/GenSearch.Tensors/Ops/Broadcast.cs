namespace GenSearch.Tensors;

/// <summary>
/// NumPy broadcasting over contiguous tensors, done a row (the last output dimension) at a time so
/// that each row is one SIMD call. An input either walks the row (stride 1) or repeats one value
/// along it (stride 0).
/// </summary>
internal sealed class BroadcastPlan
{
    public readonly int[] OutShape;
    public readonly int Rows, Inner;
    /// <summary>Start of each output row in each input.</summary>
    public readonly int[] RowOffsetA, RowOffsetB;
    /// <summary>Whether each input walks the row (true) or repeats one value along it.</summary>
    public readonly bool InnerA, InnerB;

    private BroadcastPlan(int[] outShape, int[] shapeA, int[] shapeB)
    {
        OutShape = outShape;
        int rank = outShape.Length;
        Inner = rank == 0 ? 1 : outShape[rank - 1];
        long size = Tensor.ShapeSize(outShape);
        Rows = Inner == 0 ? 0 : (int)(size / Inner);
        var strideA = AlignedStrides(shapeA, outShape);
        var strideB = AlignedStrides(shapeB, outShape);
        InnerA = rank > 0 && strideA[rank - 1] != 0;
        InnerB = rank > 0 && strideB[rank - 1] != 0;
        RowOffsetA = new int[Rows];
        RowOffsetB = new int[Rows];
        // Walk the multi-index of the leading (rank - 1) dimensions.
        var index = new int[Math.Max(rank - 1, 0)];
        int offA = 0, offB = 0;
        for (int row = 0; row < Rows; row++)
        {
            RowOffsetA[row] = offA;
            RowOffsetB[row] = offB;
            for (int d = rank - 2; d >= 0; d--)
            {
                index[d]++;
                offA += strideA[d];
                offB += strideB[d];
                if (index[d] < outShape[d]) break;
                offA -= strideA[d] * outShape[d];
                offB -= strideB[d] * outShape[d];
                index[d] = 0;
            }
        }
    }

    /// <summary>The plan for an op over <paramref name="a"/> and <paramref name="b"/>; throws when they do not broadcast.</summary>
    public static BroadcastPlan Create(string op, int[] a, int[] b) => new(BroadcastShape(op, a, b), a, b);

    /// <summary>The plan that maps <paramref name="shape"/> onto <paramref name="outShape"/> (both inputs the same).</summary>
    public static BroadcastPlan ForReduction(int[] shape, int[] outShape) => new(outShape, shape, shape);

    /// <summary>The broadcast result shape of two shapes.</summary>
    public static int[] BroadcastShape(string op, int[] a, int[] b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var shape = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i < rank - a.Length ? 1 : a[i - (rank - a.Length)];
            int db = i < rank - b.Length ? 1 : b[i - (rank - b.Length)];
            if (da != db && da != 1 && db != 1)
                Throw.Shape(op, $"shapes [{string.Join(", ", a)}] and [{string.Join(", ", b)}] do not broadcast");
            shape[i] = da == 1 ? db : da;
        }
        return shape;
    }

    /// <summary>Row-major strides of <paramref name="shape"/> aligned to the right of <paramref name="outShape"/>, 0 where it repeats.</summary>
    private static int[] AlignedStrides(int[] shape, int[] outShape)
    {
        int rank = outShape.Length, shift = rank - shape.Length;
        var strides = new int[rank];
        int stride = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            strides[i + shift] = shape[i] == 1 && outShape[i + shift] != 1 ? 0 : stride;
            stride *= shape[i];
        }
        return strides;
    }

    /// <summary>
    /// Sums <paramref name="gradOut"/> (of the output shape) down to <paramref name="shape"/>, the
    /// gradient of a broadcast input. Returns the same array when nothing was broadcast.
    /// </summary>
    public static float[] SumToShape(float[] gradOut, int[] outShape, int[] shape)
    {
        if (outShape.AsSpan().SequenceEqual(shape)) return gradOut;
        var plan = ForReduction(shape, outShape);
        var result = new float[Tensor.ShapeSize(shape)];
        int inner = plan.Inner;
        for (int row = 0; row < plan.Rows; row++)
        {
            var g = gradOut.AsSpan(row * inner, inner);
            int off = plan.RowOffsetA[row];
            if (plan.InnerA)
            {
                var dst = result.AsSpan(off, inner);
                System.Numerics.Tensors.TensorPrimitives.Add(dst, g, dst);
            }
            else
            {
                result[off] += System.Numerics.Tensors.TensorPrimitives.Sum(g);
            }
        }
        return result;
    }
}
