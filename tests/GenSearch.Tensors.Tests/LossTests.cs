namespace GenSearch.Tensors.Tests;

/// <summary>CrossEntropy and PairwiseSquaredDistance against double-precision loops.</summary>
public class LossTests
{
    /// <summary>The twin: sum_i w_i (-log softmax(x_i)[t_i]) / sum_i w_i over rows not ignored, in double; 0 when nothing counts.</summary>
    private static double CrossEntropyTwin(Tensor logits, int[] targets, float[]? weights, int ignore)
    {
        int classes = logits.Shape[1];
        double loss = 0, weightSum = 0;
        for (int r = 0; r < targets.Length; r++)
        {
            if (targets[r] == ignore) continue;
            double w = weights?[r] ?? 1.0;
            loss += w * -Twins.LogSoftmax(logits.Data.AsSpan(r * classes, classes))[targets[r]];
            weightSum += w;
        }
        return weightSum > 0 ? loss / weightSum : 0;
    }

    /// <summary>The twin's gradient: (softmax - onehot) w_i / sum(w), zero for ignored rows.</summary>
    private static double[] CrossEntropyGradTwin(Tensor logits, int[] targets, float[]? weights, int ignore)
    {
        int classes = logits.Shape[1];
        double weightSum = 0;
        for (int r = 0; r < targets.Length; r++) if (targets[r] != ignore) weightSum += weights?[r] ?? 1.0;
        var grad = new double[logits.Size];
        if (weightSum == 0) return grad;
        for (int r = 0; r < targets.Length; r++)
        {
            if (targets[r] == ignore) continue;
            double s = (weights?[r] ?? 1.0) / weightSum;
            var p = Twins.Softmax(logits.Data.AsSpan(r * classes, classes));
            for (int c = 0; c < classes; c++) grad[r * classes + c] = s * (p[c] - (c == targets[r] ? 1 : 0));
        }
        return grad;
    }

    [Theory]
    [InlineData(1, 1, false, false)]
    [InlineData(4, 7, false, false)]
    [InlineData(8, 33, true, false)]
    [InlineData(8, 33, false, true)]
    [InlineData(16, 100, true, true)]
    [InlineData(3, 1000, true, true)]
    public void CrossEntropyMatchesDoubleTwin(int rows, int classes, bool ignoreSome, bool weighted)
    {
        var logits = Tensor.Uniform(new Rng((ulong)classes), -8f, 8f, rows, classes);
        var rng = new Rng((ulong)rows);
        var targets = Enumerable.Range(0, rows).Select(_ => rng.NextInt(classes)).ToArray();
        if (ignoreSome) for (int r = 0; r < rows; r += 3) targets[r] = Tensor.IgnoreIndex;
        var weights = weighted ? Twins.RandomArray(rows + 1, rows, 0.1f, 3f) : null;
        logits.RequiresGrad = true;
        var loss = Tensor.CrossEntropy(logits, targets, weights);
        Assert.Empty(loss.Shape);
        double expected = CrossEntropyTwin(logits, targets, weights, Tensor.IgnoreIndex);
        Assert.True(Math.Abs(loss.Item() - expected) <= 1e-5 * Math.Abs(expected) + 1e-6, $"loss {loss.Item()} vs {expected}");
        loss.Backward();
        Twins.AssertClose(CrossEntropyGradTwin(logits, targets, weights, Tensor.IgnoreIndex), logits.Grad!, rtol: 1e-4, atol: 1e-7, context: "dlogits");
    }

    [Fact]
    public void CrossEntropyIsStableForLargeLogitsAndCustomIgnoreIndex()
    {
        var logits = Tensor.FromArray([1e4f, 0f, -1e4f, 5e3f, 5e3f, 5e3f], 2, 3);
        var loss = Tensor.CrossEntropy(logits, [1, -1], ignoreIndex: -1);
        Assert.Equal(1e4f, loss.Item(), 1e-1f);
        var uniform = Tensor.CrossEntropy(logits, [7, 2], ignoreIndex: 7);
        Assert.Equal(Math.Log(3), uniform.Item(), 1e-5);
    }

    [Fact]
    public void AllIgnoredBatchGivesZeroLossAndZeroGradientNotNaN()
    {
        var logits = Twins.Random(1, 3, 5);
        logits.RequiresGrad = true;
        var loss = Tensor.CrossEntropy(logits, [Tensor.IgnoreIndex, Tensor.IgnoreIndex, Tensor.IgnoreIndex]);
        Assert.Equal(0f, loss.Item());
        loss.Backward();
        Assert.All(logits.Grad ?? new float[logits.Size], g => Assert.Equal(0f, g));
        var zeroWeights = Tensor.CrossEntropy(Twins.Random(2, 2, 5), [1, 2], [0f, 0f]);
        Assert.Equal(0f, zeroWeights.Item());
        var empty = Tensor.CrossEntropy(Tensor.Zeros(0, 5), []);
        Assert.Equal(0f, empty.Item());
    }

    [Fact]
    public void CrossEntropyBadInputsNameTheProblem()
    {
        var logits = Tensor.Zeros(2, 3);
        var ex = Assert.Throws<ArgumentException>(() => Tensor.CrossEntropy(logits, [0, 3]));
        Assert.Contains("target 3", ex.Message);
        Assert.Contains("row 1", ex.Message);
        Assert.Throws<ArgumentException>(() => Tensor.CrossEntropy(logits, [0, -2]));
        Assert.Throws<ArgumentException>(() => Tensor.CrossEntropy(logits, [0]));
        Assert.Throws<ArgumentException>(() => Tensor.CrossEntropy(logits, [0, 1], [1f]));
        Assert.Throws<ArgumentException>(() => Tensor.CrossEntropy(Tensor.Zeros(2, 3, 1), [0, 1]));
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(5, 7, 3)]
    [InlineData(9, 17, 33)]
    [InlineData(0, 4, 8)]
    [InlineData(4, 0, 8)]
    [InlineData(3, 4, 0)]
    public void PairwiseSquaredDistanceMatchesLoops(int n, int m, int d)
    {
        var a = Twins.Random(n + 1, n, d);
        var b = Twins.Random(m + 2, m, d);
        var y = Tensor.PairwiseSquaredDistance(a, b);
        Assert.Equal([n, m], y.Shape);
        var expected = new double[n * m];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++)
            {
                double s = 0;
                for (int c = 0; c < d; c++) { double diff = (double)a.Data[i * d + c] - b.Data[j * d + c]; s += diff * diff; }
                expected[i * m + j] = s;
            }
        // |a|^2 + |b|^2 - 2ab cancels where points are close: absolute tolerance scaled by the norms.
        Twins.AssertClose(expected, y.Data, rtol: 1e-5, atol: 1e-5 * Math.Max(1, d), context: "pairwise");
    }

    [Fact]
    public void PairwiseDistanceOfAPointToItselfIsZeroNotNegative()
    {
        var a = Tensor.Uniform(new Rng(3), 100f, 101f, 6, 16);
        var y = Tensor.PairwiseSquaredDistance(a, a);
        for (int i = 0; i < 6; i++)
        {
            Assert.True(y.Data[i * 6 + i] >= 0f);
            Assert.True(y.Data[i * 6 + i] < 0.5f, $"self distance {y.Data[i * 6 + i]}");
        }
        Assert.All(y.Data, v => Assert.True(v >= 0f));
    }

    [Fact]
    public void PairwiseDistanceShapeErrorNamesTheShapes()
    {
        var ex = Assert.Throws<ArgumentException>(() => Tensor.PairwiseSquaredDistance(Tensor.Zeros(2, 3), Tensor.Zeros(2, 4)));
        Assert.Contains("PairwiseSquaredDistance", ex.Message);
        Assert.Contains("[2, 4]", ex.Message);
    }
}
