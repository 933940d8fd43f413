namespace GenSearch.Tensors.Tests;

/// <summary>
/// The gradient pool recycles released gradients across backward passes; these check that a recycled
/// array never changes a result (it would if one were handed out while still referenced).
/// </summary>
public class GradientPoolTests
{
    /// <summary>
    /// A graph over pool-sized tensors through every op that rents or returns (linear with its pooled
    /// dx, layer norm, GELU, dropout with its pooled mask, residual adds, reshape, concat, permute).
    /// </summary>
    private static (float[] W1, float[] W2, float[] X) Gradients(Tensor x, Tensor w1, Tensor w2, Tensor gamma, Tensor beta)
    {
        x.Grad = null; w1.Grad = null; w2.Grad = null; gamma.Grad = null; beta.Grad = null;
        var h = Tensor.LayerNorm(x, gamma, beta);
        var up = Tensor.Linear(h, w1, null).Gelu().Dropout(0.25f, new Rng(5));
        var down = Tensor.Linear(up, w2, null);
        var y = x + down;
        var both = Tensor.Concat([y, y.Reshape(y.Shape).Permute(0, 1) * 0.5f], 1);
        (both * both).Sum(1).Sum(0).Backward();
        return ((float[])w1.Grad!.Clone(), (float[])w2.Grad!.Clone(), (float[])x.Grad!.Clone());
    }

    [Fact]
    public void RepeatedBackwardsWithRecycledArraysGiveIdenticalGradients()
    {
        int rows = GradientPool.MinLength / 64 + 3, dim = 64, hidden = 128; // every activation above the pooling threshold
        var x = Twins.Random(1, rows, dim); x.RequiresGrad = true;
        var w1 = Twins.Random(2, hidden, dim); w1.RequiresGrad = true;
        var w2 = Twins.Random(3, dim, hidden); w2.RequiresGrad = true;
        var gamma = Tensor.Full(1f, dim); gamma.RequiresGrad = true;
        var beta = Tensor.Zeros(dim); beta.RequiresGrad = true;
        var first = Gradients(x, w1, w2, gamma, beta);
        for (int pass = 0; pass < 3; pass++)
        {
            var again = Gradients(x, w1, w2, gamma, beta);
            Assert.Equal(first.W1, again.W1);
            Assert.Equal(first.W2, again.W2);
            Assert.Equal(first.X, again.X);
        }
    }

    [Fact]
    public void RentedArraysHaveTheExactLengthAndZeroedOnesAreZero()
    {
        int n = GradientPool.MinLength + 17;
        var a = GradientPool.RentUninitialized(n);
        Array.Fill(a, 3f);
        GradientPool.Return(a);
        var b = GradientPool.RentZeroed(n);
        Assert.Equal(n, b.Length);
        Assert.All(b, v => Assert.Equal(0f, v));
        Assert.Equal(5, GradientPool.RentZeroed(5).Length);
    }
}
