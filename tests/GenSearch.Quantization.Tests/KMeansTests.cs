namespace GenSearch.Quantization.Tests;

public class KMeansTests
{
    [Theory]
    [InlineData(0, 1, 1)]
    [InlineData(1, 3, 2)]
    [InlineData(7, 5, 3)]
    [InlineData(255, 16, 17)]
    [InlineData(257, 33, 8)]
    [InlineData(600, 7, 64)]
    public void FastAssignmentMatchesTheReference(int count, int dim, int k)
    {
        var x = Mixture.Uniform(count * 31 + dim, count * dim);
        var c = Mixture.Uniform(k * 7 + dim, k * dim);
        var codes = new int[count]; var dist = new float[count];
        var refCodes = new int[count]; var refDist = new float[count];
        NearestCentroid.Assign(x, count, dim, c, k, NearestCentroid.RowNorms(c, k, dim), codes, dist);
        NearestCentroid.AssignReference(x, count, dim, c, k, refCodes, refDist);
        for (int i = 0; i < count; i++)
        {
            // A different code is only acceptable for a near-tie, where float rounding may pick either.
            if (codes[i] != refCodes[i]) Assert.True(Math.Abs(dist[i] - refDist[i]) <= 1e-4f * (1 + refDist[i]), $"row {i}: {codes[i]} vs {refCodes[i]}");
            Assert.Equal(refDist[i], dist[i], 1e-3f * (1 + refDist[i]));
        }
    }

    /// <summary>Every true cluster lands in exactly one found cluster and no found cluster mixes two true ones.</summary>
    private static void AssertRecovers(int[] label, int[] found, int k)
    {
        for (int c = 0; c < k; c++)
        {
            var codes = Enumerable.Range(0, label.Length).Where(i => label[i] == c).Select(i => found[i]).Distinct().ToList();
            Assert.Single(codes);
        }
        Assert.Equal(k, found.Distinct().Count());
    }

    private static bool Recovers(int[] label, int[] found, int k)
    {
        try { AssertRecovers(label, found, k); return true; }
        catch (Xunit.Sdk.XunitException) { return false; }
    }

    [Theory]
    [InlineData(KMeansMode.Lloyd, KMeansInit.PlusPlus)]
    [InlineData(KMeansMode.Lloyd, KMeansInit.Random)]
    [InlineData(KMeansMode.MiniBatch, KMeansInit.PlusPlus)]
    public void RecoversTheClustersOfASeededGaussianMixture(KMeansMode mode, KMeansInit init)
    {
        int[] sizes = [300, 150, 400, 220, 90, 310, 260, 180];
        var (x, label, _) = Mixture.Make(42, 16, sizes);
        // k-means++ (greedy) must find all 8 clusters for every seed; plain random initialisation for most.
        int recovered = 0;
        IReadOnlyList<TrainingStep> steps = [];
        for (int seed = 1; seed <= 6; seed++)
        {
            var km = new KMeans(16, new KMeansOptions { Clusters = 8, Mode = mode, Init = init, MiniBatchSize = 256, Iterations = 40, Seed = seed });
            steps = km.Train(x, label.Length);
            var found = new int[label.Length];
            km.Assign(x, label.Length, found);
            if (init == KMeansInit.PlusPlus) AssertRecovers(label, found, 8);
            else if (Recovers(label, found, 8)) recovered++;
        }
        if (init == KMeansInit.Random) Assert.True(recovered >= 1, "random initialisation never recovered the clusters");
        Assert.True(steps[0].Changed == label.Length, "the first iteration assigns every point");
        if (mode == KMeansMode.Lloyd)
        {
            for (int i = 1; i < steps.Count; i++) Assert.True(steps[i].Objective <= steps[i - 1].Objective * (1 + 1e-6), "Lloyd never raises the inertia");
            // Final inertia is the within-cluster noise: about n x dim for unit noise.
            if (init == KMeansInit.PlusPlus) Assert.InRange(steps[^1].Objective / (label.Length * 16.0), 0.8, 1.2);
        }
    }

    [Fact]
    public void SameSeedSameCentroids()
    {
        var (x, label, _) = Mixture.Make(9, 8, [100, 100, 100, 100]);
        var a = new KMeans(8, new KMeansOptions { Clusters = 6, Seed = 11 });
        var b = new KMeans(8, new KMeansOptions { Clusters = 6, Seed = 11 });
        a.Train(x, label.Length); b.Train(x, label.Length);
        Assert.Equal(a.Centroids, b.Centroids);
    }

    [Fact]
    public void ReseedsEmptyClustersWhenInitialisationPicksDuplicates()
    {
        // 5 distinct points, 40 copies each; random initialisation is bound to pick copies of one point for
        // some seeds, leaving clusters empty. After re-seeding every distinct point must own a cluster.
        var x = new List<float>();
        for (int p = 0; p < 5; p++) for (int r = 0; r < 40; r++) x.AddRange([p * 10f, -p * 3f]);
        int seedsWithEmpties = 0;
        for (int seed = 0; seed < 20; seed++)
        {
            var km = new KMeans(2, new KMeansOptions { Clusters = 5, Init = KMeansInit.Random, Seed = seed });
            var steps = km.Train([.. x], 200);
            if (steps.Any(s => s.EmptyCodes > 0)) seedsWithEmpties++;
            var codes = new int[200]; var dist = new float[200];
            km.Assign([.. x], 200, codes, dist);
            Assert.Equal(5, codes.Distinct().Count());
            Assert.All(dist, d => Assert.True(d < 1e-3f));
        }
        Assert.True(seedsWithEmpties > 0, "the test must exercise the empty-cluster path");
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(1.25)]
    public void BalancedVariantRespectsItsCap(double factor)
    {
        // One dominant cluster (70%) that plain k-means would give one bucket.
        var (x, label, _) = Mixture.Make(5, 8, [1400, 200, 200, 200], spread: 5f);
        int n = label.Length, k = 4, cap = (int)Math.Ceiling(factor * n / k);
        var km = new KMeans(8, new KMeansOptions { Clusters = k, BalanceFactor = factor, Seed = 2 });
        km.Train(x, n);
        var codes = new int[n];
        km.AssignBalanced(x, n, cap, codes);
        var counts = codes.GroupBy(c => c).Select(g => g.Count()).ToList();
        Assert.All(counts, c => Assert.True(c <= cap, $"bucket of {c} exceeds the cap {cap}"));
        Assert.Equal(n, counts.Sum());
        // The unbalanced assignment with the same centroids exceeds it: the cap is doing the work.
        var free = new int[n];
        var plain = new KMeans(8, new KMeansOptions { Clusters = k, Seed = 2 });
        plain.Train(x, n);
        plain.Assign(x, n, free);
        Assert.True(free.GroupBy(c => c).Max(g => g.Count()) > cap);
    }

    [Fact]
    public void BalancedAssignmentKeepsPointsNearestWhenThereIsRoom()
    {
        var (x, label, centres) = Mixture.Make(8, 4, [50, 50, 50], spread: 20f);
        var codes = new int[150];
        BalancedAssignment.Assign(x, 150, 4, centres, 3, NearestCentroid.RowNorms(centres, 3, 4), 50, codes, default);
        Assert.Equal(label, codes);
    }

    [Fact]
    public void RejectsTooFewPointsAndBadOptions()
    {
        var km = new KMeans(2, new KMeansOptions { Clusters = 10 });
        Assert.Contains("at least 10 training points", Assert.Throws<ArgumentException>(() => km.Train(new float[8], 4)).Message);
        Assert.Contains("BalanceFactor", Assert.Throws<ArgumentException>(() => new KMeans(2, new KMeansOptions { BalanceFactor = 0.5 })).Message);
    }
}
