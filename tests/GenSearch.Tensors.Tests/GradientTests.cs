namespace GenSearch.Tensors.Tests;

/// <summary>Every differentiable op's gradient against finite differences.</summary>
public class GradientTests
{
    private static Tensor R(int seed, params int[] shape) => GradCheck.Random(seed, shape);

    [Theory]
    [InlineData(new[] { 2, 3 }, new[] { 2, 3 })]
    [InlineData(new[] { 2, 3, 4 }, new[] { 4 })]
    [InlineData(new[] { 2, 1, 4 }, new[] { 3, 1 })]
    [InlineData(new[] { 3, 1 }, new[] { 2, 3, 5 })]
    [InlineData(new int[0], new[] { 2, 2 })]
    public void BroadcastArithmetic(int[] shapeA, int[] shapeB)
    {
        GradCheck.Check(x => x[0] + x[1], [R(1, shapeA), R(2, shapeB)]);
        GradCheck.Check(x => x[0] - x[1], [R(1, shapeA), R(2, shapeB)]);
        GradCheck.Check(x => x[0] * x[1], [R(1, shapeA), R(2, shapeB)]);
        GradCheck.Check(x => x[0] / x[1], [R(1, shapeA), GradCheck.Positive(2, shapeB)]);
    }

    [Fact]
    public void SameTensorOnBothSides() => GradCheck.Check(x => x[0] * x[0] + x[0], [R(3, 4, 5)]);

    [Fact]
    public void ScalarOps() => GradCheck.Check(x => (x[0] * 3f + 1f) - 2f, [R(4, 3, 3)]);

    [Fact]
    public void Unary()
    {
        GradCheck.Check(x => x[0].Exp(), [R(5, 3, 4)]);
        GradCheck.Check(x => x[0].Log(), [GradCheck.Positive(6, 3, 4)]);
        GradCheck.Check(x => x[0].Sqrt(), [GradCheck.Positive(7, 3, 4)]);
        GradCheck.Check(x => x[0].Tanh(), [R(8, 3, 4)]);
        GradCheck.Check(x => x[0].Sigmoid(), [R(9, 3, 4)]);
        GradCheck.Check(x => x[0].Relu(), [R(10, 3, 4)]);
        GradCheck.Check(x => x[0].Gelu(), [R(11, 5, 7)]);
        GradCheck.Check(x => x[0].Square(), [R(12, 3, 4)]);
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(1, true)]
    [InlineData(2, false)]
    [InlineData(-1, true)]
    public void Reductions(int axis, bool keepDim)
    {
        GradCheck.Check(x => x[0].Sum(axis, keepDim), [R(13, 2, 3, 4)]);
        GradCheck.Check(x => x[0].Mean(axis, keepDim), [R(14, 2, 3, 4)]);
        GradCheck.Check(x => x[0].Max(axis, keepDim), [R(15, 2, 3, 4)]);
    }

    [Fact]
    public void WholeTensorReductions()
    {
        GradCheck.Check(x => x[0].SumAll(), [R(16, 3, 5)]);
        GradCheck.Check(x => x[0].MeanAll(), [R(17, 3, 5)]);
    }

    [Fact]
    public void SoftmaxFamily()
    {
        GradCheck.Check(x => x[0].Softmax(), [R(18, 3, 7)]);
        GradCheck.Check(x => x[0].LogSoftmax(), [R(19, 2, 3, 5)]);
    }

    [Fact]
    public void LayerNormAllInputs() => GradCheck.Check(x => Tensor.LayerNorm(x[0], x[1], x[2]), [R(20, 4, 6), R(21, 6), R(22, 6)]);

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void MatMulTransposes(bool transA, bool transB)
    {
        int m = 3, k = 4, n = 5;
        var a = transA ? R(23, k, m) : R(23, m, k);
        var b = transB ? R(24, n, k) : R(24, k, n);
        GradCheck.Check(x => Tensor.MatMul(x[0], x[1], transA, transB), [a, b]);
        // Batched, and a batched A against a shared B.
        var ab = transA ? R(25, 2, k, m) : R(25, 2, m, k);
        var bb = transB ? R(26, 2, n, k) : R(26, 2, k, n);
        GradCheck.Check(x => Tensor.MatMul(x[0], x[1], transA, transB), [ab, bb]);
        GradCheck.Check(x => Tensor.MatMul(x[0], x[1], transA, transB), [ab, b]);
        GradCheck.Check(x => Tensor.MatMul(x[0], x[1], transA, transB), [a, bb]);
    }

    [Fact]
    public void LinearWithAndWithoutBias()
    {
        GradCheck.Check(x => Tensor.Linear(x[0], x[1], x[2]), [R(27, 2, 3, 4), R(28, 5, 4), R(29, 5)]);
        GradCheck.Check(x => Tensor.Linear(x[0], x[1], null), [R(30, 3, 4), R(31, 2, 4)]);
    }

    [Fact]
    public void EmbeddingBagWithRepeatedIdsAndAnEmptyBag()
        => GradCheck.Check(x => Tensor.EmbeddingBag(x[0], [1, 3, 1, 0, 3, 3, 4], [0, 2, 2, 5]), [R(33, 5, 4)]);

    [Fact]
    public void EmbeddingWithRepeatedIds()
        => GradCheck.Check(x => Tensor.Embedding(x[0], [1, 3, 1, 0, 3, 3], 2, 3), [R(32, 5, 4)]);

    [Fact]
    public void ShapeOps()
    {
        GradCheck.Check(x => x[0].Reshape(4, -1), [R(33, 2, 3, 4)]);
        GradCheck.Check(x => x[0].Transpose(0, 2), [R(34, 2, 3, 4)]);
        GradCheck.Check(x => x[0].Permute(1, 2, 0), [R(35, 2, 3, 4)]);
        GradCheck.Check(x => Tensor.Concat([x[0], x[1], x[0]], 1), [R(36, 2, 3, 4), R(37, 2, 1, 4)]);
        GradCheck.Check(x => x[0].Slice(1, 1, 2), [R(38, 2, 4, 3)]);
        GradCheck.Check(x => x[0].Slice(-1, 0, 2), [R(39, 2, 4, 3)]);
    }

    [Fact]
    public void MaskedFillBlocksGradient()
        => GradCheck.Check(x => x[0].MaskedFill([true, false, false, true, false, true], [2, 1, 3], -5f), [R(40, 2, 4, 3)]);

    [Fact]
    public void CrossEntropyWithIgnoreAndWeights()
    {
        GradCheck.Check(x => Tensor.CrossEntropy(x[0], [2, 0, Tensor.IgnoreIndex, 4]), [R(41, 4, 5)]);
        GradCheck.Check(x => Tensor.CrossEntropy(x[0], [2, 0, 1, 4], [0.5f, 2f, 1f, 0f]), [R(42, 4, 5)]);
    }

    [Fact]
    public void PairwiseDistance() => GradCheck.Check(x => Tensor.PairwiseSquaredDistance(x[0], x[1]), [R(43, 3, 4), R(44, 5, 4)]);

    [Theory]
    [InlineData(false, false, 4, 4)]
    [InlineData(true, false, 4, 4)]
    [InlineData(false, true, 3, 5)]
    [InlineData(true, true, 2, 5)]
    public void AttentionAllInputs(bool causal, bool padding, int tq, int tk)
    {
        bool[]? pad = padding ? Enumerable.Range(0, 2 * tk).Select(i => i % tk == tk - 1).ToArray() : null;
        GradCheck.Check(x => Tensor.Attention(x[0], x[1], x[2], heads: 2, causal, pad), [R(45, 2, tq, 6), R(46, 2, tk, 6), R(47, 2, tk, 6)]);
    }

    [Fact]
    public void DropoutWithFixedSeed()
        => GradCheck.Check(x => x[0].Dropout(0.3f, new Rng(7)), [R(48, 4, 9)]);

    [Fact]
    public void StraightThroughHasQuantizedValuesAndIdentityGradient()
    {
        // Finite differences cannot check a straight-through estimator (its forward ignores x): the
        // contract is the quantized values forward and the upstream gradient, unchanged, into x.
        var x = R(50, 3, 4); x.RequiresGrad = true;
        var quantized = R(49, 3, 4);
        var upstream = R(51, 3, 4);
        var y = Tensor.StraightThrough(x, quantized);
        Assert.Equal(quantized.Data, y.Data);
        (y * upstream).SumAll().Backward();
        Assert.Equal(upstream.Data, x.Grad);
    }
}
