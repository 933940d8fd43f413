using System.Numerics.Tensors;

namespace GenSearch.Tensors.Kernels;

/// <summary>
/// Softmax and log-softmax of one row, span in and span out (the two may be the same span), with
/// their slow twins in double. The contract the ops and the tests share: the row maximum is
/// subtracted first (stable); -infinity entries get probability 0; a row that is all -infinity
/// (every key masked) is uniform, 1/n, and its log-softmax log(1/n), never NaN.
/// <para>
/// Every row takes the same <c>TensorPrimitives</c> path. A scalar loop is faster on short rows
/// (measured under load: at 4 floats 23 to 42 ns against 100 to 130, at 8 about even; at 16 the
/// vector path wins, 153 to 159 ns against 231 to 294), but training's attention and listwise losses
/// have such rows, and one arithmetic for every length keeps trained weights byte-identical to what
/// the engine produced before the kernels moved here (the cost at serving time is about 1% of a beam-50
/// search: 400 short rows a step).
/// </para>
/// </summary>
public static class SoftmaxKernels
{
    /// <summary>y = softmax(x) over x's length.</summary>
    public static void Softmax(ReadOnlySpan<float> x, Span<float> y)
    {
        int n = x.Length;
        if (y.Length < n) Throw.Argument("Softmax: y is shorter than x");
        if (n == 0) return;
        y = y[..n];
        float m = TensorPrimitives.Max(x);
        if (float.IsNegativeInfinity(m)) { y.Fill(1f / n); return; }
        TensorPrimitives.Subtract(x, m, y);
        TensorPrimitives.Exp(y, y);
        TensorPrimitives.Multiply(y, 1f / TensorPrimitives.Sum(y), y);
    }

    /// <summary>y = x - max - log(sum exp(x - max)) over x's length.</summary>
    public static void LogSoftmax(ReadOnlySpan<float> x, Span<float> y)
    {
        int n = x.Length;
        if (y.Length < n) Throw.Argument("LogSoftmax: y is shorter than x");
        if (n == 0) return;
        y = y[..n];
        float max = TensorPrimitives.Max(x);
        if (float.IsNegativeInfinity(max)) { y.Fill(-MathF.Log(n)); return; }
        TensorPrimitives.Subtract(x, max, y);
        TensorPrimitives.Subtract(y, MathF.Log(SumExp(y)), y);
    }

    /// <summary>sum(exp(x)) without allocating: exponentials in chunks of 256 on the stack (1 KiB).</summary>
    private static float SumExp(ReadOnlySpan<float> x)
    {
        Span<float> buffer = stackalloc float[256];
        float sum = 0;
        for (int i = 0; i < x.Length; i += buffer.Length)
        {
            var chunk = x.Slice(i, Math.Min(buffer.Length, x.Length - i));
            TensorPrimitives.Exp(chunk, buffer[..chunk.Length]);
            sum += TensorPrimitives.Sum(buffer[..chunk.Length]);
        }
        return sum;
    }

    /// <summary>The slow twin of <see cref="Softmax"/>: the textbook formula in double.</summary>
    public static void SoftmaxReference(ReadOnlySpan<float> x, Span<float> y)
    {
        int n = x.Length;
        double max = double.NegativeInfinity;
        for (int i = 0; i < n; i++) max = Math.Max(max, x[i]);
        if (double.IsNegativeInfinity(max)) { for (int i = 0; i < n; i++) y[i] = (float)(1.0 / n); return; }
        double sum = 0;
        for (int i = 0; i < n; i++) sum += Math.Exp(x[i] - max);
        for (int i = 0; i < n; i++) y[i] = (float)(Math.Exp(x[i] - max) / sum);
    }

    /// <summary>The slow twin of <see cref="LogSoftmax"/>: the textbook formula in double.</summary>
    public static void LogSoftmaxReference(ReadOnlySpan<float> x, Span<float> y)
    {
        int n = x.Length;
        double max = double.NegativeInfinity;
        for (int i = 0; i < n; i++) max = Math.Max(max, x[i]);
        if (double.IsNegativeInfinity(max)) { for (int i = 0; i < n; i++) y[i] = (float)-Math.Log(n); return; }
        double sum = 0;
        for (int i = 0; i < n; i++) sum += Math.Exp(x[i] - max);
        double logSum = Math.Log(sum);
        for (int i = 0; i < n; i++) y[i] = (float)(x[i] - max - logSum);
    }
}
