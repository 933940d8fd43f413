using System.Numerics.Tensors;
using GenSearch.Tensors.Kernels;

namespace GenSearch.Tensors;

public sealed partial class Tensor
{
    /// <summary>The ignore index PyTorch uses: targets equal to it add no loss.</summary>
    public const int IgnoreIndex = -100;

    /// <summary>
    /// Cross-entropy of <paramref name="logits"/> [N, C] against class <paramref name="targets"/> [N]:
    /// sum_i w_i * -log softmax(logits_i)[t_i] / sum_i w_i over rows whose target is not
    /// <paramref name="ignoreIndex"/>. Weights default to 1 (the plain mean). Fused: the backward is
    /// (softmax - onehot) * w_i / sum(w).
    /// </summary>
    public static Tensor CrossEntropy(Tensor logits, int[] targets, float[]? weights = null, int ignoreIndex = IgnoreIndex)
    {
        if (logits.Rank != 2) Throw.Shape("CrossEntropy", $"logits must be [N, C], got {logits.ShapeString}");
        int rows = logits.Shape[0], classes = logits.Shape[1];
        if (targets.Length != rows) Throw.Shape("CrossEntropy", $"{targets.Length} targets for {rows} rows");
        if (weights is not null && weights.Length != rows) Throw.Shape("CrossEntropy", $"{weights.Length} weights for {rows} rows");
        var probs = GC.AllocateUninitializedArray<float>(logits.Size);
        double loss = 0, weightSum = 0;
        for (int r = 0; r < rows; r++)
        {
            int t = targets[r];
            if (t == ignoreIndex) continue;
            if ((uint)t >= (uint)classes) Throw.Argument($"CrossEntropy: target {t} in row {r} is outside [0, {classes})");
            float w = weights?[r] ?? 1f;
            var x = logits.Data.AsSpan(r * classes, classes);
            var p = probs.AsSpan(r * classes, classes);
            float max = TensorPrimitives.Max(x);
            TensorPrimitives.Subtract(x, max, p);
            TensorPrimitives.Exp(p, p);
            float sum = TensorPrimitives.Sum(p);
            loss += w * (MathF.Log(sum) - (x[t] - max));
            weightSum += w;
            TensorPrimitives.Multiply(p, 1f / sum, p);
        }
        float mean = weightSum > 0 ? (float)(loss / weightSum) : 0f;
        var result = Scalar(mean);
        if (!NeedsGrad(logits)) return result;
        return Record(result, [logits], output =>
        {
            float scale = weightSum > 0 ? (float)(output.Grad![0] / weightSum) : 0f;
            var dx = logits.GradBuffer();
            for (int r = 0; r < rows; r++)
            {
                int t = targets[r];
                if (t == ignoreIndex) continue;
                float s = scale * (weights?[r] ?? 1f);
                var d = dx.AsSpan(r * classes, classes);
                var p = probs.AsSpan(r * classes, classes);
                TensorPrimitives.MultiplyAdd(p, s, d, d);
                d[t] -= s;
            }
        });
    }

    /// <summary>
    /// Squared Euclidean distance between every row of <paramref name="a"/> [N, D] and every row of
    /// <paramref name="b"/> [M, D]: [N, M] = |a|^2 + |b|^2 - 2 a b^T, one GEMM. Clamped at 0 against rounding.
    /// </summary>
    public static Tensor PairwiseSquaredDistance(Tensor a, Tensor b)
    {
        if (a.Rank != 2 || b.Rank != 2 || a.Shape[1] != b.Shape[1])
            Throw.Shape("PairwiseSquaredDistance", $"needs [N, D] and [M, D], got {a.ShapeString} and {b.ShapeString}");
        int n = a.Shape[0], m = b.Shape[0], d = a.Shape[1];
        var result = Uninitialized(n, m);
        Gemm.Sgemm(false, true, n, m, d, -2f, a.Data, d, b.Data, d, 0f, result.Data, m);
        var normB = new float[m];
        for (int j = 0; j < m; j++) normB[j] = TensorPrimitives.SumOfSquares(b.Data.AsSpan(j * d, d));
        for (int i = 0; i < n; i++)
        {
            var row = result.Data.AsSpan(i * m, m);
            TensorPrimitives.Add(row, normB, row);
            TensorPrimitives.Add(row, TensorPrimitives.SumOfSquares(a.Data.AsSpan(i * d, d)), row);
            TensorPrimitives.Max(row, 0f, row);
        }
        if (!NeedsGrad(a, b)) return result;
        return Record(result, [a, b], output =>
        {
            var g = output.Grad!;
            // dA = 2 (rowsum(G) a - G b); dB = 2 (colsum(G) b - G^T a).
            if (a.RequiresGrad)
            {
                var ga = a.GradBuffer();
                Gemm.Sgemm(false, false, n, d, m, -2f, g, m, b.Data, d, 1f, ga, d);
                for (int i = 0; i < n; i++)
                    TensorPrimitives.MultiplyAdd(a.Data.AsSpan(i * d, d), 2f * TensorPrimitives.Sum(g.AsSpan(i * m, m)), ga.AsSpan(i * d, d), ga.AsSpan(i * d, d));
            }
            if (b.RequiresGrad)
            {
                var gb = b.GradBuffer();
                Gemm.Sgemm(true, false, m, d, n, -2f, g, m, a.Data, d, 1f, gb, d);
                var colSum = new float[m];
                for (int i = 0; i < n; i++) TensorPrimitives.Add(colSum, g.AsSpan(i * m, m), colSum);
                for (int j = 0; j < m; j++)
                    TensorPrimitives.MultiplyAdd(b.Data.AsSpan(j * d, d), 2f * colSum[j], gb.AsSpan(j * d, d), gb.AsSpan(j * d, d));
            }
        });
    }
}
