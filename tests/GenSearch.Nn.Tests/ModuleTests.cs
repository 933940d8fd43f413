using GenSearch.Tensors;

namespace GenSearch.Nn.Tests;

public class ModuleTests
{
    private static EncoderDecoder Model(int dim = 8) => new(new EncoderDecoderConfig
    {
        SourceVocabulary = 10, TargetVocabulary = 6, Dim = dim, Heads = 2, EncoderLayers = 1, DecoderLayers = 1, FfnDim = 16,
    }, new Rng(1));

    [Fact]
    public void ParameterNamesAreDottedPaths()
    {
        var names = Model().NamedParameters().Select(p => p.Name).ToList();
        Assert.Contains("encoder.0.attention.query.weight", names);
        Assert.Contains("decoder.0.cross_attention.output.bias", names);
        Assert.Contains("decoder_norm.weight", names);
        Assert.Contains("head.weight", names);
        Assert.Equal(names.Count, names.Distinct().Count());
    }

    [Fact]
    public void LoadStateDictCopiesValuesAndNamesEveryMismatch()
    {
        var source = Model(); var target = new EncoderDecoder(source.Config, new Rng(99));
        target.LoadStateDict(source.StateDict());
        foreach (var ((_, a), (_, b)) in source.NamedParameters().Zip(target.NamedParameters()))
            Assert.Equal(a.Data, b.Data);

        var broken = source.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value);
        broken.Remove("head.bias");
        broken["extra.weight"] = Tensor.Zeros(2);
        broken["head.weight"] = Tensor.Zeros(3, 3);
        var error = Assert.Throws<InvalidDataException>(() => target.LoadStateDict(broken));
        Assert.Contains("missing 'head.bias'", error.Message);
        Assert.Contains("unexpected 'extra.weight'", error.Message);
        Assert.Contains("'head.weight' has shape [3, 3]", error.Message);
        target.LoadStateDict(broken.Where(kv => kv.Key != "head.weight").ToDictionary(), strict: false);
    }

    [Fact]
    public void AdamWVectorisedUpdateMatchesScalarFormula()
    {
        var rng = new Rng(3);
        for (int n = 0; n <= 64; n++)
        {
            float[] p = new float[n], g = new float[n], m = new float[n], v = new float[n];
            rng.FillNormal(p, 0, 1); rng.FillNormal(g, 0, 1); rng.FillUniform(m, -0.1f, 0.1f); rng.FillUniform(v, 0, 0.1f);
            float[] p2 = (float[])p.Clone(), m2 = (float[])m.Clone(), v2 = (float[])v.Clone();
            AdamW.Update(p, g, m, v, 0.99f, 0.9f, 0.999f, 0.01f, 0.3f, 1e-8f);
            for (int i = 0; i < n; i++)
            {
                m2[i] = 0.9f * m2[i] + (1f - 0.9f) * g[i];
                v2[i] = 0.999f * v2[i] + (1f - 0.999f) * g[i] * g[i];
                p2[i] = 0.99f * p2[i] - 0.01f * m2[i] / (MathF.Sqrt(v2[i]) / 0.3f + 1e-8f);
                Assert.Equal(p2[i], p[i], 5);
                Assert.Equal(m2[i], m[i], 6);
                Assert.Equal(v2[i], v[i], 6);
            }
        }
    }

    [Fact]
    public void RowSparseAdamWUpdatesTouchedRowsAsDenseAndLeavesTheRestAlone()
    {
        // Twin: the same table trained densely; rows 1 and 4 get gradient in both steps, row 2 in the
        // first only, rows 0 and 3 never. Touched rows must match the dense run exactly where the dense
        // run had the same gradients (rows 1 and 4); row 2 keeps its first-step value in the lazy run.
        var rng = new Rng(5);
        var initial = Tensor.Randn(rng, 1f, 5, 3);
        Tensor Table(bool sparse)
        {
            var t = Tensor.FromArray((float[])initial.Data.Clone(), 5, 3);
            t.RequiresGrad = true; t.RowSparse = sparse;
            return t;
        }
        var lazy = Table(true); var dense = Table(false);
        var options = new AdamWOptions { LearningRate = 0.1f, WeightDecay = 0.1f };
        var lazyOpt = new AdamW([("t", lazy)], options); var denseOpt = new AdamW([("t", dense)], options);
        float[] afterFirst = [];
        foreach (int[] rows in new[] { new[] { 1, 4, 2, 1 }, new[] { 4, 1 } })
        {
            foreach (var (table, opt) in new[] { (lazy, lazyOpt), (dense, denseOpt) })
            {
                opt.ZeroGrad();
                Tensor.Embedding(table, rows, rows.Length).Square().SumAll().Backward();
                opt.StepOnce();
            }
            if (afterFirst.Length == 0) afterFirst = (float[])lazy.Data.Clone();
        }
        for (int c = 0; c < 3; c++)
        {
            foreach (int r in new[] { 1, 4 }) Assert.Equal(dense.Data[r * 3 + c], lazy.Data[r * 3 + c], 6);
            foreach (int r in new[] { 0, 3 }) Assert.Equal(initial.Data[r * 3 + c], lazy.Data[r * 3 + c]);
            Assert.Equal(afterFirst[2 * 3 + c], lazy.Data[2 * 3 + c]);
            Assert.NotEqual(afterFirst[2 * 3 + c], dense.Data[2 * 3 + c]); // the dense run moved row 2 by momentum and decay
        }
        var (moments, _) = lazyOpt.State();
        Assert.All(moments["m.t"].Data.AsSpan(0, 3).ToArray(), x => Assert.Equal(0f, x));
    }

    [Fact]
    public void TrackedGradientRowsGiveTheSameStepsAsScanningTheWholeTable()
    {
        // Twin: one table whose gradient rows are tracked (Tensor.GradRows, the gradient array kept from
        // step to step and cleared row by row) and one forced onto the full scan (its gradient copied to a
        // fresh array after Backward, so no rows are known). Bags and lookups overlap, repeat rows, and one
        // step also uses the table densely (a product with a matrix), after which the rows are unknown.
        var rng = new Rng(9);
        var initial = Tensor.Randn(rng, 1f, 7, 4);
        var mix = Tensor.Randn(rng, 1f, 4, 2);
        Tensor Table()
        {
            var t = Tensor.FromArray((float[])initial.Data.Clone(), 7, 4);
            t.RequiresGrad = true; t.RowSparse = true;
            return t;
        }
        var tracked = Table(); var scanned = Table();
        var options = new AdamWOptions { LearningRate = 0.1f, WeightDecay = 0.01f };
        var trackedOpt = new AdamW([("t", tracked)], options); var scannedOpt = new AdamW([("t", scanned)], options);
        var steps = new (int[] Ids, int[] Offsets, int[] Lookups, bool Dense)[]
        {
            ([1, 5, 2, 5], [0, 2], [3], false),
            ([4, 4], [0], [1, 6, 1], false),
            ([0, 2], [0, 1], [5], true),
            ([6, 3, 1], [0, 1], [], false),
        };
        for (int step = 0; step < steps.Length; step++)
        {
            var (ids, offsets, lookups, dense) = steps[step];
            foreach (var (table, opt) in new[] { (tracked, trackedOpt), (scanned, scannedOpt) })
            {
                opt.ZeroGrad();
                var loss = Tensor.EmbeddingBag(table, ids, offsets).Square().SumAll();
                if (lookups.Length > 0) loss = loss + Tensor.Embedding(table, lookups, lookups.Length).SumAll();
                if (dense) loss = loss + Tensor.MatMul(table, mix).Square().SumAll();
                loss.Backward();
                if (table == scanned) table.Grad = (float[])table.Grad!.Clone();
            }
            Assert.Null(scanned.GradRows);
            if (dense) Assert.Null(tracked.GradRows);
            else Assert.Equal(ids.Concat(lookups).Distinct().Order().ToArray(), tracked.GradRows!.Order().ToArray());
            Assert.Equal(scanned.Grad!, tracked.Grad!);
            trackedOpt.StepOnce(); scannedOpt.StepOnce();
            Assert.Equal(scanned.Data, tracked.Data);
        }
        // The kept array is clean after ZeroGrad: a step of one row writes that row only.
        trackedOpt.ZeroGrad();
        Tensor.Embedding(tracked, [2], 1).SumAll().Backward();
        Assert.Equal([2], tracked.GradRows!.ToArray());
        for (int i = 0; i < 7 * 4; i++) Assert.Equal(i / 4 == 2 ? 1f : 0f, tracked.Grad![i]);
    }

    [Fact]
    public void AdamWMinimisesAQuadraticAndDecaysWeights()
    {
        var w = Tensor.FromArray([5f, -3f, 2f, 8f], 2, 2); w.RequiresGrad = true;
        var target = Tensor.FromArray([1f, 2f, 3f, 4f], 2, 2);
        var optimizer = new AdamW([("w", w)], new AdamWOptions { LearningRate = 0.1f, WeightDecay = 0f });
        for (int i = 0; i < 500; i++)
        {
            optimizer.ZeroGrad();
            (w - target).Square().SumAll().Backward();
            optimizer.StepOnce();
        }
        for (int i = 0; i < 4; i++) Assert.Equal(target.Data[i], w.Data[i], 1);

        // With a zero gradient, only the decoupled decay moves the weights: p *= 1 - lr * wd.
        var d = Tensor.FromArray([1f, 1f], 1, 2); d.RequiresGrad = true; d.Grad = new float[2];
        new AdamW([("d", d)], new AdamWOptions { LearningRate = 0.1f, WeightDecay = 0.5f }).StepOnce();
        Assert.Equal(0.95f, d.Data[0], 6);
    }

    [Fact]
    public void ClipGradNormScalesToTheLimit()
    {
        var a = Tensor.Zeros(2); a.Grad = [3f, 0f];
        var b = Tensor.Zeros(1); b.Grad = [4f];
        float norm = AdamW.ClipGradNorm([a, b], 1f);
        Assert.Equal(5f, norm, 5);
        Assert.Equal(0.6f, a.Grad[0], 4);
        Assert.Equal(0.8f, b.Grad[0], 4);
    }

    [Fact]
    public void WarmupThenCosine()
    {
        var s = new WarmupCosineSchedule(1f, 10, 110, 0.1f);
        Assert.Equal(0.1f, s.At(0), 5);
        Assert.Equal(1f, s.At(9), 5);
        Assert.Equal(1f, s.At(10), 5);
        Assert.Equal(0.55f, s.At(60), 5);
        Assert.Equal(0.1f, s.At(110), 5);
    }
}
