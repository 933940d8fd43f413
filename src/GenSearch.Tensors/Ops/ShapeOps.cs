namespace GenSearch.Tensors;

public sealed partial class Tensor
{
    /// <summary>The same elements with another shape (one extent may be -1, inferred). Shares storage.</summary>
    public Tensor Reshape(params int[] shape)
    {
        var s = (int[])shape.Clone();
        int infer = Array.IndexOf(s, -1);
        if (infer >= 0)
        {
            long known = 1;
            for (int i = 0; i < s.Length; i++) if (i != infer) known *= s[i];
            if (known == 0 || Size % known != 0) Throw.Shape("Reshape", $"cannot infer -1 in [{string.Join(", ", shape)}] for {Size} elements");
            s[infer] = (int)(Size / known);
        }
        if (ShapeSize(s) != Size) Throw.Shape("Reshape", $"{ShapeString} ({Size} elements) cannot become [{string.Join(", ", shape)}]");
        var result = new Tensor(Data, s);
        if (!NeedsGrad(this)) return result;
        return Record(result, [this], output => TakeGrad(output));
    }

    /// <summary>Swaps two axes (a copy).</summary>
    public Tensor Transpose(int axis0, int axis1)
    {
        var perm = Enumerable.Range(0, Rank).ToArray();
        int a = NormalizeAxis(axis0, Rank), b = NormalizeAxis(axis1, Rank);
        (perm[a], perm[b]) = (perm[b], perm[a]);
        return Permute(perm);
    }

    /// <summary>Reorders the axes: result axis i is input axis <paramref name="perm"/>[i] (a copy).</summary>
    public Tensor Permute(params int[] perm)
    {
        if (perm.Length != Rank || perm.OrderBy(p => p).Where((p, i) => p != i).Any())
            Throw.Shape("Permute", $"[{string.Join(", ", perm)}] is not a permutation of {Rank} axes");
        var outShape = perm.Select(p => Shape[p]).ToArray();
        var result = Uninitialized(outShape);
        PermuteInto(Data, Shape, perm, result.Data);
        if (!NeedsGrad(this)) return result;
        var inverse = new int[Rank];
        for (int i = 0; i < Rank; i++) inverse[perm[i]] = i;
        return Record(result, [this], output =>
        {
            var dx = GradientPool.RentUninitialized(Size);
            PermuteInto(output.Grad!, outShape, inverse, dx);
            AccumulateGradOwned(dx);
        });
    }

    /// <summary>Writes the permuted copy of <paramref name="src"/> (shape <paramref name="shape"/>) into <paramref name="dst"/>.</summary>
    internal static void PermuteInto(float[] src, int[] shape, int[] perm, float[] dst)
    {
        int rank = shape.Length;
        if (src.Length == 0) return;
        if (rank == 0) { dst[0] = src[0]; return; }
        var srcStrides = new int[rank];
        for (int i = rank - 1, s = 1; i >= 0; s *= shape[i], i--) srcStrides[i] = s;
        var outShape = perm.Select(p => shape[p]).ToArray();
        var stride = perm.Select(p => srcStrides[p]).ToArray(); // source stride of each output axis
        int inner = outShape[rank - 1], innerStride = stride[rank - 1];
        var index = new int[rank];
        int offset = 0;
        for (int o = 0; o < dst.Length; o += inner)
        {
            if (innerStride == 1) Array.Copy(src, offset, dst, o, inner);
            else for (int j = 0, p = offset; j < inner; j++, p += innerStride) dst[o + j] = src[p];
            for (int d = rank - 2; d >= 0; d--)
            {
                index[d]++;
                offset += stride[d];
                if (index[d] < outShape[d]) break;
                offset -= stride[d] * outShape[d];
                index[d] = 0;
            }
        }
    }

    /// <summary>Joins tensors along <paramref name="axis"/>; all other extents must agree.</summary>
    public static Tensor Concat(IReadOnlyList<Tensor> tensors, int axis)
    {
        if (tensors.Count == 0) Throw.Argument("Concat needs at least one tensor");
        var first = tensors[0];
        int a = NormalizeAxis(axis, first.Rank);
        int total = 0;
        foreach (var t in tensors)
        {
            if (t.Rank != first.Rank || Enumerable.Range(0, t.Rank).Any(i => i != a && t.Shape[i] != first.Shape[i]))
                Throw.Shape("Concat", $"{t.ShapeString} does not match {first.ShapeString} outside axis {axis}");
            total += t.Shape[a];
        }
        var outShape = (int[])first.Shape.Clone();
        outShape[a] = total;
        var result = Uninitialized(outShape);
        var (outer, _, inner) = result.SplitAt(a);
        int rowOut = total * inner, at = 0;
        foreach (var t in tensors)
        {
            int rowIn = t.Shape[a] * inner;
            for (int o = 0; o < outer; o++) Array.Copy(t.Data, o * rowIn, result.Data, o * rowOut + at, rowIn);
            at += rowIn;
        }
        var inputs = tensors.ToArray();
        if (!NeedsGrad(inputs)) return result;
        return Record(result, inputs, output =>
        {
            int at2 = 0;
            foreach (var t in inputs)
            {
                int rowIn = t.Shape[a] * inner;
                if (t.RequiresGrad)
                {
                    var dx = GradientPool.RentUninitialized(t.Size);
                    for (int o = 0; o < outer; o++) Array.Copy(output.Grad!, o * rowOut + at2, dx, o * rowIn, rowIn);
                    t.AccumulateGradOwned(dx);
                }
                at2 += rowIn;
            }
        });
    }

    /// <summary>Elements <paramref name="start"/> .. start + length - 1 along <paramref name="axis"/> (a copy).</summary>
    public Tensor Slice(int axis, int start, int length)
    {
        int a = NormalizeAxis(axis, Rank);
        if (start < 0 || length < 0 || start + length > Shape[a])
            Throw.Shape("Slice", $"[{start}, {start + length}) is outside axis {axis} of {ShapeString}");
        var outShape = (int[])Shape.Clone();
        outShape[a] = length;
        var result = Uninitialized(outShape);
        var (outer, n, inner) = SplitAt(a);
        int rowIn = n * inner, rowOut = length * inner;
        for (int o = 0; o < outer; o++) Array.Copy(Data, o * rowIn + start * inner, result.Data, o * rowOut, rowOut);
        if (!NeedsGrad(this)) return result;
        return Record(result, [this], output =>
        {
            var dx = GradBuffer();
            for (int o = 0; o < outer; o++)
            {
                var dst = dx.AsSpan(o * rowIn + start * inner, rowOut);
                System.Numerics.Tensors.TensorPrimitives.Add(dst, output.Grad.AsSpan(o * rowOut, rowOut), dst);
            }
        });
    }
}
