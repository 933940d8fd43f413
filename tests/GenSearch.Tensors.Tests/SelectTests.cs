namespace GenSearch.Tensors.Tests;

/// <summary>TopK, ArgMax and ArgMin against a stable sort.</summary>
public class SelectTests
{
    /// <summary>The twin: a stable sort by value descending, so equal values keep the lower index first.</summary>
    private static (float[] Values, int[] Indices) TopKTwin(float[] row, int k)
    {
        var order = Enumerable.Range(0, row.Length).OrderByDescending(j => row[j]).Take(k).ToArray();
        return (order.Select(j => row[j]).ToArray(), order);
    }

    [Fact]
    public void TopKMatchesStableSortForManyRowLengthsAndK()
    {
        foreach (int n in new[] { 1, 2, 3, 7, 8, 9, 31, 64, 100 })
        {
            // Values from a small set, so that ties are common.
            var x = Tensor.FromArray(Twins.RandomArray(n, 3 * n).Select(v => MathF.Round(v * 4f)).ToArray(), 3, n);
            foreach (int k in new[] { 1, 2, 5, n, n + 3 })
            {
                var (values, indices) = x.TopK(k);
                int kk = Math.Min(k, n);
                Assert.Equal(3 * kk, values.Length);
                for (int r = 0; r < 3; r++)
                {
                    var (ev, ei) = TopKTwin(x.Data[(r * n)..((r + 1) * n)], kk);
                    Assert.Equal(ev, values[(r * kk)..((r + 1) * kk)]);
                    Assert.Equal(ei, indices[(r * kk)..((r + 1) * kk)]);
                }
            }
        }
    }

    [Fact]
    public void TopKTiesKeepTheLowerIndexFirst()
    {
        var x = Tensor.FromArray([1f, 3f, 3f, 2f, 3f, 1f], 6);
        var (values, indices) = x.TopK(4);
        Assert.Equal([3f, 3f, 3f, 2f], values);
        Assert.Equal([1, 2, 4, 3], indices);
        var (_, two) = x.TopK(2);
        Assert.Equal([1, 2], two);
    }

    [Fact]
    public void TopKWithKAboveRowLengthReturnsWholeRowSorted()
    {
        var (values, indices) = Tensor.FromArray([0.5f, -1f, 2f], 3).TopK(10);
        Assert.Equal([2f, 0.5f, -1f], values);
        Assert.Equal([2, 0, 1], indices);
    }

    [Fact]
    public void TopKWithKZeroReturnsNothing()
    {
        var (values, indices) = Twins.Random(1, 4, 6).TopK(0);
        Assert.Empty(values);
        Assert.Empty(indices);
    }

    [Fact]
    public void TopKHandlesInfinitiesAndRejectsNegativeK()
    {
        var x = Tensor.FromArray([float.NegativeInfinity, 1f, float.PositiveInfinity, float.NegativeInfinity], 4);
        var (values, indices) = x.TopK(4);
        Assert.Equal([float.PositiveInfinity, 1f, float.NegativeInfinity, float.NegativeInfinity], values);
        Assert.Equal([2, 1, 0, 3], indices);
        Assert.Throws<ArgumentException>(() => x.TopK(-1));
    }

    [Fact]
    public void TopKOfEmptyRowsIsEmpty()
    {
        var (values, indices) = Tensor.Zeros(0, 5).TopK(3);
        Assert.Empty(values);
        Assert.Empty(indices);
    }

    [Fact]
    public void ArgMaxArgMinMatchLoopsWithTiesToLowestIndex()
    {
        foreach (int n in Enumerable.Range(1, 40))
        {
            var x = Tensor.FromArray(Twins.RandomArray(n, 4 * n).Select(v => MathF.Round(v * 3f)).ToArray(), 2, 2, n);
            var argMax = x.ArgMax();
            var argMin = x.ArgMin();
            Assert.Equal(4, argMax.Length);
            for (int r = 0; r < 4; r++)
            {
                var row = x.Data[(r * n)..((r + 1) * n)];
                Assert.Equal(Array.IndexOf(row, row.Max()), argMax[r]);
                Assert.Equal(Array.IndexOf(row, row.Min()), argMin[r]);
            }
        }
    }

    [Fact]
    public void ArgMaxOfEmptyAxisIsAnError() => Assert.Throws<ArgumentException>(() => Tensor.Zeros(2, 0).ArgMax());
}
