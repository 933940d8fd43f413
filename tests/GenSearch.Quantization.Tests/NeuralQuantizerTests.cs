using GenSearch.Tensors;

namespace GenSearch.Quantization.Tests;

public class NeuralQuantizerTests
{
    /// <summary>
    /// The collapse setup (also bench/run neuralvq): 512 well-separated clusters of 8 points in 16-d, 2 levels of 64
    /// codes, codebooks initialised N(0, 1), about 4x the scale of the untrained encoder's latents, so codes sit
    /// far from the data. Plain VQ keeps only the few codes nearest the data; SimVQ (W moves every code) and
    /// RQ-VAE (k-means init, dead-code reset) use at least 90% of every level.
    /// </summary>
    internal static NeuralQuantizerOptions CollapseSetup(NeuralQuantizerOptions preset) => preset with
    {
        Epochs = 10, BatchSize = 128, LearningRate = 2e-3f, HiddenDims = [64], LatentDim = 16,
        Quantizer = preset.Quantizer with { InitStd = 1f },
    };

    [Fact]
    public void PlainVqCollapsesWhileSimVqAndRqVaeUseEveryLevel()
    {
        var (x, _, _) = Mixture.Make(7, 16, Enumerable.Repeat(8, 512).ToArray());
        int n = 512 * 8;
        double MinUtilisation(NeuralQuantizerOptions options, out CodebookHealth health)
        {
            var q = new NeuralQuantizer(16, CollapseSetup(options));
            q.Train(x, n);
            var codes = new int[n * q.Levels];
            q.Encode(x, n, codes);
            health = CodebookHealth.Compute(codes, n, q.CodebookSizes);
            return health.Levels.Min(l => l.Utilisation);
        }

        double plain = MinUtilisation(NeuralQuantizerOptions.PlainVq(2, 64), out var plainHealth);
        double simvq = MinUtilisation(NeuralQuantizerOptions.SimVq(2, 64), out var simHealth);
        double rqvae = MinUtilisation(NeuralQuantizerOptions.RqVae(2, 64), out var rqHealth);
        Assert.True(plain < 0.3, $"plain VQ was expected to collapse:\n{plainHealth.ToTable()}");
        Assert.True(simvq >= 0.9, $"SimVQ utilisation below 90%:\n{simHealth.ToTable()}");
        Assert.True(rqvae >= 0.9, $"RQ-VAE utilisation below 90%:\n{rqHealth.ToTable()}");
    }

    [Fact]
    public void RqVaeRecoversKnownClusters()
    {
        const int clusters = 16, per = 32, dim = 8;
        var (x, label, _) = Mixture.Make(3, dim, Enumerable.Repeat(per, clusters).ToArray(), spread: 10f, noise: 0.5f);
        int n = clusters * per;
        var q = new NeuralQuantizer(dim, NeuralQuantizerOptions.RqVae(2, clusters) with { Epochs = 5, BatchSize = 64, HiddenDims = [32], LatentDim = 8 });
        q.Train(x, n);
        var codes = new int[n * 2];
        q.Encode(x, n, codes);
        // Level 0 must name the clusters: every cluster on one code, no two clusters sharing one.
        var codeOf = new int[clusters];
        Array.Fill(codeOf, -1);
        for (int i = 0; i < n; i++)
        {
            int c = codes[i * 2];
            if (codeOf[label[i]] == -1) codeOf[label[i]] = c;
            Assert.Equal(codeOf[label[i]], c);
        }
        Assert.Equal(clusters, codeOf.Distinct().Count());
    }

    [Fact]
    public void StraightThroughGradientReachesTheEncoder()
    {
        var model = new RqVae(new RqVaeConfig { InputDim = 6, HiddenDims = [12], LatentDim = 4, Quantizer = new ResidualVqOptions { Levels = 2, Codes = 8 } });
        var x = Tensor.Randn(new Rng(5), 1f, 10, 6);
        var output = model.Forward(x);
        // Reconstruction only: its one path to the encoder runs through the quantizer's argmin.
        (output.Reconstruction - x).Square().MeanAll().Backward();
        var encoderGrad = model.Encoder.Parameters().First().Grad;
        Assert.NotNull(encoderGrad);
        Assert.Contains(encoderGrad, g => g != 0f);

        // The layer alone: d(sum quantized)/dz is exactly one everywhere.
        var vq = new ResidualVectorQuantizer(4, new ResidualVqOptions { Levels = 2, Codes = 8 });
        var z = Tensor.Randn(new Rng(6), 1f, 10, 4);
        z.RequiresGrad = true;
        vq.Forward(z).Quantized.SumAll().Backward();
        Assert.All(z.Grad!, g => Assert.Equal(1f, g));
    }

    /// <summary>
    /// Finite differences see the loss's value, in which the stop-gradients do not exist; so the check uses
    /// beta = 0 (the loss is then the codebook term alone) and the last level's W (perturbing an earlier level's W
    /// also moves later residuals, which sg(q) hides from the gradient by design).
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void VqLossGradientMatchesFiniteDifferencesForTheSimVqMap(int levels)
    {
        var vq = new ResidualVectorQuantizer(4, new ResidualVqOptions { Levels = levels, Codes = 6, Codebook = CodebookKind.SimVq, CommitmentWeight = 0f, InitStd = 1f, Seed = 11 });
        var w = ((SimVqCodebook)vq.Codebook(levels - 1)).Projection;
        var z = Tensor.Randn(new Rng(12), 1f, 7, 4);
        var output = vq.Forward(z);
        output.Loss.Backward();
        var analytic = w.Grad!;
        Assert.Contains(analytic, g => g != 0f);

        double Loss(out int[] codes)
        {
            using var _ = Tensor.NoGrad();
            var o = vq.Forward(z);
            codes = o.Codes;
            return o.Loss.Item();
        }

        const float eps = 1e-3f;
        int compared = 0;
        for (int i = 0; i < w.Size; i++)
        {
            float saved = w.Data[i];
            w.Data[i] = saved + eps; double plus = Loss(out var codesPlus);
            w.Data[i] = saved - eps; double minus = Loss(out var codesMinus);
            w.Data[i] = saved;
            // The loss is piecewise smooth: compare only where the assignment does not flip.
            if (!codesPlus.SequenceEqual(output.Codes) || !codesMinus.SequenceEqual(output.Codes)) continue;
            double numeric = (plus - minus) / (2 * eps);
            Assert.True(Math.Abs(numeric - analytic[i]) <= 2e-3 + 2e-2 * Math.Abs(numeric), $"W element {i}: analytic {analytic[i]:G6} vs numeric {numeric:G6}");
            compared++;
        }
        Assert.True(compared >= w.Size / 2, $"only {compared} of {w.Size} elements kept their assignment");
        Assert.Null(((SimVqCodebook)vq.Codebook(0)).Basis.Grad); // the basis stays frozen
    }

    [Fact]
    public void CommitmentGradientIsBetaTimesTheResidualError()
    {
        const float beta = 0.25f;
        var vq = new ResidualVectorQuantizer(4, new ResidualVqOptions { Levels = 1, Codes = 6, CommitmentWeight = beta, Seed = 3 });
        var z = Tensor.Randn(new Rng(4), 1f, 5, 4);
        z.RequiresGrad = true;
        var output = vq.Forward(z);
        output.Loss.Backward();
        var book = vq.Codebook(0).Vectors().Data;
        for (int i = 0; i < 5; i++)
            for (int t = 0; t < 4; t++)
            {
                // d/dz beta * mean((z - sg(q))^2) = 2 beta (z - q) / (N d); the codebook term has sg(z).
                float expected = 2f * beta * (z.Data[i * 4 + t] - book[output.Codes[i] * 4 + t]) / 20f;
                Assert.Equal(expected, z.Grad![i * 4 + t], 5);
            }
    }

    [Fact]
    public void DeadCodesAreReseededFromBatchResiduals()
    {
        var vq = new ResidualVectorQuantizer(3, new ResidualVqOptions
        {
            Levels = 1, Codes = 8, Codebook = CodebookKind.Plain, InitStd = 100f, DeadCodeSteps = 1, ResetDeadCodes = true,
        });
        var z = Tensor.Randn(new Rng(2), 1f, 32, 3);
        var first = vq.Forward(z);
        Assert.True(first.DeadCodes[0] >= 6, $"far codes should be dead, got {first.DeadCodes[0]}");
        Assert.Equal(first.DeadCodes[0], first.ResetCodes[0]);
        // Every re-seeded code is now one of the batch's vectors, so the next pass uses far more codes.
        var book = vq.Codebook(0).Vectors().Data;
        int onData = Enumerable.Range(0, 8).Count(k => Enumerable.Range(0, 32).Any(i => book.AsSpan(k * 3, 3).SequenceEqual(z.Data.AsSpan(i * 3, 3))));
        Assert.Equal(first.ResetCodes[0], onData);
        var second = vq.Forward(z);
        Assert.True(second.Codes.Distinct().Count() > first.Codes.Distinct().Count());
    }

    [Theory]
    [InlineData("rqvae")]
    [InlineData("simvq")]
    [InlineData("vq")]
    public void ExportImportRoundTripGivesIdenticalCodes(string method)
    {
        var (x, _, _) = Mixture.Make(4, 8, Enumerable.Repeat(20, 10).ToArray());
        int n = 200;
        var q = new NeuralQuantizer(8, NeuralQuantizerOptions.ForMethod(method, new QuantizerSpec(8, 2, 8, Seed: 9)) with { Epochs = 3 });
        var steps = q.Train(x, n);
        Assert.Equal(3 * 2, steps.Count); // one record per epoch and level
        var path = Path.Combine(Path.GetTempPath(), $"gensearch-{method}-{Guid.NewGuid():N}.safetensors");
        try
        {
            QuantizerMethods.Save(q, path);
            var loaded = QuantizerMethods.Load(path);
            Assert.Equal(method, loaded.Method);
            var a = new int[n * 2];
            var b = new int[n * 2];
            q.Encode(x, n, a);
            loaded.Encode(x, n, b);
            Assert.Equal(a, b);
            var va = new float[n * 8];
            var vb = new float[n * 8];
            q.Decode(a, n, va);
            loaded.Decode(b, n, vb);
            Assert.Equal(va, vb);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void RegistryOffersNeuralMethodsAndRejectsBadOptions()
    {
        Assert.Contains("rqvae", QuantizerMethods.Names);
        Assert.Contains("simvq", QuantizerMethods.Names);
        Assert.Contains("vq", QuantizerMethods.Names);
        Assert.Throws<ArgumentException>(() => QuantizerMethods.Create("simvq", new QuantizerSpec(8, 2, 8, BalanceFactor: 1.5)));
        Assert.Throws<ArgumentException>(() => new ResidualVqOptions { Codebook = CodebookKind.SimVq, KMeansInit = true }.Validate());
        Assert.Throws<ArgumentException>(() => new ResidualVectorQuantizer(4).Forward(Tensor.Zeros(3, 5)));
        Assert.Throws<InvalidOperationException>(() => QuantizerMethods.Create("rqvae", new QuantizerSpec(8, 2, 8)).Encode(new float[8], 1, new int[2]));
    }
}
