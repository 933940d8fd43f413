using GenSearch.Models.Ranking;
using GenSearch.Nn;
using GenSearch.Tensors;
using Xunit;

namespace GenSearch.Models.Tests;

public class SidCoordTests
{
    private static Tensor R(Rng rng, params int[] shape) => Tensor.Randn(rng, 1f, shape);

    private static SidCoordConfig Small(ItemRepresentation items = ItemRepresentation.Both)
        => new() { Features = 3, ItemBuckets = 7, WordBuckets = 5, Levels = 3, Codes = 4, Dim = 4, Hidden = 5, Items = items };

    // Two queries: four and three candidates.
    private static RankingBatch Batch(Rng rng, int[]? buckets = null, int[]? sids = null)
    {
        int N = 7;
        var x = new float[N * 3];
        rng.FillNormal(x, 0, 1);
        var align = new float[N * 3];
        rng.FillUniform(align, 0, 1);
        return new RankingBatch(x, align, buckets ?? [0, 1, 2, 3, 4, 5, 6], sids ?? [0, 1, 2, 1, 1, 3, 2, 0, 0, 3, 3, 3, 0, 1, 1, 2, 2, 2, 1, 0, 3],
            [0, 0, 0, 0, 1, 1, 1], [0, 3, 1, 4, 2], [0, 3]);
    }

    [Fact]
    public void AttentionFusionGradientMatchesFiniteDifferences()
    {
        var rng = new Rng(1);
        // With respect to the attention's query and every level's embedding.
        Assert.Empty(GradientCheck.Run(x => SidCoordModel.FuseLevels(x[0], x[1], 4), [R(rng, 5, 4), R(rng, 5, 3, 4)]));
    }

    [Fact]
    public void AttentionFusionIsAWeightedMeanOfTheLevels()
    {
        var rng = new Rng(2);
        var levels = R(rng, 2, 3, 4);
        var a = R(rng, 2, 4);
        var fused = SidCoordModel.FuseLevels(a, levels, 4).Data;
        for (int n = 0; n < 2; n++)
        {
            // The slow way: scores, softmax, weighted sum, in double.
            var scores = new double[3];
            for (int l = 0; l < 3; l++)
                for (int j = 0; j < 4; j++) scores[l] += levels.Data[(n * 3 + l) * 4 + j] * a.Data[n * 4 + j] / 2.0;
            double max = scores.Max(), total = scores.Sum(s => Math.Exp(s - max));
            for (int j = 0; j < 4; j++)
            {
                double expected = 0;
                for (int l = 0; l < 3; l++) expected += Math.Exp(scores[l] - max) / total * levels.Data[(n * 3 + l) * 4 + j];
                Assert.Equal(expected, fused[n * 4 + j], 5);
            }
        }
    }

    [Fact]
    public void GateGradientMatchesFiniteDifferences()
    {
        var rng = new Rng(3);
        var gate = new Linear(12, 1, rng);
        // With respect to the query, the item-ID embedding and the fused SIDs...
        Assert.Empty(GradientCheck.Run(x => SidCoordModel.Coordinate(x[0], x[1], x[2], gate), [R(rng, 5, 4), R(rng, 5, 4), R(rng, 5, 4)]));
        // ...and the gate's own weights.
        var u = R(rng, 5, 4); var m = R(rng, 5, 4); var s = R(rng, 5, 4);
        Assert.Empty(GradientCheck.Run(_ => SidCoordModel.Coordinate(u, m, s, gate), [gate.Weight, gate.Bias!]));
    }

    [Fact]
    public void GateMixesTheTwoRepresentations()
    {
        var rng = new Rng(4);
        var gate = new Linear(12, 1, rng);
        var u = R(rng, 3, 4); var m = R(rng, 3, 4); var s = R(rng, 3, 4);
        gate.Weight.Data.AsSpan().Clear();
        gate.Bias!.Data[0] = 50f;   // g = 1: the item ID alone
        Assert.Equal(m.Data, SidCoordModel.Coordinate(u, m, s, gate).Data, (x, y) => Math.Abs(x - y) < 1e-5);
        gate.Bias!.Data[0] = -50f;  // g = 0: the SIDs alone
        Assert.Equal(s.Data, SidCoordModel.Coordinate(u, m, s, gate).Data, (x, y) => Math.Abs(x - y) < 1e-5);
        gate.Bias!.Data[0] = 0f;    // g = 1/2
        var half = SidCoordModel.Coordinate(u, m, s, gate).Data;
        for (int i = 0; i < half.Length; i++) Assert.Equal((m.Data[i] + s.Data[i]) / 2, half[i], 5);
    }

    [Fact]
    public void ListwiseLossMatchesAHandComputedValueAndItsGradient()
    {
        // One list of three: grades 2, 0, 1 -> gains 3, 0, 1 -> target 0.75, 0, 0.25; a padded fourth slot.
        var scores = new Tensor([1f, 0f, -1f, 7f], 4);
        float loss = SidCoordModel.ListwiseLoss(scores, [2f, 0f, 1f, float.NaN], 1, 4).Data[0];
        double z = Math.Log(Math.Exp(1) + Math.Exp(0) + Math.Exp(-1));
        Assert.Equal(-(0.75 * (1 - z) + 0.25 * (-1 - z)), loss, 5);
        // A list without gain adds nothing, and the mean is over lists with gain.
        float two = SidCoordModel.ListwiseLoss(new Tensor([1f, 0f, -1f, 7f, 3f, 2f, 1f, 0f], 8), [2f, 0f, 1f, float.NaN, 0f, 0f, 0f, 0f], 2, 4).Data[0];
        Assert.Equal(loss, two, 5);
        Assert.Empty(GradientCheck.Run(x => SidCoordModel.ListwiseLoss(x[0], [2f, 0f, 1f, float.NaN, 4f, 3f, 0f, 1f], 2, 4), [R(new Rng(5), 8)]));
    }

    [Theory]
    [InlineData(ItemRepresentation.Both)]
    [InlineData(ItemRepresentation.ItemId)]
    [InlineData(ItemRepresentation.Sids)]
    [InlineData(ItemRepresentation.None)]
    public void WholeModelLossGradientMatchesFiniteDifferences(ItemRepresentation items)
    {
        var rng = new Rng(6);
        var model = Learnt(new SidCoordModel(Small(items), rng), rng);
        var batch = Batch(rng);
        var grades = new[] { 3f, 0f, 1f, 0f, 0f, 4f, 2f, float.NaN };
        // Pad the second list (three candidates) to four with a repeated candidate whose grade is NaN.
        var padded = batch with
        {
            Features = [.. batch.Features, .. batch.Features.AsSpan(18, 3)], Alignment = [.. batch.Alignment, .. batch.Alignment.AsSpan(18, 3)],
            ItemBuckets = [.. batch.ItemBuckets, 6], Sids = [.. batch.Sids, .. batch.Sids.AsSpan(18, 3)], QueryOf = [.. batch.QueryOf, 1],
        };
        var parameters = model.Parameters().ToArray();
        // This check found the level embeddings sharing one id array across levels (the backward then read the last level's ids).
        var mismatches = GradientCheck.Run(_ => SidCoordModel.ListwiseLoss(model.Forward(padded), grades, 2, 4), parameters);
        Assert.Empty(mismatches);
        Assert.Contains(parameters, p => p.Grad!.Any(g => g != 0)); // not vacuous
    }

    /// <summary>Fills every item-ID table (they start at zero) with random rows, as training would.</summary>
    private static SidCoordModel Learnt(SidCoordModel model, Rng rng)
    {
        foreach (var (name, p) in model.NamedParameters())
            if (name.StartsWith("items", StringComparison.Ordinal)) rng.FillNormal(p.Data, 0, 0.5f);
        return model;
    }

    [Fact]
    public void AblationsReadOnlyTheirRepresentation()
    {
        var rng = new Rng(7);
        var batch = Batch(rng);
        var otherIds = batch with { ItemBuckets = [6, 5, 4, 3, 2, 1, 0] };
        var otherSids = batch with { Sids = [.. batch.Sids.Select(c => (c + 1) % 4)] };
        using var _ = Tensor.NoGrad();
        var ids = Learnt(new SidCoordModel(Small(ItemRepresentation.ItemId), new Rng(8)), rng);
        Assert.Equal(ids.Forward(batch).Data, ids.Forward(otherSids).Data);
        Assert.NotEqual(ids.Forward(batch).Data, ids.Forward(otherIds).Data);
        var sids = new SidCoordModel(Small(ItemRepresentation.Sids), new Rng(8));
        Assert.Equal(sids.Forward(batch).Data, sids.Forward(otherIds).Data);
        Assert.NotEqual(sids.Forward(batch).Data, sids.Forward(otherSids).Data);
        var both = Learnt(new SidCoordModel(Small(), new Rng(8)), rng);
        Assert.NotEqual(both.Forward(batch).Data, both.Forward(otherIds).Data);
        Assert.NotEqual(both.Forward(batch).Data, both.Forward(otherSids).Data);
    }

    // Out-of-fold item memory: two folds, the first query's candidates in fold 0, the second's in fold 1.
    private static readonly float[] FoldGrades = [3f, 0f, 1f, 0f, 0f, 4f, 2f];
    private static RankingBatch FoldBatch(Rng rng) => Batch(rng) with { Folds = [0, 0, 0, 0, 1, 1, 1] };

    [Theory]
    [InlineData(ItemRepresentation.Both)]
    [InlineData(ItemRepresentation.ItemId)]
    [InlineData(ItemRepresentation.Sids)]
    public void OutOfFoldMemoryTrainsEachFoldsTablesOnlyByItsOwnListsAndTheScorerOnlyByTheOthers(ItemRepresentation items)
    {
        var rng = new Rng(11);
        var model = Learnt(new SidCoordModel(Small(items) with { MemoryFolds = 2 }, rng), rng);
        var batch = FoldBatch(rng);
        var named = model.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter);
        bool IsTable(string name) => name.StartsWith("items", StringComparison.Ordinal) || name.StartsWith("sid", StringComparison.Ordinal);
        bool OfFold1(string name) => name.Contains("_f1", StringComparison.Ordinal);
        var tables = named.Where(p => IsTable(p.Key)).ToArray();
        var scorer = named.Where(p => !IsTable(p.Key)).ToArray();
        Assert.Contains(tables, t => OfFold1(t.Key));

        // The main loss reaches the scorer and no table; the memory loss reaches the tables and nothing else.
        model.ZeroGrad();
        SidCoordModel.ListwiseLoss(model.Score(batch).Scores, FoldGrades, 1, 7).Backward();
        Assert.All(tables, t => Assert.True(t.Value.Grad is null || t.Value.Grad.All(g => g == 0), $"{t.Key} got a gradient from the main loss"));
        Assert.Contains(scorer, p => p.Value.Grad?.Any(g => g != 0) == true);
        model.ZeroGrad();
        SidCoordModel.ListwiseLoss(model.Score(batch).Memory!, FoldGrades, 1, 7).Backward();
        Assert.All(scorer, p => Assert.True(p.Value.Grad is null || p.Value.Grad.All(g => g == 0), $"{p.Key} got a gradient from the memory loss"));

        // Each fold's table rows learn only from the candidates of that fold's query.
        if (items != ItemRepresentation.Sids)
        {
            var fold0 = named["items.weight"].Grad!;
            var fold1 = named["items_f1.weight"].Grad!;
            int e = model.Config.Dim;
            for (int row = 0; row < model.Config.ItemBuckets; row++)
            {
                bool in0 = batch.ItemBuckets[..4].Contains(row), in1 = batch.ItemBuckets[4..].Contains(row);
                Assert.Equal(in0, fold0.AsSpan(row * e, e).IndexOfAnyExcept(0f) >= 0);
                Assert.Equal(in1, fold1.AsSpan(row * e, e).IndexOfAnyExcept(0f) >= 0);
            }
        }

        // Both gradients are right where they flow: the main loss in the scorer, the memory loss in the tables.
        Assert.Empty(GradientCheck.Run(_ => SidCoordModel.ListwiseLoss(model.Score(batch).Scores, FoldGrades, 1, 7), [.. scorer.Select(p => p.Value)]));
        Assert.Empty(GradientCheck.Run(_ => SidCoordModel.ListwiseLoss(model.Score(batch).Memory!, FoldGrades, 1, 7), [.. tables.Select(p => p.Value)]));
    }

    [Fact]
    public void OutOfFoldScoresReadTheOtherFoldsTablesAndServingTheFoldsThatLearntTheItem()
    {
        var rng = new Rng(12);
        var one = new SidCoordModel(Small(ItemRepresentation.ItemId), new Rng(13));
        var two = new SidCoordModel(Small(ItemRepresentation.ItemId) with { MemoryFolds = 2 }, new Rng(13));
        var batch = FoldBatch(rng);
        var p1 = one.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter);
        var p2 = two.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter);
        foreach (var (name, p) in p1) p.Data.AsSpan().CopyTo(p2[name].Data); // the same scorer
        int e = one.Config.Dim;
        var a = new float[e]; var b = new float[e];
        rng.FillNormal(a, 0, 1); rng.FillNormal(b, 0, 1);
        // Item row 0 learnt by fold 0 only, row 5 by fold 1 only, row 2 by both (a and b), the rest by neither.
        a.CopyTo(p2["items.weight"].Data, 0); b.CopyTo(p2["items_f1.weight"].Data, 5 * e);
        a.CopyTo(p2["items.weight"].Data, 2 * e); b.CopyTo(p2["items_f1.weight"].Data, 2 * e);
        using var _ = Tensor.NoGrad();
        float[] With(int row, float[] value)
        {
            p1["items.weight"].Data.AsSpan().Clear();
            value.CopyTo(p1["items.weight"].Data, row * e);
            return one.Forward(batch with { Folds = null }).Data;
        }
        var serving = two.Forward(batch with { Folds = null }).Data;
        var mean = a.Zip(b, (x, y) => (x + y) / 2).ToArray();
        // Serving: row 0 as fold 0 learnt it, row 5 as fold 1 did, row 2 the mean of both.
        var expected = With(0, a)[0];
        Assert.Equal(expected, serving[0], 5);
        Assert.Equal(With(5, b)[5], serving[5], 5);
        Assert.Equal(With(2, mean)[2], serving[2], 5);
        Assert.Equal(With(1, new float[e])[1], serving[1], 5); // a row nobody learnt adds nothing
        // Training: fold 0's candidates (rows 0..3) read fold 1's table: row 0 is unknown there, row 2 is b.
        var trained = two.Score(batch).Scores.Data;
        Assert.Equal(With(1, new float[e])[0], trained[0], 5);
        Assert.Equal(With(2, b)[2], trained[2], 5);
        // ...and fold 1's candidates (rows 4..6) read fold 0's: row 5 is unknown there.
        Assert.Equal(With(1, new float[e])[5], trained[5], 5);
    }

    [Fact]
    public void HashesAreStableAndInRange()
    {
        Assert.Equal(SidCoordModel.Bucket("100001", 1 << 17), SidCoordModel.Bucket("100001", 1 << 17));
        // FNV-1a of "a" is 0xE40C292C.
        Assert.Equal((int)(0xE40C292Cu % 1000u), SidCoordModel.Bucket("a", 1000));
        Assert.Equal(SidCoordModel.WordBuckets("Oak vanity", 50), SidCoordModel.WordBuckets("oak  VANITY!", 50));
        Assert.All(SidCoordModel.WordBuckets("36 inch white vanity", 10), b => Assert.InRange(b, 0, 9));
    }
}

public class TreeEnsembleTests
{
    [Fact]
    public void ScoresByWalkingEachTree()
    {
        // Tree 0: x0 <= 0.5 ? (x1 <= 2 ? leaf 0 : leaf 1) : leaf 2.  Tree 1: a single leaf.
        var trees = new TreeEnsemble(NodeStart: [0, 2, 2], LeafStart: [0, 3, 4], Left: [1, ~0], Right: [~2, ~1], Feature: [0, 1], Threshold: [0.5f, 2f],
            LeafValues: [1f, 2f, 3f, 10f], Weights: [0.5f, 1f], Bias: 0.25f).Validate("test", 2);
        Assert.Equal(0.25f + 0.5f * 1f + 10f, trees.Score([0.5f, 2f]));
        Assert.Equal(0.25f + 0.5f * 2f + 10f, trees.Score([0f, 3f]));
        Assert.Equal(0.25f + 0.5f * 3f + 10f, trees.Score([0.6f, 0f]));
    }

    [Fact]
    public void RejectsBrokenTrees()
    {
        var bad = new TreeEnsemble([0, 1], [0, 2], [1], [~1], [0], [0f], [1f, 2f], [1f], 0f); // child 1 is no node of a one-node tree
        Assert.Contains("outside the tree", Assert.Throws<InvalidDataException>(() => bad.Validate("m.safetensors", 1)).Message);
        var feature = new TreeEnsemble([0, 1], [0, 2], [~0], [~1], [3], [0f], [1f, 2f], [1f], 0f);
        Assert.Contains("feature 3 of 2", Assert.Throws<InvalidDataException>(() => feature.Validate("m.safetensors", 2)).Message);
    }

    [Fact]
    public void RejectsCyclesAndNonFiniteValues()
    {
        // The first test's tree with node 1's left child pointing back at the root: Score would never end.
        TreeEnsemble Tree(int[] left, float[] leaves, float bias = 0f) =>
            new([0, 2], [0, 3], left, [~2, ~1], [0, 1], [0.5f, 2f], leaves, [1f], bias);
        Assert.Equal(1f, Tree([1, ~0], [1f, 2f, 3f]).Validate("m", 2).Score([0f, 0f]));
        Assert.Contains("reaches node 0 twice", Assert.Throws<InvalidDataException>(() => Tree([1, 0], [1f, 2f, 3f]).Validate("m", 2)).Message);
        Assert.Contains("reaches leaf 2 twice", Assert.Throws<InvalidDataException>(() => Tree([~2, ~0], [1f, 2f, 3f]).Validate("m", 2)).Message);
        Assert.Contains("leaf value 1 is NaN", Assert.Throws<InvalidDataException>(() => Tree([1, ~0], [1f, float.NaN, 3f]).Validate("m", 2)).Message);
        Assert.Contains("bias", Assert.Throws<InvalidDataException>(() => Tree([1, ~0], [1f, 2f, 3f], float.PositiveInfinity).Validate("m", 2)).Message);
    }
}
