namespace GenSearch.Tensors.Tests;

/// <summary>MatMul and Linear against a twin that transposes by hand and multiplies with the reference GEMM.</summary>
public class MatMulTests
{
    private static int[] Stored(int[] batch, int rows, int cols, bool trans) => trans ? [.. batch, cols, rows] : [.. batch, rows, cols];

    public static TheoryData<int[], int[], int, int, int> Cases => new()
    {
        // batch of a, batch of b, m, k, n
        { [], [], 3, 4, 5 },
        { [], [], 1, 1, 1 },
        { [], [], 7, 9, 17 },
        { [], [], 0, 4, 5 },
        { [], [], 3, 0, 5 },
        { [], [], 3, 4, 0 },
        { [2], [], 3, 4, 5 },      // a batched, b shared
        { [2, 3], [], 5, 6, 7 },
        { [], [4], 3, 4, 5 },      // a shared, b batched
        { [3], [3], 4, 5, 6 },     // both batched
        { [2, 2], [2, 2], 3, 8, 9 },
        { [0], [], 3, 4, 5 },
        { [2], [2], 1, 33, 1 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatMulMatchesReferenceTwinForEveryTransposeCase(int[] batchA, int[] batchB, int m, int k, int n)
    {
        foreach (bool transA in new[] { false, true })
        {
            foreach (bool transB in new[] { false, true })
            {
                var a = Twins.Random(m * 7 + k, Stored(batchA, m, k, transA));
                var b = Twins.Random(n * 5 + k + 1, Stored(batchB, k, n, transB));
                var c = Tensor.MatMul(a, b, transA, transB);
                int[] batch = batchA.Length > 0 ? batchA : batchB;
                Assert.Equal([.. batch, m, n], c.Shape);
                Twins.AssertClose(Twins.MatMul(a, b, transA, transB), c.Data, rtol: 1e-5, atol: 1e-5,
                    context: $"MatMul {a.ShapeString}{(transA ? "^T" : "")} x {b.ShapeString}{(transB ? "^T" : "")}");
            }
        }
    }

    [Fact]
    public void MatMulShapeErrorsNameTheOpAndShapes()
    {
        var ex = Assert.Throws<ArgumentException>(() => Tensor.MatMul(Tensor.Zeros(2, 3), Tensor.Zeros(4, 5)));
        Assert.Contains("MatMul", ex.Message);
        Assert.Contains("[2, 3]", ex.Message);
        Assert.Contains("[4, 5]", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Tensor.MatMul(Tensor.Zeros(2, 3, 4), Tensor.Zeros(3, 4, 5)));
        Assert.Contains("batch", ex.Message);
        Assert.Throws<ArgumentException>(() => Tensor.MatMul(Tensor.Zeros(3), Tensor.Zeros(3, 4)));
    }

    [Theory]
    [InlineData(new[] { 4 }, 4, 3, true)]
    [InlineData(new[] { 6, 4 }, 4, 3, true)]
    [InlineData(new[] { 2, 3, 8 }, 8, 17, true)]
    [InlineData(new[] { 2, 3, 8 }, 8, 17, false)]
    [InlineData(new[] { 0, 8 }, 8, 2, true)]
    public void LinearEqualsMatMulPlusBias(int[] inShape, int inDim, int outDim, bool withBias)
    {
        var x = Twins.Random(1, inShape);
        var w = Twins.Random(2, outDim, inDim);
        var bias = withBias ? Twins.Random(3, outDim) : null;
        var y = Tensor.Linear(x, w, bias);
        Assert.Equal([.. inShape[..^1], outDim], y.Shape);
        var expected = Tensor.MatMul(x.Reshape(x.Size / inDim, inDim), w, transB: true);
        if (bias is not null) expected = expected + bias;
        Twins.AssertClose(expected.Data, y.Data, rtol: 1e-5, atol: 1e-5, context: $"Linear {x.ShapeString}");
    }

    [Fact]
    public void LinearWithZeroInputFeaturesGivesTheBias()
    {
        // x [3, 0] times W [2, 0]^T is a [3, 2] matrix of zeros; every output must still be written.
        var bias = Tensor.FromArray([1.5f, -2f], 2);
        var y = Tensor.Linear(Tensor.Zeros(3, 0), Tensor.Zeros(2, 0), bias);
        Assert.Equal([3, 2], y.Shape);
        Assert.Equal([1.5f, -2f, 1.5f, -2f, 1.5f, -2f], y.Data);
        var noBias = Tensor.Linear(Tensor.Zeros(3, 0), Tensor.Zeros(2, 0), null);
        Assert.Equal(new float[6], noBias.Data);
    }

    [Fact]
    public void LinearShapeErrorsNameTheShapes()
    {
        var ex = Assert.Throws<ArgumentException>(() => Tensor.Linear(Tensor.Zeros(2, 5), Tensor.Zeros(3, 4), null));
        Assert.Contains("Linear", ex.Message);
        Assert.Contains("[2, 5]", ex.Message);
        Assert.Contains("[3, 4]", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Tensor.Linear(Tensor.Zeros(2, 4), Tensor.Zeros(3, 4), Tensor.Zeros(4)));
        Assert.Contains("bias", ex.Message);
    }
}
