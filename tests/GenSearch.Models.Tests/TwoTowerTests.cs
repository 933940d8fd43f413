using GenSearch.Models.TwoTower;
using GenSearch.Nn;
using GenSearch.Tensors;

namespace GenSearch.Models.Tests;

public class TwoTowerTests
{
    private static readonly TextEncoderConfig Small = new()
    {
        Vocabulary = 40, Dim = 32, Heads = 2, Layers = 1, FfnDim = 64, Dropout = 0f, MaxLength = 8, OutputDim = 16,
    };

    [Fact]
    public void OutputIsUnitLengthAndIgnoresPadding()
    {
        var encoder = new TextEncoder(Small, new Rng(1));
        encoder.Eval();
        using var _ = Tensor.NoGrad();
        // Row 0: 3 tokens then padding (pad ids arbitrary); row 1: the same 3 tokens, padded differently.
        var a = encoder.Forward([5, 6, 7, 0, 0, 0], [false, false, false, true, true, true], 1);
        var b = encoder.Forward([5, 6, 7, 9, 3, 1, 1, 1], [false, false, false, true, true, true, true, true], 1);
        double norm = Math.Sqrt(a.Data.Sum(v => (double)v * v));
        Assert.Equal(1.0, norm, 4);
        for (int i = 0; i < a.Size; i++) Assert.Equal(a.Data[i], b.Data[i], 5);
    }

    [Fact]
    public void LengthBucketedForwardEqualsOnePaddedBlockWithTheSameGradients()
    {
        // Rows of lengths 1..8 in a scrambled order, three to a chunk so that chunks differ in length.
        var rng = new Rng(9);
        var rows = new[] { 5, 1, 8, 3, 7, 2, 6, 4, 8, 1 }.Select(n => Enumerable.Range(0, n).Select(_ => 1 + rng.NextInt(39)).ToArray()).ToArray();
        var block = TokenBatch.FromRows(rows);

        var padded = new TextEncoder(Small, new Rng(2));
        var paddedOut = padded.Forward(block.Tokens, block.Padding, block.Batch);
        var bucketed = new TextEncoder(Small, new Rng(2));
        var bucketedOut = bucketed.ForwardRows(rows, rowsPerChunk: 3);
        Assert.Equal(paddedOut.Shape, bucketedOut.Shape);
        for (int i = 0; i < paddedOut.Size; i++) Assert.Equal(paddedOut.Data[i], bucketedOut.Data[i], 5);

        // The same loss through both paths gives the same parameter gradients.
        var weights = Enumerable.Range(0, paddedOut.Size).Select(i => (float)Math.Sin(i)).ToArray();
        (paddedOut * new Tensor(weights, paddedOut.Shape)).SumAll().Backward();
        (bucketedOut * new Tensor(weights, bucketedOut.Shape)).SumAll().Backward();
        foreach (var ((name, a), (_, b)) in padded.NamedParameters().Zip(bucketed.NamedParameters()))
        {
            Assert.NotNull(a.Grad);
            Assert.NotNull(b.Grad);
            for (int i = 0; i < a.Size; i++) Assert.True(Math.Abs(a.Grad![i] - b.Grad![i]) <= 1e-5f + 1e-4f * Math.Abs(a.Grad[i]), $"{name}[{i}]: {a.Grad[i]} vs {b.Grad[i]}");
        }
    }

    [Fact]
    public void InBatchSoftmaxMatchesHandComputedLossAndMasksOtherPositives()
    {
        // Orthonormal queries and items: q0 . i0 = 1, q0 . i1 = 0, q0 . i2 = 0.6.
        var q = Tensor.FromArray([1f, 0f, 0f, 1f], 2, 2);
        var items = Tensor.FromArray([1f, 0f, 0f, 1f, 0.6f, 0.8f], 3, 2);
        float t = 0.5f;
        double l0 = -Math.Log(Math.Exp(1 / 0.5) / (Math.Exp(1 / 0.5) + Math.Exp(0) + Math.Exp(0.6 / 0.5)));
        double l1 = -Math.Log(Math.Exp(1 / 0.5) / (Math.Exp(0) + Math.Exp(1 / 0.5) + Math.Exp(0.8 / 0.5)));
        Assert.Equal((l0 + l1) / 2, RetrievalLosses.InBatchSoftmax(q, items, [0, 1], t).Item(), 4);

        // Item 2 is also relevant to query 0: it leaves query 0's denominator.
        double l0Masked = -Math.Log(Math.Exp(1 / 0.5) / (Math.Exp(1 / 0.5) + Math.Exp(0)));
        var masked = RetrievalLosses.InBatchSoftmax(q, items, [0, 1], t, alsoRelevant: (query, item) => query == 0 && item == 2);
        Assert.Equal((l0Masked + l1) / 2, masked.Item(), 4);
    }

    [Fact]
    public void GradedListwiseMatchesHandComputedLoss()
    {
        var q = Tensor.FromArray([1f, 0f], 1, 2);
        var candidates = Tensor.FromArray([1f, 0f, 0f, 1f, 0.5f, 0.5f], 1, 3, 2); // scores 1, 0, 0.5
        float[] grades = [3f, 1f, float.NaN];                                      // targets 7/8, 1/8; third is padding
        double z = Math.Exp(1) + Math.Exp(0);
        double expected = -(7.0 / 8 * Math.Log(Math.Exp(1) / z) + 1.0 / 8 * Math.Log(Math.Exp(0) / z));
        Assert.Equal(expected, RetrievalLosses.GradedListwise(q, candidates, grades, 1f).Item(), 4);
        Assert.Equal(0f, RetrievalLosses.GradedListwise(q, candidates, [0f, 0f, float.NaN], 1f).Item());
    }

    [Fact]
    public void LossGradientsMatchFiniteDifferences()
    {
        var rng = new Rng(3);
        Tensor R(params int[] shape) => Tensor.Randn(rng, 1f, shape);
        Assert.Empty(GradientCheck.Run(x => RetrievalLosses.InBatchSoftmax(x[0], x[1], [1, 0, 2], 0.7f, [1f, 2f, 0.5f], (q, i) => q == 0 && i == 3), [R(3, 4), R(5, 4)]));
        Assert.Empty(GradientCheck.Run(x => RetrievalLosses.GradedListwise(x[0], x[1], [4f, 0f, 2f, float.NaN, 1f, 3f], 0.8f), [R(2, 4), R(2, 3, 4)]));
        Assert.Empty(GradientCheck.Run(x => TextEncoder.L2Normalize(x[0]), [R(3, 5)]));
    }

    [Fact]
    public void TowersLearnAToyRetrievalTask()
    {
        // 32 items of 4 random tokens out of 199; a query is 2 of its item's tokens. After training,
        // each query's nearest item (cosine) should mostly be its own.
        var data = new Rng(5);
        int items = 32;
        var itemTokens = Enumerable.Range(0, items).Select(_ => Enumerable.Range(0, 4).Select(_ => 1 + data.NextInt(199)).ToArray()).ToArray();
        var model = new TwoTowerModel(new TwoTowerConfig { Encoder = Small with { Vocabulary = 200 }, Temperature = 0.1f }, new Rng(6));
        var optimizer = new AdamW(model.NamedParameters(), new AdamWOptions { LearningRate = 3e-3f, WeightDecay = 0f });

        (int[] Tokens, bool[] Padding) Queries(int[] itemIds, Rng rng)
        {
            var tokens = new int[itemIds.Length * 2];
            for (int i = 0; i < itemIds.Length; i++)
            {
                int a = rng.NextInt(4), b = (a + 1 + rng.NextInt(3)) % 4;
                tokens[2 * i] = itemTokens[itemIds[i]][a]; tokens[2 * i + 1] = itemTokens[itemIds[i]][b];
            }
            return (tokens, new bool[tokens.Length]);
        }
        int[] AllItemTokens(int[] ids) => ids.SelectMany(i => itemTokens[i]).ToArray();

        for (int step = 0; step < 150; step++)
        {
            var batch = Enumerable.Range(0, items).ToArray();
            data.Shuffle(batch.AsSpan());
            batch = batch[..16];
            var (qt, qp) = Queries(batch, data);
            optimizer.ZeroGrad();
            var q = model.QueryTower.Forward(qt, qp, batch.Length);
            var it = model.ItemTower.Forward(AllItemTokens(batch), new bool[batch.Length * 4], batch.Length);
            RetrievalLosses.InBatchSoftmax(q, it, Enumerable.Range(0, batch.Length).ToArray(), 0.1f).Backward();
            optimizer.StepOnce();
        }

        model.Eval();
        using var _ = Tensor.NoGrad();
        var all = Enumerable.Range(0, items).ToArray();
        var (testTokens, testPadding) = Queries(all, new Rng(7));
        var scores = Tensor.MatMul(model.QueryTower.Forward(testTokens, testPadding, items),
            model.ItemTower.Forward(AllItemTokens(all), new bool[items * 4], items), transB: true);
        var best = scores.ArgMax();
        double recallAt1 = Enumerable.Range(0, items).Count(i => best[i] == i) / (double)items;
        Assert.True(recallAt1 >= 0.9, $"recall@1 {recallAt1:P0}");
    }
}
