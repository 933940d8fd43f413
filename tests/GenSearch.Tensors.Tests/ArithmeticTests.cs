namespace GenSearch.Tensors.Tests;

/// <summary>Broadcasting arithmetic and elementwise unary ops against index-based twins.</summary>
public class ArithmeticTests
{
    /// <summary>Shape pairs covering rank 0, size-0 dimensions, [1]-dimensions on either side and rank differences.</summary>
    public static TheoryData<int[], int[]> ShapePairs => new()
    {
        { [], [] },
        { [], [3] },
        { [4], [] },
        { [], [2, 3] },
        { [1], [5] },
        { [5], [1] },
        { [1], [] },
        { [3], [3] },
        { [2, 3], [2, 3] },
        { [2, 3], [3] },
        { [2, 3], [1, 3] },
        { [2, 3], [2, 1] },
        { [2, 1], [1, 3] },
        { [1, 3], [2, 1] },
        { [3, 1], [3] },
        { [4, 1, 5], [3, 1] },
        { [1, 3, 1], [2, 1, 4] },
        { [2, 3, 4], [4] },
        { [2, 3, 4], [3, 1] },
        { [2, 1, 4], [1, 3, 1] },
        { [2, 3, 1], [1] },
        { [1, 1, 1], [2, 3, 4] },
        { [2, 3, 4, 5], [3, 1, 5] },
        { [2, 1, 4, 1], [1, 3, 1, 5] },
        { [0], [0] },
        { [0], [1] },
        { [1], [0] },
        { [0, 3], [3] },
        { [2, 0], [2, 1] },
        { [2, 0, 3], [1, 1, 3] },
        { [], [0] },
        { [3, 1], [0] },
        { [1, 8], [7, 1] },   // one SIMD width wide
        { [17, 1], [1, 33] }, // odd widths past the vector length
        { [5, 65], [5, 65] },
    };

    private static readonly (string Name, Func<Tensor, Tensor, Tensor> Op, Func<double, double, double> Twin)[] Ops =
    [
        ("Add", Tensor.Add, (x, y) => x + y),
        ("Sub", Tensor.Sub, (x, y) => x - y),
        ("Mul", Tensor.Mul, (x, y) => x * y),
        ("Div", Tensor.Div, (x, y) => x / y),
    ];

    [Theory]
    [MemberData(nameof(ShapePairs))]
    public void BroadcastingMatchesIndexTwin(int[] shapeA, int[] shapeB)
    {
        var a = Twins.Random(1, shapeA);
        // b stays away from 0 so that division is well conditioned.
        var b = Tensor.Uniform(new Rng(2), 0.5f, 2f, shapeB);
        foreach (var (name, op, twin) in Ops)
        {
            var result = op(a, b);
            var (expected, shape) = Twins.Broadcast(a.Data, shapeA, b.Data, shapeB, twin);
            Assert.Equal(shape, result.Shape);
            Twins.AssertClose(expected, result.Data, rtol: 1e-6, atol: 0, context: $"{name} {Twins.Show(shapeA)} {Twins.Show(shapeB)}");
            // Swapped operands exercise the other side of each row kernel (a repeated, b walking).
            var swapped = op(b, a);
            var (expectedSwapped, _) = Twins.Broadcast(b.Data, shapeB, a.Data, shapeA, twin);
            Twins.AssertClose(expectedSwapped, swapped.Data, rtol: 1e-6, atol: 0, context: $"{name} {Twins.Show(shapeB)} {Twins.Show(shapeA)}");
        }
    }

    [Fact]
    public void LargeSameShapeOpsSplitOverThreadsMatchTwin()
    {
        int n = Tensor.ElementwiseGrain * 2 + 77;
        var a = Twins.Random(3, n);
        var b = Tensor.Uniform(new Rng(4), 0.5f, 2f, n);
        foreach (var (name, op, twin) in Ops)
        {
            var expected = new double[n];
            for (int i = 0; i < n; i++) expected[i] = twin(a.Data[i], b.Data[i]);
            Twins.AssertClose(expected, op(a, b).Data, rtol: 1e-6, atol: 0, context: name);
        }
    }

    [Theory]
    [InlineData(new[] { 2, 3 }, new[] { 4 })]
    [InlineData(new[] { 2, 3 }, new[] { 3, 3 })]
    [InlineData(new[] { 0 }, new[] { 2 })]
    [InlineData(new[] { 2, 3, 4 }, new[] { 2, 4 })]
    public void IncompatibleShapesNameTheOpAndShapes(int[] shapeA, int[] shapeB)
    {
        var ex = Assert.Throws<ArgumentException>(() => Tensor.Mul(Tensor.Zeros(shapeA), Tensor.Zeros(shapeB)));
        Assert.Contains("Mul", ex.Message);
        Assert.Contains(Twins.Show(shapeA), ex.Message);
        Assert.Contains(Twins.Show(shapeB), ex.Message);
    }

    [Fact]
    public void OperatorsAndScalarOps()
    {
        var a = Twins.Random(5, 3, 4);
        var b = Twins.Random(6, 4);
        Twins.AssertClose(Twins.Broadcast(a.Data, a.Shape, b.Data, b.Shape, (x, y) => x + y).Values, (a + b).Data, context: "+");
        Twins.AssertClose(Twins.Broadcast(a.Data, a.Shape, b.Data, b.Shape, (x, y) => x - y).Values, (a - b).Data, context: "-");
        Twins.AssertClose(Twins.Broadcast(a.Data, a.Shape, b.Data, b.Shape, (x, y) => x * y).Values, (a * b).Data, context: "*");
        Twins.AssertClose(a.Data.Select(v => v * 2.5f).ToArray(), (a * 2.5f).Data, context: "* c");
        Twins.AssertClose(a.Data.Select(v => v * 2.5f).ToArray(), (2.5f * a).Data, context: "c *");
        Twins.AssertClose(a.Data.Select(v => v + 1.5f).ToArray(), (a + 1.5f).Data, context: "+ c");
        Twins.AssertClose(a.Data.Select(v => v - 1.5f).ToArray(), (a - 1.5f).Data, context: "- c");
        Twins.AssertClose(a.Data.Select(v => -v).ToArray(), (-a).Data, context: "neg");
        Assert.Equal(a.Shape, (a * 2f).Shape);
    }

    [Fact]
    public void DivisionFollowsIeee()
    {
        var a = Tensor.FromArray([1f, -1f, 0f, 2f], 4);
        var b = Tensor.FromArray([0f, 0f, 0f, 4f], 4);
        var y = (a / b).Data;
        Assert.Equal(float.PositiveInfinity, y[0]);
        Assert.Equal(float.NegativeInfinity, y[1]);
        Assert.True(float.IsNaN(y[2]));
        Assert.Equal(0.5f, y[3]);
    }

    private static readonly (string Name, Func<Tensor, Tensor> Op, Func<double, double> Twin, float Low, float High)[] UnaryOps =
    [
        ("Exp", t => t.Exp(), Math.Exp, -10f, 10f),
        ("Log", t => t.Log(), Math.Log, 1e-3f, 100f),
        ("Sqrt", t => t.Sqrt(), Math.Sqrt, 0f, 100f),
        ("Tanh", t => t.Tanh(), Math.Tanh, -8f, 8f),
        ("Sigmoid", t => t.Sigmoid(), x => 1 / (1 + Math.Exp(-x)), -20f, 20f),
        ("Relu", t => t.Relu(), x => Math.Max(x, 0), -2f, 2f),
        ("Square", t => t.Square(), x => x * x, -10f, 10f),
    ];

    [Fact]
    public void UnaryOpsMatchMathAtEveryLength()
    {
        foreach (var (name, op, twin, low, high) in UnaryOps)
        {
            foreach (int n in KernelTests.Lengths)
            {
                var x = Tensor.FromArray(Twins.RandomArray(n, n, low, high), n);
                var y = op(x);
                Assert.Equal(x.Shape, y.Shape);
                Twins.AssertClose(x.Data.Select(v => twin(v)).ToArray(), y.Data, rtol: 2e-6, atol: 1e-7, context: $"{name} n={n}");
            }
        }
    }

    [Fact]
    public void UnaryOpsKeepShapeOfRankZeroAndEmpty()
    {
        var scalar = Tensor.Scalar(-2f);
        Assert.Empty(scalar.Relu().Shape);
        Assert.Equal(0f, scalar.Relu().Item());
        var empty = Tensor.Zeros(3, 0, 2);
        Assert.Equal([3, 0, 2], empty.Exp().Shape);
        Assert.Equal([3, 0, 2], (empty + empty).Shape);
    }
}
