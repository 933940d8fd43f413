using System.Numerics.Tensors;
using GenSearch.Tensors.Kernels;

namespace GenSearch.Tensors;

public sealed partial class Tensor
{
    /// <summary>e^x.</summary>
    public Tensor Exp() => Unary(TensorPrimitives.Exp, static (x, y, g, dx) => { TensorPrimitives.Multiply(g, y, dx); });

    /// <summary>Natural logarithm.</summary>
    public Tensor Log() => Unary(TensorPrimitives.Log, static (x, y, g, dx) => { TensorPrimitives.Divide(g, x, dx); });

    /// <summary>Square root.</summary>
    public Tensor Sqrt() => Unary(TensorPrimitives.Sqrt, static (x, y, g, dx) =>
    {
        TensorPrimitives.Divide(g, y, dx);
        TensorPrimitives.Multiply(dx, 0.5f, dx);
    });

    /// <summary>Hyperbolic tangent.</summary>
    public Tensor Tanh() => Unary(TensorPrimitives.Tanh, static (x, y, g, dx) =>
    {
        // dx = g * (1 - y^2)
        TensorPrimitives.Multiply(y, y, dx);
        TensorPrimitives.Subtract(1f, dx, dx);
        TensorPrimitives.Multiply(dx, g, dx);
    });

    /// <summary>Logistic sigmoid 1 / (1 + e^-x).</summary>
    public Tensor Sigmoid() => Unary(TensorPrimitives.Sigmoid, static (x, y, g, dx) =>
    {
        // dx = g * y * (1 - y)
        TensorPrimitives.Subtract(1f, y, dx);
        TensorPrimitives.Multiply(dx, y, dx);
        TensorPrimitives.Multiply(dx, g, dx);
    });

    /// <summary>max(x, 0).</summary>
    public Tensor Relu() => Unary(static (x, y) => TensorPrimitives.Max(x, 0f, y), static (x, y, g, dx) =>
    {
        for (int i = 0; i < x.Length; i++) dx[i] = x[i] > 0f ? g[i] : 0f;
    });

    /// <summary>GELU, tanh approximation (see <see cref="Activations"/>).</summary>
    public Tensor Gelu() => Unary(Activations.Gelu, static (x, y, g, dx) =>
    {
        dx.Clear();
        Activations.GeluBackwardAdd(x, g, dx);
    });

    /// <summary>x^2.</summary>
    public Tensor Square() => Unary(static (x, y) => TensorPrimitives.Multiply(x, x, y), static (x, y, g, dx) =>
    {
        TensorPrimitives.Multiply(x, g, dx);
        TensorPrimitives.Multiply(dx, 2f, dx);
    });

    private delegate void Forward(ReadOnlySpan<float> x, Span<float> y);
    private delegate void Derivative(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> gradY, Span<float> gradX);

    /// <summary>Elements per parallel block of an elementwise kernel: big enough to amortise the hand-off.</summary>
    internal const int ElementwiseGrain = 1 << 15;

    private Tensor Unary(Forward forward, Derivative derivative)
    {
        var result = Uninitialized(Shape);
        float[] x = Data, y = result.Data;
        KernelParallel.ForRanges(Size, ElementwiseGrain, (start, end) => forward(x.AsSpan(start, end - start), y.AsSpan(start, end - start)));
        if (!NeedsGrad(this)) return result;
        return Record(result, [this], output =>
        {
            var dx = GradientPool.RentUninitialized(Size);
            var g = output.Grad!;
            KernelParallel.ForRanges(Size, ElementwiseGrain, (start, end) =>
                derivative(x.AsSpan(start, end - start), y.AsSpan(start, end - start), g.AsSpan(start, end - start), dx.AsSpan(start, end - start)));
            AccumulateGradOwned(dx);
        });
    }
}
