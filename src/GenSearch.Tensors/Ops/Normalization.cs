using System.Numerics.Tensors;
using GenSearch.Tensors.Kernels;

namespace GenSearch.Tensors;

public sealed partial class Tensor
{
    /// <summary>Softmax over the last axis.</summary>
    public Tensor Softmax()
    {
        if (Rank == 0) Throw.Shape("Softmax", "needs rank >= 1 (it normalises the last axis), got a scalar");
        int n = Shape[^1], rows = n == 0 ? 0 : Size / n;
        var result = Uninitialized(Shape);
        for (int r = 0; r < rows; r++) SoftmaxKernels.Softmax(Data.AsSpan(r * n, n), result.Data.AsSpan(r * n, n));
        if (!NeedsGrad(this)) return result;
        return Record(result, [this], output =>
        {
            // dx = y * (g - sum(g * y))
            var dx = GC.AllocateUninitializedArray<float>(Size);
            var y = output.Data; var g = output.Grad!;
            for (int r = 0; r < rows; r++)
            {
                var yr = y.AsSpan(r * n, n); var gr = g.AsSpan(r * n, n); var d = dx.AsSpan(r * n, n);
                float dot = TensorPrimitives.Dot(gr, yr);
                TensorPrimitives.Subtract(gr, dot, d);
                TensorPrimitives.Multiply(d, yr, d);
            }
            AccumulateGradOwned(dx);
        });
    }

    /// <summary>Log-softmax over the last axis (stable: subtracts the row maximum). An all -infinity row gives log(1/n), as <see cref="Softmax"/> gives 1/n.</summary>
    public Tensor LogSoftmax()
    {
        if (Rank == 0) Throw.Shape("LogSoftmax", "needs rank >= 1 (it normalises the last axis), got a scalar");
        int n = Shape[^1], rows = n == 0 ? 0 : Size / n;
        var result = Uninitialized(Shape);
        for (int r = 0; r < rows; r++) SoftmaxKernels.LogSoftmax(Data.AsSpan(r * n, n), result.Data.AsSpan(r * n, n));
        if (!NeedsGrad(this)) return result;
        return Record(result, [this], output =>
        {
            // dx = g - softmax * sum(g)
            var dx = GC.AllocateUninitializedArray<float>(Size);
            var y = output.Data; var g = output.Grad!;
            for (int r = 0; r < rows; r++)
            {
                var d = dx.AsSpan(r * n, n); var gr = g.AsSpan(r * n, n);
                float sum = TensorPrimitives.Sum(gr);
                TensorPrimitives.Exp(y.AsSpan(r * n, n), d);
                TensorPrimitives.Multiply(d, -sum, d);
                TensorPrimitives.Add(d, gr, d);
            }
            AccumulateGradOwned(dx);
        });
    }

    /// <summary>
    /// Layer normalisation over the last axis: (x - mean) / sqrt(var + eps) * gamma + beta, with the
    /// biased variance as in PyTorch.
    /// </summary>
    public static Tensor LayerNorm(Tensor x, Tensor gamma, Tensor beta, float eps = 1e-5f)
    {
        if (x.Rank == 0) Throw.Shape("LayerNorm", "needs rank >= 1 (it normalises the last axis), got a scalar");
        int n = x.Shape[^1], rows = n == 0 ? 0 : x.Size / n;
        if (gamma.Size != n || beta.Size != n) Throw.Shape("LayerNorm", $"gamma {gamma.ShapeString} and beta {beta.ShapeString} must have {n} elements");
        var result = Uninitialized(x.Shape);
        var mean = new float[rows]; var rstd = new float[rows];
        float[] xd = x.Data, yd = result.Data, gammaData = gamma.Data, betaData = beta.Data;
        int rowGrain = Math.Max(1, ElementwiseGrain / Math.Max(1, n));
        KernelParallel.ForRanges(rows, rowGrain, (first, last) =>
        {
            for (int r = first; r < last; r++)
                (mean[r], rstd[r]) = LayerNormKernels.Forward(xd.AsSpan(r * n, n), gammaData, betaData, yd.AsSpan(r * n, n), eps);
        });
        if (!NeedsGrad([x, gamma, beta])) return result;
        return Record(result, [x, gamma, beta], output =>
        {
            var g = output.Grad!;
            float[]? dx = x.RequiresGrad ? GradientPool.RentUninitialized(x.Size) : null;
            bool wantGamma = gamma.RequiresGrad, wantBeta = beta.RequiresGrad;
            // Each range sums its own dGamma/dBeta; the partial sums are added at the end in row order
            // (keyed by first row), so the result does not depend on which thread finished first.
            var partials = new SortedList<int, (float[] Gamma, float[] Beta)>();
            KernelParallel.ForRanges(rows, rowGrain, (first, last) =>
            {
                // The parameter sums are always taken (one fused pass) and dropped below when not wanted.
                var dGamma = new float[n]; var dBeta = new float[n];
                for (int r = first; r < last; r++)
                {
                    LayerNormKernels.Backward(xd.AsSpan(r * n, n), g.AsSpan(r * n, n), gammaData, mean[r], rstd[r],
                        dx is null ? Span<float>.Empty : dx.AsSpan(r * n, n), dGamma, dBeta);
                }
                lock (partials) partials.Add(first, (dGamma, dBeta));
            });
            foreach (var (dGamma, dBeta) in partials.Values)
            {
                if (wantGamma) gamma.AccumulateGrad(dGamma);
                if (wantBeta) beta.AccumulateGrad(dBeta);
            }
            if (dx is not null) x.AccumulateGradOwned(dx);
        });
    }
}
