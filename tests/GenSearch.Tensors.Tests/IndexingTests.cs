namespace GenSearch.Tensors.Tests;

/// <summary>Embedding, MaskedFill, Dropout and StraightThrough.</summary>
public class IndexingTests
{
    [Fact]
    public void EmbeddingPicksRowsInIdShape()
    {
        var weight = Twins.Random(1, 10, 3);
        int[] ids = [4, 0, 9, 4, 2, 7];
        var y = Tensor.Embedding(weight, ids, 2, 3);
        Assert.Equal([2, 3, 3], y.Shape);
        for (int i = 0; i < ids.Length; i++)
            Assert.Equal(weight.Data[(ids[i] * 3)..(ids[i] * 3 + 3)], y.Data[(i * 3)..(i * 3 + 3)]);
        Assert.Equal([0, 3], Tensor.Embedding(weight, [], 0).Shape);
    }

    [Fact]
    public void EmbeddingBagEqualsTheMeanOfEmbeddingRows()
    {
        // The slow twin: pick every row with Embedding, then average each bag's rows by hand.
        var weight = Twins.Random(2, 12, 5);
        int[] ids = [3, 3, 7, 0, 11, 2, 9, 9, 9, 4];
        int[] offsets = [0, 3, 3, 4, 9];
        var bags = Tensor.EmbeddingBag(weight, ids, offsets);
        var rows = Tensor.Embedding(weight, ids, ids.Length);
        Assert.Equal([5, 5], bags.Shape);
        for (int b = 0; b < offsets.Length; b++)
        {
            int start = offsets[b], end = b + 1 < offsets.Length ? offsets[b + 1] : ids.Length;
            for (int d = 0; d < 5; d++)
            {
                float sum = 0;
                for (int i = start; i < end; i++) sum += rows.Data[i * 5 + d];
                float expected = end == start ? 0f : sum / (end - start);
                Assert.Equal(expected, bags.Data[b * 5 + d], 5);
            }
        }
    }

    [Fact]
    public void EmbeddingBagRejectsBadIdsAndOffsets()
    {
        var weight = Tensor.Zeros(4, 2);
        Assert.Contains("id 4 at position 1", Assert.Throws<ArgumentException>(() => Tensor.EmbeddingBag(weight, [0, 4], [0])).Message);
        Assert.Contains("bag 0 spans [1, 0)", Assert.Throws<ArgumentException>(() => Tensor.EmbeddingBag(weight, [0, 1], [1, 0])).Message);
        Assert.Contains("bag 0 spans [3, 2)", Assert.Throws<ArgumentException>(() => Tensor.EmbeddingBag(weight, [0, 1], [3])).Message);
    }

    [Theory]
    [InlineData(10)]
    [InlineData(-1)]
    [InlineData(int.MinValue)]
    public void EmbeddingOutOfRangeIdNamesIdPositionAndVocabulary(int bad)
    {
        var weight = Tensor.Zeros(10, 3);
        weight.Name = "encoder.tokens";
        var ex = Assert.Throws<ArgumentException>(() => Tensor.Embedding(weight, [1, 2, bad], 3));
        Assert.Contains($"id {bad}", ex.Message);
        Assert.Contains("position 2", ex.Message);
        Assert.Contains("10", ex.Message);
        Assert.Contains("encoder.tokens", ex.Message);
    }

    [Fact]
    public void EmbeddingShapeErrors()
    {
        Assert.Throws<ArgumentException>(() => Tensor.Embedding(Tensor.Zeros(10), [1], 1));
        Assert.Throws<ArgumentException>(() => Tensor.Embedding(Tensor.Zeros(10, 2), [1, 2], 3));
    }

    [Fact]
    public void EmbeddingGradientAddsIntoUsedRowsOnly()
    {
        var weight = Twins.Random(2, 5, 2);
        weight.RequiresGrad = true;
        Tensor.Embedding(weight, [3, 1, 3], 3).SumAll().Backward();
        Assert.Equal([0f, 0f, 1f, 1f, 0f, 0f, 2f, 2f, 0f, 0f], weight.Grad!);
    }

    [Fact]
    public void MaskedFillBroadcastsTheMask()
    {
        var x = Twins.Random(3, 2, 3, 4);
        // Mask [2, 1, 4]: one mask row per batch entry, repeated over the middle axis.
        var mask = new bool[8];
        for (int i = 0; i < 8; i++) mask[i] = i % 3 == 0;
        var y = x.MaskedFill(mask, [2, 1, 4], -5f);
        for (int b = 0; b < 2; b++)
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 4; j++)
                {
                    int at = (b * 3 + i) * 4 + j;
                    Assert.Equal(mask[b * 4 + j] ? -5f : x.Data[at], y.Data[at]);
                }
        var all = x.MaskedFill([true], [], 1f);
        Assert.All(all.Data, v => Assert.Equal(1f, v));
    }

    [Fact]
    public void MaskedFillRejectsMasksThatDoNotBroadcastToTheInput()
    {
        var x = Tensor.Zeros(2, 3);
        var ex = Assert.Throws<ArgumentException>(() => x.MaskedFill(new bool[6], [2, 1, 3], 0f));
        Assert.Contains("MaskedFill", ex.Message);
        Assert.Throws<ArgumentException>(() => x.MaskedFill(new bool[4], [4], 0f));
        Assert.Throws<ArgumentException>(() => x.MaskedFill(new bool[5], [6], 0f));
    }

    [Fact]
    public void DropoutWithFixedSeedIsReproducible()
    {
        var x = Twins.Random(4, 100, 37);
        var a = x.Dropout(0.3f, new Rng(5));
        var b = x.Dropout(0.3f, new Rng(5));
        Assert.Equal(a.Data, b.Data);
        var c = x.Dropout(0.3f, new Rng(6));
        Assert.NotEqual(a.Data, c.Data);
        // One generator drawn twice gives two different masks.
        var rng = new Rng(5);
        Assert.NotEqual(x.Dropout(0.3f, rng).Data, x.Dropout(0.3f, rng).Data);
    }

    [Theory]
    [InlineData(0.1f)]
    [InlineData(0.5f)]
    [InlineData(0.9f)]
    public void DropoutKeepsAboutOneMinusPAndScalesByItsInverse(float p)
    {
        int n = 1 << 20;
        var x = Tensor.Full(2f, n);
        var y = x.Dropout(p, new Rng(7));
        int kept = 0, wrong = 0;
        float scaled = 2f / (1f - p);
        foreach (float v in y.Data)
        {
            if (v == 0f) continue;
            kept++;
            if (MathF.Abs(v - scaled) > scaled * 1e-6f) wrong++;
        }
        Assert.Equal(0, wrong); // every kept element is scaled by exactly 1 / (1 - p)
        // Binomial standard deviation sqrt(n p (1 - p)) is at most 512 here; allow 6 of them.
        Assert.InRange(kept, (1 - p) * n - 3072, (1 - p) * n + 3072);
        // The mean is preserved in expectation.
        Assert.Equal(2.0, y.Data.Average(v => (double)v), 2.0 * 0.02);
    }

    [Fact]
    public void DropoutIsIdentityForPZeroAndInEvaluation()
    {
        var x = Twins.Random(8, 4, 5);
        var rng = new Rng(9);
        var state = rng.State;
        Assert.Equal(x.Data, x.Dropout(0f, rng).Data);
        Assert.Equal(x.Data, x.Dropout(0.5f, rng, training: false).Data);
        Assert.Equal(state, rng.State); // evaluation draws nothing, so it does not shift the training stream
    }

    [Theory]
    [InlineData(-0.1f)]
    [InlineData(1f)]
    [InlineData(1.5f)]
    [InlineData(float.NaN)]
    public void DropoutRejectsInvalidProbability(float p)
    {
        var ex = Assert.Throws<ArgumentException>(() => Twins.Random(1, 3).Dropout(p, new Rng(1)));
        Assert.Contains("Dropout", ex.Message);
        Assert.Throws<ArgumentException>(() => Twins.Random(1, 3).Dropout(p, new Rng(1), training: false));
    }

    [Fact]
    public void StraightThroughHasQuantizedValuesAndPassesTheGradientToX()
    {
        var x = Twins.Random(10, 3, 2);
        var quantized = Twins.Random(11, 3, 2);
        x.RequiresGrad = true;
        var y = Tensor.StraightThrough(x, quantized);
        Assert.Equal(quantized.Data, y.Data);
        Assert.NotSame(quantized.Data, y.Data);
        var upstream = Twins.Random(12, 3, 2);
        (y * upstream).SumAll().Backward();
        Assert.Equal(upstream.Data, x.Grad);
        Assert.Throws<ArgumentException>(() => Tensor.StraightThrough(x, Tensor.Zeros(2, 3)));
    }
}
