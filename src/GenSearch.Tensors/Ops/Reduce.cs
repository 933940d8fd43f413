using System.Numerics.Tensors;

namespace GenSearch.Tensors;

public sealed partial class Tensor
{
    /// <summary>Sizes of the dimensions before, at and after <paramref name="axis"/>: the tensor seen as [outer, n, inner].</summary>
    internal (int Outer, int N, int Inner) SplitAt(int axis)
    {
        int a = NormalizeAxis(axis, Rank), outer = 1, inner = 1;
        for (int i = 0; i < a; i++) outer *= Shape[i];
        for (int i = a + 1; i < Rank; i++) inner *= Shape[i];
        return (outer, Shape[a], inner);
    }

    private int[] ReducedShape(int axis, bool keepDim)
    {
        int a = NormalizeAxis(axis, Rank);
        if (keepDim) { var s = (int[])Shape.Clone(); s[a] = 1; return s; }
        return [.. Shape[..a], .. Shape[(a + 1)..]];
    }

    /// <summary>Sum over <paramref name="axis"/>.</summary>
    public Tensor Sum(int axis, bool keepDim = false) => SumScaled(axis, keepDim, 1f);

    /// <summary>Mean over <paramref name="axis"/>.</summary>
    public Tensor Mean(int axis, bool keepDim = false) => SumScaled(axis, keepDim, 1f / Math.Max(1, Dim(axis)));

    private Tensor SumScaled(int axis, bool keepDim, float scale)
    {
        var (outer, n, inner) = SplitAt(axis);
        var result = Zeros(ReducedShape(axis, keepDim));
        var x = Data; var y = result.Data;
        for (int o = 0; o < outer; o++)
        {
            var dst = y.AsSpan(o * inner, inner);
            if (inner == 1)
            {
                dst[0] = TensorPrimitives.Sum(x.AsSpan(o * n, n));
            }
            else
            {
                for (int j = 0; j < n; j++) TensorPrimitives.Add(dst, x.AsSpan((o * n + j) * inner, inner), dst);
            }
            if (scale != 1f) TensorPrimitives.Multiply(dst, scale, dst);
        }
        if (!NeedsGrad(this)) return result;
        return Record(result, [this], output =>
        {
            var g = output.Grad!;
            var dx = GC.AllocateUninitializedArray<float>(Size);
            for (int o = 0; o < outer; o++)
            {
                var src = g.AsSpan(o * inner, inner);
                for (int j = 0; j < n; j++)
                {
                    var dst = dx.AsSpan((o * n + j) * inner, inner);
                    if (scale == 1f) src.CopyTo(dst); else TensorPrimitives.Multiply(src, scale, dst);
                }
            }
            AccumulateGradOwned(dx);
        });
    }

    /// <summary>Sum of all elements, as a one-element tensor.</summary>
    public Tensor SumAll() => Reshape(Size).Sum(0);

    /// <summary>Mean of all elements, as a one-element tensor.</summary>
    public Tensor MeanAll() => Reshape(Size).Mean(0);

    /// <summary>Maximum over <paramref name="axis"/>; the gradient goes to the first maximal element.</summary>
    public Tensor Max(int axis, bool keepDim = false)
    {
        var (outer, n, inner) = SplitAt(axis);
        if (n == 0) Throw.Argument("Max over an empty axis");
        var result = Uninitialized(ReducedShape(axis, keepDim));
        var where = new int[outer * inner];
        for (int o = 0; o < outer; o++)
        {
            for (int i = 0; i < inner; i++)
            {
                int best = 0; float bestValue = Data[o * n * inner + i];
                for (int j = 1; j < n; j++)
                {
                    float v = Data[(o * n + j) * inner + i];
                    if (v > bestValue || float.IsNaN(v) && !float.IsNaN(bestValue)) { bestValue = v; best = j; }
                }
                result.Data[o * inner + i] = bestValue;
                where[o * inner + i] = best;
            }
        }
        if (!NeedsGrad(this)) return result;
        return Record(result, [this], output =>
        {
            var dx = new float[Size];
            var g = output.Grad!;
            for (int o = 0; o < outer; o++)
                for (int i = 0; i < inner; i++)
                    dx[(o * n + where[o * inner + i]) * inner + i] = g[o * inner + i];
            AccumulateGradOwned(dx);
        });
    }
}
