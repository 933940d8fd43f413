using GenSearch.Models.Unified;
using GenSearch.Quantization;
using GenSearch.Tensors;

namespace GenSearch.Models.Tests;

public class UnifiedModelTests
{
    private static UnifiedModel Model(int dim = 6, int codes = 4, int levels = 3) =>
        new(new UnifiedConfig { Features = 20, Dim = dim, Levels = levels, Codes = codes, DecoderHidden = 5, DecoderTemperature = 0.5f }, new Rng(3));

    private static Tensor R(Rng rng, params int[] shape) => Tensor.Randn(rng, 0.5f, shape);

    [Fact]
    public void JointLossTermsMatchFiniteDifferences()
    {
        var rng = new Rng(11);
        var weights = new[] { 1f, 0.5f, 2f };
        // Contrast with respect to q and the finest level (no stop-gradient on either path), masks included.
        var l1 = R(rng, 5, 4); var l2 = R(rng, 5, 4);
        Assert.Empty(GradientCheck.Run(x => UnifiedLosses.ResidualContrast(x[0], [l1, l2, x[1]], [0, 1, 2], 0.7f, weights, (n, b, j) => n == 0 && j == 4 || b == 1 && j == 3),
            [R(rng, 3, 4), R(rng, 5, 4)]));
        Assert.Empty(GradientCheck.Run(x => UnifiedLosses.DistanceSoftmax(x[0], x[1], [2, 0, 1], 0.6f, weights, (b, j) => b == 0 && j == 3), [R(rng, 3, 4), R(rng, 4, 4)]));
        Assert.Empty(GradientCheck.Run(x => UnifiedLosses.GradedListwise(x[0], x[1], [4f, 0f, 2f, float.NaN, 1f, 3f], 0.8f), [R(rng, 2, 4), R(rng, 2, 3, 4)]));
        // Next-token prediction through the decoder (its two layers and the residual q - P), with respect to q.
        var model = Model();
        Assert.Empty(GradientCheck.Run(x => UnifiedLosses.NextToken(model, x[0], [0, 1, 2, 3, 3, 1, 2, 0, 1], weights), [R(rng, 3, 6)]));
        // The whole joint loss as training adds it up, with respect to q.
        var items = new[] { new[] { 1, 2, 3 }, new[] { 4, 5 }, new[] { 6, 7, 8, 9 } };
        Tensor Joint(Tensor q)
        {
            var levels = model.ItemLevels(items);
            var (codes, vq) = model.Quantize(levels);
            var whole = levels[0] + levels[1] + levels[2];
            return UnifiedLosses.ResidualContrast(q, levels, [0, 1, 2], 0.5f, weights, null)
                   + UnifiedLosses.GradedListwise(q.Slice(0, 0, 1), whole.Reshape(1, 3, 6), [4f, 1f, 0f], 0.5f).Scale(0.5f)
                   + (vq ?? Tensor.Scalar(0f)) + UnifiedLosses.NextToken(model, q, codes, weights); // no VQ term under NoGrad, where it does not depend on q anyway
        }
        model.Train();
        Assert.Empty(GradientCheck.Run(x => Joint(x[0]), [R(rng, 3, 6)]));
    }

    [Fact]
    public void ContrastStopsTheGradientAtThePrefixSums()
    {
        // d(1) gets a gradient from its own level only: the deeper levels see sg(d(1)).
        var rng = new Rng(5);
        var q = R(rng, 3, 4);
        var d = Enumerable.Range(0, 3).Select(_ => R(rng, 3, 4)).ToArray();
        foreach (var t in d) t.RequiresGrad = true;
        UnifiedLosses.ResidualContrast(q, d, [0, 1, 2], 0.7f, null, null).Backward();
        var full = d[0].Grad!.ToArray();
        var alone = d[0].Detach(); alone.RequiresGrad = true;
        UnifiedLosses.DistanceSoftmax(q, alone, [0, 1, 2], 0.7f, null, null).Scale(1f / 3).Backward();
        for (int i = 0; i < full.Length; i++) Assert.Equal(alone.Grad![i], full[i], 5);

        // Without the stop-gradient the deeper levels would move d(1) too: the finite-difference gradient of
        // the loss's value (which sg does not change) differs from the analytic one.
        Assert.NotEmpty(GradientCheck.Run(x => UnifiedLosses.ResidualContrast(q, [x[0], d[1].Detach(), d[2].Detach()], [0, 1, 2], 0.7f, null, null), [d[0].Detach()]));
        // d(2) gets gradients from levels 2 and 3's targets? Level 3 sees sg(d(1) + d(2)): from level 2 only.
        var second = d[1].Grad!.ToArray();
        var d2 = d[1].Detach(); d2.RequiresGrad = true;
        UnifiedLosses.DistanceSoftmax(q, d[0].Detach() + d2, [0, 1, 2], 0.7f, null, null).Scale(1f / 3).Backward();
        for (int i = 0; i < second.Length; i++) Assert.Equal(d2.Grad![i], second[i], 5);
    }

    [Fact]
    public void SimVqCodebookFitsGivenCodesExactlyAndQuantizesResidually()
    {
        var model = Model(dim: 8, codes: 5);
        var rng = new Rng(2);
        var target = new float[5 * 8];
        rng.FillNormal(target, 0, 1);
        var book = (SimVqCodebook)model.Quantizer(1).Codebook(0);
        book.FitCodes(target);
        using (Tensor.NoGrad())
        {
            var fitted = book.Vectors().Data;
            for (int i = 0; i < target.Length; i++) Assert.Equal(target[i], fitted[i], 2); // least squares with a 1e-6 ridge, in float
        }

        // Level n's code is the nearest to (d(1) + .. + d(n)) minus the codes chosen so far: checked by brute force.
        var items = new[] { new[] { 1, 2 }, new[] { 3 }, new[] { 4, 5, 6 }, new[] { 7, 8 } };
        model.InitializeCodebooks(items, 100, 7);
        model.Eval();
        using var _ = Tensor.NoGrad();
        var levels = model.ItemLevels(items);
        var (codes, loss) = model.Quantize(levels);
        Assert.Null(loss); // evaluation mode: no VQ loss, no bookkeeping
        int p = 8, L = 3;
        for (int i = 0; i < items.Length; i++)
        {
            var cumulative = new float[p];
            var prefix = new float[p];
            for (int n = 0; n < L; n++)
            {
                for (int t = 0; t < p; t++) cumulative[t] += levels[n].Data[i * p + t];
                var vectors = model.Codebook(n).Data;
                int best = -1; float bestDistance = float.PositiveInfinity;
                for (int c = 0; c < 5; c++)
                {
                    float dist = 0;
                    for (int t = 0; t < p; t++) { float x = cumulative[t] - prefix[t] - vectors[c * p + t]; dist += x * x; }
                    if (dist < bestDistance) { bestDistance = dist; best = c; }
                }
                Assert.Equal(best, codes[i * L + n]);
                for (int t = 0; t < p; t++) prefix[t] += vectors[best * p + t];
            }
        }
        // Encoding for the catalog gives the same codes, and the latent is the levels' sum.
        var (latents, encoded) = model.EncodeItems(items);
        Assert.Equal(codes, encoded);
        for (int t = 0; t < p; t++) Assert.Equal(levels[0].Data[t] + levels[1].Data[t] + levels[2].Data[t], latents[t], 5);
    }

    [Fact]
    public void DecoderStartsAsTheResidualOfQAndUserContextStartsSilent()
    {
        var model = Model();
        var rng = new Rng(9);
        using var _ = Tensor.NoGrad();
        var q = R(rng, 2, 6); var prefix = R(rng, 2, 6);
        var state = model.DecoderState(q, prefix, 1).Data;
        for (int i = 0; i < 12; i++) Assert.Equal(q.Data[i] - prefix.Data[i], state[i], 6);
        var rows = new[] { new[] { 1, 2 }, new[] { 3 } };
        var plain = model.EncodeQueries(rows).Data;
        var withContext = model.EncodeQueries(rows, [new UserContextInput([4, 5], [0, 1, 2]), null]).Data;
        Assert.Equal(plain, withContext);
    }

    [Fact]
    public void ServingDecoderGivesTheLevelLogitsLogSoftmax()
    {
        // The twin of the serving decoder (prefix tables, query part once per query) is the model's own
        // LevelLogits over [q; P]. The output layers start at zero, which would hide half the function: filled here.
        var model = Model(dim: 6, codes: 4, levels: 3);
        var rng = new Rng(11);
        for (int n = 0; n < 3; n++)
        {
            R(rng, 6, 5).Data.CopyTo(model.DecoderOutLayer(n).Weight.Data, 0);
            R(rng, 6).Data.CopyTo(model.DecoderOutLayer(n).Bias!.Data, 0);
        }
        using var _ = Tensor.NoGrad();
        var books = Enumerable.Range(0, 3).Select(n => model.Codebook(n).Detach()).ToArray();
        var decoder = new ServingDecoder(model, books);
        const int rows = 5;
        var q = R(rng, rows, 6);
        var codes = new int[rows * 3];
        for (int i = 0; i < codes.Length; i++) codes[i] = rng.NextInt(4);
        for (int level = 0; level < 3; level++)
        {
            var prefix = model.PrefixSum(codes, rows, level);
            var expected = model.LevelLogits(q, prefix, level, books[level]).LogSoftmax().Data;
            var actual = new float[rows * 4];
            decoder.LogProbabilities(q.Data, decoder.QueryPart(q.Data, level), codes, prefix.Data, level, actual);
            for (int i = 0; i < actual.Length; i++) Assert.Equal(expected[i], actual[i], 4);
        }
    }
}
