using System.Numerics.Tensors;
using GenSearch.Tensors.Kernels;

namespace GenSearch.Tensors;

public sealed partial class Tensor
{
    /// <summary>
    /// Rows of <paramref name="weight"/> [V, D] picked by <paramref name="ids"/> (shape
    /// <paramref name="idShape"/>): the result is [..idShape, D]. The backward adds into the used
    /// rows of the weight's gradient only.
    /// </summary>
    public static Tensor Embedding(Tensor weight, int[] ids, params int[] idShape)
    {
        if (weight.Rank != 2) Throw.Shape("Embedding", $"weight must be [vocabulary, dim], got {weight.ShapeString}");
        if (ShapeSize(idShape) != ids.Length) Throw.Shape("Embedding", $"{ids.Length} ids do not fill shape [{string.Join(", ", idShape)}]");
        int vocab = weight.Shape[0], dim = weight.Shape[1];
        var result = Uninitialized([.. idShape, dim]);
        for (int i = 0; i < ids.Length; i++)
        {
            int id = ids[i];
            if ((uint)id >= (uint)vocab) Throw.Argument($"Embedding: id {id} at position {i} is outside the vocabulary of {vocab}{(weight.Name is null ? "" : $" ({weight.Name})")}");
            Array.Copy(weight.Data, id * dim, result.Data, i * dim, dim);
        }
        if (!NeedsGrad(weight)) return result;
        return Record(result, [weight], output =>
        {
            var gw = weight.RowGradBuffer(ids);
            var g = output.Grad!;
            for (int i = 0; i < ids.Length; i++)
            {
                var dst = gw.AsSpan(ids[i] * dim, dim);
                TensorPrimitives.Add(dst, g.AsSpan(i * dim, dim), dst);
            }
        });
    }

    /// <summary>
    /// Means of bags of rows of <paramref name="weight"/> [V, D] (PyTorch's EmbeddingBag, mode mean):
    /// bag b is the rows ids[offsets[b] .. offsets[b + 1]) (the last bag runs to the end of
    /// <paramref name="ids"/>); the result is [bags, D], and an empty bag gives a zero row. One pass
    /// instead of <see cref="Embedding"/> then a masked mean, which would materialise every row of every
    /// bag; the backward adds grad / count into the used rows of the weight's gradient only.
    /// </summary>
    public static Tensor EmbeddingBag(Tensor weight, int[] ids, int[] offsets)
    {
        if (weight.Rank != 2) Throw.Shape("EmbeddingBag", $"weight must be [vocabulary, dim], got {weight.ShapeString}");
        int vocab = weight.Shape[0], dim = weight.Shape[1], bags = offsets.Length;
        for (int b = 0; b < bags; b++)
        {
            int end = b + 1 < bags ? offsets[b + 1] : ids.Length;
            if (offsets[b] < 0 || offsets[b] > end || end > ids.Length)
                Throw.Argument($"EmbeddingBag: bag {b} spans [{offsets[b]}, {end}) outside the {ids.Length} ids or backwards");
        }
        var result = Zeros(bags, dim);
        for (int b = 0; b < bags; b++)
        {
            int start = offsets[b], end = b + 1 < bags ? offsets[b + 1] : ids.Length;
            if (end == start) continue;
            var dst = result.Data.AsSpan(b * dim, dim);
            for (int i = start; i < end; i++)
            {
                int id = ids[i];
                if ((uint)id >= (uint)vocab) Throw.Argument($"EmbeddingBag: id {id} at position {i} is outside the vocabulary of {vocab}{(weight.Name is null ? "" : $" ({weight.Name})")}");
                TensorPrimitives.Add(dst, weight.Data.AsSpan(id * dim, dim), dst);
            }
            TensorPrimitives.Multiply(dst, 1f / (end - start), dst);
        }
        if (!NeedsGrad(weight)) return result;
        return Record(result, [weight], output =>
        {
            var gw = weight.RowGradBuffer(ids);
            var g = output.Grad!;
            var scaled = new float[dim];
            for (int b = 0; b < bags; b++)
            {
                int start = offsets[b], end = b + 1 < bags ? offsets[b + 1] : ids.Length;
                if (end == start) continue;
                TensorPrimitives.Multiply(g.AsSpan(b * dim, dim), 1f / (end - start), scaled);
                for (int i = start; i < end; i++)
                {
                    var row = gw.AsSpan(ids[i] * dim, dim);
                    TensorPrimitives.Add(row, scaled, row);
                }
            }
        });
    }

    /// <summary>
    /// Replaces the elements where <paramref name="mask"/> (shape <paramref name="maskShape"/>,
    /// broadcast to this tensor's shape) is true by <paramref name="value"/>; no gradient flows there.
    /// </summary>
    public Tensor MaskedFill(bool[] mask, int[] maskShape, float value)
    {
        if (ShapeSize(maskShape) != mask.Length) Throw.Shape("MaskedFill", $"{mask.Length} mask values do not fill [{string.Join(", ", maskShape)}]");
        var outShape = BroadcastPlan.BroadcastShape("MaskedFill", Shape, maskShape);
        if (!outShape.AsSpan().SequenceEqual(Shape)) Throw.Shape("MaskedFill", $"mask [{string.Join(", ", maskShape)}] does not broadcast to {ShapeString}");
        var plan = BroadcastPlan.ForReduction(maskShape, Shape);
        var hit = new bool[Size];
        int inner = plan.Inner;
        for (int row = 0; row < plan.Rows; row++)
            for (int j = 0; j < inner; j++)
                hit[row * inner + j] = mask[plan.RowOffsetA[row] + (plan.InnerA ? j : 0)];
        var result = Uninitialized(Shape);
        for (int i = 0; i < Size; i++) result.Data[i] = hit[i] ? value : Data[i];
        if (!NeedsGrad(this)) return result;
        return Record(result, [this], output =>
        {
            var dx = GradientPool.RentUninitialized(Size);
            var g = output.Grad!;
            for (int i = 0; i < Size; i++) dx[i] = hit[i] ? 0f : g[i];
            AccumulateGradOwned(dx);
        });
    }

    /// <summary>
    /// Inverted dropout: zeroes each element with probability <paramref name="p"/> and scales the rest
    /// by 1 / (1 - p). Identity when <paramref name="training"/> is false or p is 0.
    /// </summary>
    public Tensor Dropout(float p, Rng rng, bool training = true)
    {
        // Written so that NaN fails the test too.
        if (!(p >= 0f && p < 1f)) Throw.Argument($"Dropout probability {p} is outside [0, 1)");
        if (!training || p == 0f) return this;
        // The mask holds 1 / (1 - p) or 0 per element; the backward multiplies by the same mask.
        // The mask lives only until the backward has used it (a node's backward runs at most once), so
        // it comes from and goes back to the gradient pool.
        var mask = GradientPool.RentUninitialized(Size);
        var result = Uninitialized(Shape);
        DropoutMask.FillAndApply(Data, mask, result.Data, p, rng.NextUInt64());
        if (!NeedsGrad(this))
        {
            GradientPool.Return(mask);
            return result;
        }
        return Record(result, [this], output =>
        {
            var dx = GradientPool.RentUninitialized(Size);
            var g = output.Grad!;
            KernelParallel.ForRanges(Size, ElementwiseGrain, (start, end) =>
                TensorPrimitives.Multiply(g.AsSpan(start, end - start), mask.AsSpan(start, end - start), dx.AsSpan(start, end - start)));
            GradientPool.Return(mask);
            AccumulateGradOwned(dx);
        });
    }

    /// <summary>
    /// Straight-through estimator: the values of <paramref name="quantized"/>, the gradient of
    /// <paramref name="x"/> (x + sg(quantized - x)). Vector quantizers use it to train through argmin.
    /// </summary>
    public static Tensor StraightThrough(Tensor x, Tensor quantized)
    {
        if (!x.SameShape(quantized)) Throw.Shape("StraightThrough", $"{x.ShapeString} vs {quantized.ShapeString}");
        var result = new Tensor((float[])quantized.Data.Clone(), x.Shape);
        if (!NeedsGrad(x)) return result;
        return Record(result, [x], output => x.TakeGrad(output));
    }
}
