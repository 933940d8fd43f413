namespace GenSearch.Tensors.Tests;

/// <summary>Sum, Mean and Max over every axis against loop twins.</summary>
public class ReductionTests
{
    public static TheoryData<int[]> Shapes => new()
    {
        new[] { 7 },
        new[] { 1 },
        new[] { 3, 5 },
        new[] { 5, 1 },
        new[] { 1, 9 },
        new[] { 2, 3, 4 },
        new[] { 3, 1, 17 },
        new[] { 2, 3, 4, 5 },
        new[] { 4, 65 },
        new[] { 65, 3 },
        new[] { 2, 0, 3 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void SumMeanMaxOverEveryAxisMatchTwin(int[] shape)
    {
        var x = Twins.Random(shape.Length * 31 + shape[^1], shape);
        for (int axis = 0; axis < shape.Length; axis++)
        {
            foreach (string kind in new[] { "sum", "mean", "max" })
            {
                if (kind == "max" && shape[axis] == 0) continue;
                foreach (bool keepDim in new[] { false, true })
                {
                    // Negative axes must mean the same as their positive twins.
                    int axisArg = keepDim ? axis - shape.Length : axis;
                    var y = kind switch
                    {
                        "sum" => x.Sum(axisArg, keepDim),
                        "mean" => x.Mean(axisArg, keepDim),
                        _ => x.Max(axisArg, keepDim),
                    };
                    var (expected, outShape) = Twins.Reduce(x.Data, shape, axis, kind);
                    var expectedShape = keepDim ? shape.Select((d, i) => i == axis ? 1 : d).ToArray() : outShape;
                    Assert.Equal(expectedShape, y.Shape);
                    Twins.AssertClose(expected, y.Data, rtol: 1e-5, atol: 1e-6, context: $"{kind} axis {axisArg} of {Twins.Show(shape)}");
                }
            }
        }
    }

    [Fact]
    public void SumAndMeanOverEmptyAxisAreZero()
    {
        var x = Tensor.Zeros(3, 0);
        Assert.Equal(new float[3], x.Sum(1).Data);
        Assert.Equal(new float[3], x.Mean(1).Data);
        Assert.Equal([0], x.Sum(0).Shape);
        Assert.Throws<ArgumentException>(() => x.Max(1));
    }

    [Fact]
    public void MaxPropagatesNaNAndHandlesInfinities()
    {
        var x = Tensor.FromArray([1f, float.NaN, 3f, float.NegativeInfinity, float.NegativeInfinity, float.NegativeInfinity, 2f, float.PositiveInfinity, 5f], 3, 3);
        var y = x.Max(1).Data;
        Assert.True(float.IsNaN(y[0]));
        Assert.Equal(float.NegativeInfinity, y[1]);
        Assert.Equal(float.PositiveInfinity, y[2]);
    }

    [Fact]
    public void WholeTensorReductions()
    {
        var x = Twins.Random(8, 4, 5, 6);
        double sum = x.Data.Sum(v => (double)v);
        Assert.Empty(x.SumAll().Shape);
        Assert.Equal(sum, x.SumAll().Item(), 1e-4);
        Assert.Equal(sum / x.Size, x.MeanAll().Item(), 1e-5);
    }

    [Fact]
    public void LongRowSumIsAccurate()
    {
        // 1000 copies of 0.1 plus rows of mixed sign: float pairwise/SIMD sums stay near the double sum.
        var x = Tensor.Full(0.1f, 3, 1000);
        Twins.AssertClose(new double[] { 100, 100, 100 }, x.Sum(1).Data, rtol: 1e-5, context: "sum of 0.1");
        Twins.AssertClose(new double[] { 0.1, 0.1, 0.1 }, x.Mean(1).Data, rtol: 1e-5, context: "mean of 0.1");
    }

    [Fact]
    public void BadAxisIsAClearError()
    {
        var x = Tensor.Zeros(2, 3);
        var ex = Assert.Throws<ArgumentException>(() => x.Sum(2));
        Assert.Contains("axis 2", ex.Message);
        Assert.Throws<ArgumentException>(() => x.Max(-3));
    }
}
