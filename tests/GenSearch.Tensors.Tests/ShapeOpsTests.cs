namespace GenSearch.Tensors.Tests;

/// <summary>Reshape, Permute, Transpose, Concat and Slice against index twins.</summary>
public class ShapeOpsTests
{
    private static IEnumerable<int[]> Permutations(int rank)
    {
        if (rank == 0) { yield return []; yield break; }
        foreach (var rest in Permutations(rank - 1))
            for (int at = 0; at <= rest.Length; at++)
                yield return [.. rest[..at], rank - 1, .. rest[at..]];
    }

    [Theory]
    [InlineData(new[] { 2, 3, 4 })]
    [InlineData(new[] { 1, 5, 1 })]
    [InlineData(new[] { 3, 1, 9 })]
    [InlineData(new[] { 2, 0, 3 })]
    public void PermuteEveryRank3PermutationMatchesTwin(int[] shape)
    {
        var x = Twins.Random(3, shape);
        foreach (var perm in Permutations(3))
        {
            var y = x.Permute(perm);
            Assert.Equal(perm.Select(p => shape[p]).ToArray(), y.Shape);
            Assert.Equal(Twins.Permute(x.Data, shape, perm), y.Data);
        }
    }

    [Fact]
    public void PermuteEveryRank4PermutationMatchesTwin()
    {
        int[] shape = [2, 3, 4, 5];
        var x = Twins.Random(4, shape);
        var perms = Permutations(4).ToList();
        Assert.Equal(24, perms.Count);
        foreach (var perm in perms)
            Assert.Equal(Twins.Permute(x.Data, shape, perm), x.Permute(perm).Data);
    }

    [Fact]
    public void PermuteThenInverseIsIdentityAndRankZeroWorks()
    {
        var x = Twins.Random(5, 2, 3, 4, 5, 2);
        var y = x.Permute(4, 2, 0, 3, 1).Permute(2, 4, 1, 3, 0);
        Assert.Equal(x.Shape, y.Shape);
        Assert.Equal(x.Data, y.Data);
        Assert.Equal(7f, Tensor.Scalar(7f).Permute().Item());
    }

    [Theory]
    [InlineData(new[] { 0, 0, 1 })]
    [InlineData(new[] { 0, 1 })]
    [InlineData(new[] { 0, 1, 3 })]
    public void BadPermutationIsAClearError(int[] perm)
    {
        var ex = Assert.Throws<ArgumentException>(() => Tensor.Zeros(2, 3, 4).Permute(perm));
        Assert.Contains("Permute", ex.Message);
    }

    [Fact]
    public void TransposeSwapsTwoAxes()
    {
        var x = Twins.Random(6, 3, 4, 5);
        Assert.Equal(Twins.Permute(x.Data, x.Shape, [0, 2, 1]), x.Transpose(1, 2).Data);
        Assert.Equal(Twins.Permute(x.Data, x.Shape, [2, 1, 0]), x.Transpose(-1, 0).Data);
    }

    [Fact]
    public void ReshapeInfersMinusOneAndRejectsBadShapes()
    {
        var x = Twins.Random(7, 2, 3, 4);
        Assert.Equal([6, 4], x.Reshape(-1, 4).Shape);
        Assert.Equal([2, 12], x.Reshape(2, -1).Shape);
        Assert.Equal(x.Data, x.Reshape(24).Data);
        Assert.Empty(Tensor.Zeros(1, 1).Reshape().Shape);
        var ex = Assert.Throws<ArgumentException>(() => x.Reshape(5, -1));
        Assert.Contains("Reshape", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => x.Reshape(5, 5));
        Assert.Contains("[2, 3, 4]", ex.Message);
        Assert.Contains("[5, 5]", ex.Message);
    }

    /// <summary>The twin: out index i along axis is input t's index i - (extents of the tensors before t).</summary>
    private static float[] ConcatTwin(Tensor[] parts, int axis)
    {
        var shape = (int[])parts[0].Shape.Clone();
        shape[axis] = parts.Sum(p => p.Shape[axis]);
        var result = new float[Twins.Size(shape)];
        for (long flat = 0; flat < result.Length; flat++)
        {
            var index = Twins.Unravel(flat, shape);
            int t = 0;
            while (index[axis] >= parts[t].Shape[axis]) { index[axis] -= parts[t].Shape[axis]; t++; }
            result[flat] = parts[t].Data[Twins.Ravel(index, parts[t].Shape)];
        }
        return result;
    }

    [Fact]
    public void ConcatOverEveryAxisMatchesTwin()
    {
        for (int axis = 0; axis < 3; axis++)
        {
            int[] Shape(int extent) { var s = new[] { 2, 3, 4 }; s[axis] = extent; return s; }
            Tensor[] parts = [Twins.Random(1, Shape(1)), Twins.Random(2, Shape(3)), Twins.Random(3, Shape(0)), Twins.Random(4, Shape(2))];
            var y = Tensor.Concat(parts, axis);
            Assert.Equal(Shape(6), y.Shape);
            Assert.Equal(ConcatTwin(parts, axis), y.Data);
            Assert.Equal(y.Data, Tensor.Concat(parts, axis - 3).Data);
        }
    }

    [Fact]
    public void ConcatRejectsMismatchedShapes()
    {
        var ex = Assert.Throws<ArgumentException>(() => Tensor.Concat([Tensor.Zeros(2, 3), Tensor.Zeros(3, 3)], 1));
        Assert.Contains("Concat", ex.Message);
        Assert.Contains("[3, 3]", ex.Message);
        Assert.Throws<ArgumentException>(() => Tensor.Concat([Tensor.Zeros(2, 3), Tensor.Zeros(2, 3, 1)], 0));
        Assert.Throws<ArgumentException>(() => Tensor.Concat([], 0));
    }

    [Fact]
    public void SliceOverEveryAxisMatchesTwinAndInvertsConcat()
    {
        var x = Twins.Random(9, 4, 5, 6);
        for (int axis = 0; axis < 3; axis++)
        {
            int n = x.Shape[axis];
            for (int start = 0; start <= n; start++)
            {
                for (int length = 0; start + length <= n; length++)
                {
                    var y = x.Slice(axis, start, length);
                    var shape = (int[])x.Shape.Clone(); shape[axis] = length;
                    Assert.Equal(shape, y.Shape);
                    var expected = new float[Twins.Size(shape)];
                    for (long flat = 0; flat < expected.Length; flat++)
                    {
                        var index = Twins.Unravel(flat, shape);
                        index[axis] += start;
                        expected[flat] = x.Data[Twins.Ravel(index, x.Shape)];
                    }
                    Assert.Equal(expected, y.Data);
                }
            }
            int cut = n / 2;
            var joined = Tensor.Concat([x.Slice(axis, 0, cut), x.Slice(axis, cut, n - cut)], axis);
            Assert.Equal(x.Data, joined.Data);
        }
    }

    [Theory]
    [InlineData(-1, 2)]
    [InlineData(0, 6)]
    [InlineData(4, 2)]
    [InlineData(2, -1)]
    public void SliceOutOfRangeIsAClearError(int start, int length)
    {
        var ex = Assert.Throws<ArgumentException>(() => Tensor.Zeros(3, 5).Slice(1, start, length));
        Assert.Contains("Slice", ex.Message);
        Assert.Contains("[3, 5]", ex.Message);
    }
}
