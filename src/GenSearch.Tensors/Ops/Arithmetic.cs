using System.Numerics.Tensors;
using GenSearch.Tensors.Kernels;

namespace GenSearch.Tensors;

public sealed partial class Tensor
{
    private enum BinaryOp { Add, Sub, Mul, Div }

    /// <summary>Elementwise sum with broadcasting.</summary>
    public static Tensor operator +(Tensor a, Tensor b) => Add(a, b);

    /// <summary>Elementwise difference with broadcasting.</summary>
    public static Tensor operator -(Tensor a, Tensor b) => Sub(a, b);

    /// <summary>Elementwise product with broadcasting.</summary>
    public static Tensor operator *(Tensor a, Tensor b) => Mul(a, b);

    /// <summary>Elementwise quotient with broadcasting.</summary>
    public static Tensor operator /(Tensor a, Tensor b) => Div(a, b);

    /// <summary>Adds a constant.</summary>
    public static Tensor operator +(Tensor a, float c) => a.AddScalar(c);

    /// <summary>Multiplies by a constant.</summary>
    public static Tensor operator *(Tensor a, float c) => a.Scale(c);

    /// <summary>Multiplies by a constant.</summary>
    public static Tensor operator *(float c, Tensor a) => a.Scale(c);

    /// <summary>Subtracts a constant.</summary>
    public static Tensor operator -(Tensor a, float c) => a.AddScalar(-c);

    /// <summary>Negation.</summary>
    public static Tensor operator -(Tensor a) => a.Scale(-1f);

    /// <summary>a + b with broadcasting.</summary>
    public static Tensor Add(Tensor a, Tensor b) => Binary(BinaryOp.Add, a, b);

    /// <summary>a - b with broadcasting.</summary>
    public static Tensor Sub(Tensor a, Tensor b) => Binary(BinaryOp.Sub, a, b);

    /// <summary>a * b (elementwise) with broadcasting.</summary>
    public static Tensor Mul(Tensor a, Tensor b) => Binary(BinaryOp.Mul, a, b);

    /// <summary>a / b (elementwise) with broadcasting.</summary>
    public static Tensor Div(Tensor a, Tensor b) => Binary(BinaryOp.Div, a, b);

    private static Tensor Binary(BinaryOp op, Tensor a, Tensor b)
    {
        Tensor result;
        if (a.SameShape(b))
        {
            result = Uninitialized(a.Shape);
            float[] x = a.Data, y = b.Data, z = result.Data;
            KernelParallel.ForRanges(z.Length, ElementwiseGrain, (start, end) =>
                ApplyRow(op, x.AsSpan(start, end - start), true, y.AsSpan(start, end - start), true, z.AsSpan(start, end - start)));
        }
        else
        {
            var plan = BroadcastPlan.Create(op.ToString(), a.Shape, b.Shape);
            result = Uninitialized(plan.OutShape);
            int inner = plan.Inner;
            for (int row = 0; row < plan.Rows; row++)
            {
                ApplyRow(op,
                    a.Data.AsSpan(plan.RowOffsetA[row], plan.InnerA ? inner : 1), plan.InnerA,
                    b.Data.AsSpan(plan.RowOffsetB[row], plan.InnerB ? inner : 1), plan.InnerB,
                    result.Data.AsSpan(row * inner, inner));
            }
        }
        if (!NeedsGrad(a, b)) return result;
        return Record(result, [a, b], output => BinaryBackward(op, a, b, output));
    }

    private static void ApplyRow(BinaryOp op, ReadOnlySpan<float> a, bool rowA, ReadOnlySpan<float> b, bool rowB, Span<float> dst)
    {
        switch (op)
        {
            case BinaryOp.Add:
                if (rowA && rowB) TensorPrimitives.Add(a, b, dst);
                else if (rowA) TensorPrimitives.Add(a, b[0], dst);
                else if (rowB) TensorPrimitives.Add(b, a[0], dst);
                else dst.Fill(a[0] + b[0]);
                break;
            case BinaryOp.Sub:
                if (rowA && rowB) TensorPrimitives.Subtract(a, b, dst);
                else if (rowA) TensorPrimitives.Subtract(a, b[0], dst);
                else if (rowB) TensorPrimitives.Subtract(a[0], b, dst);
                else dst.Fill(a[0] - b[0]);
                break;
            case BinaryOp.Mul:
                if (rowA && rowB) TensorPrimitives.Multiply(a, b, dst);
                else if (rowA) TensorPrimitives.Multiply(a, b[0], dst);
                else if (rowB) TensorPrimitives.Multiply(b, a[0], dst);
                else dst.Fill(a[0] * b[0]);
                break;
            case BinaryOp.Div:
                if (rowA && rowB) TensorPrimitives.Divide(a, b, dst);
                else if (rowA) TensorPrimitives.Divide(a, b[0], dst);
                else if (rowB) TensorPrimitives.Divide(a[0], b, dst);
                else dst.Fill(a[0] / b[0]);
                break;
        }
    }

    private static void BinaryBackward(BinaryOp op, Tensor a, Tensor b, Tensor output)
    {
        var g = output.Grad!;
        var outShape = output.Shape;
        switch (op)
        {
            case BinaryOp.Add:
                // b copies first, so that a (usually the residual stream) can then take g itself.
                if (b.RequiresGrad)
                {
                    if (!a.RequiresGrad && b.SameShape(output)) b.TakeGrad(output);
                    else b.AccumulateGrad(BroadcastPlan.SumToShape(g, outShape, b.Shape));
                }
                if (a.RequiresGrad)
                {
                    if (a.SameShape(output)) a.TakeGrad(output);
                    else a.AccumulateGrad(BroadcastPlan.SumToShape(g, outShape, a.Shape));
                }
                break;
            case BinaryOp.Sub:
                if (a.RequiresGrad) a.AccumulateGrad(BroadcastPlan.SumToShape(g, outShape, a.Shape));
                if (b.RequiresGrad)
                {
                    var gb = BroadcastPlan.SumToShape(g, outShape, b.Shape);
                    var neg = new float[gb.Length];
                    TensorPrimitives.Negate(gb, neg);
                    b.AccumulateGradOwned(neg);
                }
                break;
            case BinaryOp.Mul:
                // d(a*b)/da = b, d(a*b)/db = a, each summed back over broadcast dimensions.
                if (a.RequiresGrad) a.AccumulateGradOwned(BroadcastPlan.SumToShape(Binary(BinaryOp.Mul, new Tensor(g, outShape), b.Detach()).Data, outShape, a.Shape));
                if (b.RequiresGrad) b.AccumulateGradOwned(BroadcastPlan.SumToShape(Binary(BinaryOp.Mul, new Tensor(g, outShape), a.Detach()).Data, outShape, b.Shape));
                break;
            case BinaryOp.Div:
                {
                    // d(a/b)/da = 1/b; d(a/b)/db = -a/b^2 = -(a/b)/b = -output/b.
                    var gOverB = Binary(BinaryOp.Div, new Tensor(g, outShape), b.Detach());
                    if (a.RequiresGrad) a.AccumulateGradOwned(BroadcastPlan.SumToShape(gOverB.Data, outShape, a.Shape));
                    if (b.RequiresGrad)
                    {
                        var gb = new float[g.Length];
                        TensorPrimitives.Multiply(gOverB.Data, output.Data, gb);
                        TensorPrimitives.Negate(gb, gb);
                        b.AccumulateGradOwned(BroadcastPlan.SumToShape(gb, outShape, b.Shape));
                    }
                    break;
                }
        }
    }

    /// <summary>Multiplies every element by <paramref name="factor"/>.</summary>
    public Tensor Scale(float factor)
    {
        var result = Uninitialized(Shape);
        TensorPrimitives.Multiply(Data, factor, result.Data);
        if (!NeedsGrad(this)) return result;
        return Record(result, [this], output =>
        {
            var g = new float[Size];
            TensorPrimitives.Multiply(output.Grad!, factor, g);
            AccumulateGradOwned(g);
        });
    }

    /// <summary>Adds <paramref name="value"/> to every element.</summary>
    public Tensor AddScalar(float value)
    {
        var result = Uninitialized(Shape);
        TensorPrimitives.Add(Data, value, result.Data);
        if (!NeedsGrad(this)) return result;
        return Record(result, [this], output => TakeGrad(output));
    }
}
