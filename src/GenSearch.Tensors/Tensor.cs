using System.Runtime.CompilerServices;

namespace GenSearch.Tensors;

/// <summary>
/// A float32 tensor of any rank: contiguous row-major storage plus, when it takes part in a graph,
/// how to send its gradient back to its inputs. Every op returns a new tensor; views are copies, so
/// every kernel sees one simple memory layout.
/// </summary>
/// <remarks>
/// Autograd follows micrograd: an op that records a graph node gives its output the inputs and a
/// closure that adds the output's gradient into theirs; <see cref="Backward()"/> runs the closures
/// in reverse topological order. Nothing is recorded inside <see cref="NoGrad"/> or when no input
/// requires a gradient.
/// </remarks>
public sealed partial class Tensor
{
    /// <summary>Row-major storage, exactly <see cref="Size"/> long.</summary>
    public float[] Data { get; }

    /// <summary>Extent of each dimension; empty for a scalar.</summary>
    public int[] Shape { get; }

    /// <summary>The gradient of the last <see cref="Backward()"/> with respect to this tensor, or null.</summary>
    public float[]? Grad { get; set; }

    /// <summary>Whether gradients flow into this tensor. Parameters set it; op outputs inherit it.</summary>
    public bool RequiresGrad { get; set; }

    /// <summary>
    /// Set on large embedding tables: optimizers update only the rows (along the first axis) whose
    /// gradient is non-zero this step, and leave the other rows and their optimizer state alone
    /// ("lazy" Adam, PyTorch's SparseAdam). A step of an n-gram tower touches a few thousand of
    /// 200,000 rows; a dense update would move every row by its stale momentum.
    /// </summary>
    public bool RowSparse { get; set; }

    /// <summary>Optional name (parameters carry their state-dict name), for messages.</summary>
    public string? Name { get; set; }

    internal Tensor[] Inputs = [];
    internal Action<Tensor>? BackwardFn;

    /// <summary>Wraps <paramref name="data"/> (not copied) with <paramref name="shape"/>.</summary>
    public Tensor(float[] data, params int[] shape)
    {
        long size = ShapeSize(shape);
        if (size != data.Length)
            Throw.Argument($"data has {data.Length} elements but shape [{string.Join(", ", shape)}] needs {size}");
        Data = data;
        Shape = (int[])shape.Clone();
    }

    /// <summary>Number of elements.</summary>
    public int Size => Data.Length;

    /// <summary>Number of dimensions.</summary>
    public int Rank => Shape.Length;

    /// <summary>Extent of dimension <paramref name="axis"/>; negative counts from the end.</summary>
    public int Dim(int axis) => Shape[NormalizeAxis(axis, Rank)];

    /// <summary>The value of a one-element tensor.</summary>
    public float Item()
    {
        if (Size != 1) Throw.InvalidOperation($"Item() needs one element, tensor has {Size}");
        return Data[0];
    }

    /// <summary>A new tensor of zeros.</summary>
    public static Tensor Zeros(params int[] shape) => new(new float[ShapeSize(shape)], shape);

    /// <summary>A new tensor filled with <paramref name="value"/>.</summary>
    public static Tensor Full(float value, params int[] shape)
    {
        var t = Uninitialized(shape);
        Array.Fill(t.Data, value);
        return t;
    }

    /// <summary>A one-element tensor of rank 0.</summary>
    public static Tensor Scalar(float value) => new([value]);

    /// <summary>A tensor over a copy of <paramref name="values"/>.</summary>
    public static Tensor FromArray(ReadOnlySpan<float> values, params int[] shape) => new(values.ToArray(), shape);

    /// <summary>Normal(0, std) values from a seeded generator.</summary>
    public static Tensor Randn(Rng rng, float std, params int[] shape)
    {
        var t = Uninitialized(shape);
        rng.FillNormal(t.Data, 0f, std);
        return t;
    }

    /// <summary>Uniform [low, high) values from a seeded generator.</summary>
    public static Tensor Uniform(Rng rng, float low, float high, params int[] shape)
    {
        var t = Uninitialized(shape);
        rng.FillUniform(t.Data, low, high);
        return t;
    }

    /// <summary>Storage the caller promises to overwrite completely.</summary>
    internal static Tensor Uninitialized(params int[] shape)
        => new(GC.AllocateUninitializedArray<float>(checked((int)ShapeSize(shape))), shape);

    /// <summary>Product of the extents; checks that none is negative.</summary>
    public static long ShapeSize(ReadOnlySpan<int> shape)
    {
        long size = 1;
        foreach (int d in shape)
        {
            if (d < 0) Throw.Argument($"negative dimension in shape [{string.Join(", ", shape.ToArray())}]");
            size *= d;
        }
        return size;
    }

    /// <summary>Axis in [0, rank); negative axes count from the end.</summary>
    public static int NormalizeAxis(int axis, int rank)
    {
        int a = axis < 0 ? axis + rank : axis;
        if ((uint)a >= (uint)rank) Throw.Argument($"axis {axis} is out of range for rank {rank}");
        return a;
    }

    /// <summary>"[2, 3]" for messages.</summary>
    public string ShapeString => "[" + string.Join(", ", Shape) + "]";

    /// <inheritdoc/>
    public override string ToString()
    {
        var head = string.Join(", ", Data.Take(8).Select(v => v.ToString("G4")));
        return $"Tensor{ShapeString}{(Name is null ? "" : " " + Name)} [{head}{(Size > 8 ? ", ..." : "")}]";
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool SameShape(Tensor other) => Shape.AsSpan().SequenceEqual(other.Shape);
}
