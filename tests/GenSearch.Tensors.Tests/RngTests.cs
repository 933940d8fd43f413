namespace GenSearch.Tensors.Tests;

/// <summary>The seeded generator: reproducibility, ranges and rough uniformity.</summary>
public class RngTests
{
    [Fact]
    public void SameSeedSameStreamDifferentSeedDifferentStream()
    {
        var a = new Rng(42); var b = new Rng(42); var c = new Rng(43);
        var sa = Enumerable.Range(0, 100).Select(_ => a.NextUInt64()).ToArray();
        var sb = Enumerable.Range(0, 100).Select(_ => b.NextUInt64()).ToArray();
        var sc = Enumerable.Range(0, 100).Select(_ => c.NextUInt64()).ToArray();
        Assert.Equal(sa, sb);
        Assert.NotEqual(sa, sc);
        Assert.Equal(100, sa.Distinct().Count());
    }

    [Fact]
    public void StateRoundTripsAndSeedZeroWorks()
    {
        var rng = new Rng(0);
        Assert.NotEqual(0UL, rng.NextUInt64() | rng.NextUInt64());
        var saved = rng.State;
        var first = Enumerable.Range(0, 10).Select(_ => rng.NextUInt64()).ToArray();
        var restored = new Rng(999) { State = saved };
        Assert.Equal(first, Enumerable.Range(0, 10).Select(_ => restored.NextUInt64()).ToArray());
        Assert.Throws<ArgumentException>(() => rng.State = new ulong[3]);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(7)]
    [InlineData(10)]
    [InlineData(1000)]
    [InlineData(int.MaxValue)]
    public void NextIntStaysInRangeAndIsRoughlyUniform(int n)
    {
        var rng = new Rng((ulong)n);
        int draws = 70_000;
        var counts = new Dictionary<int, int>();
        for (int i = 0; i < draws; i++)
        {
            int v = rng.NextInt(n);
            Assert.InRange(v, 0, n - 1);
            int bucket = n <= 10 ? v : (int)((long)v * 10 / n); // ten buckets for large n
            counts[bucket] = counts.GetValueOrDefault(bucket) + 1;
        }
        int buckets = Math.Min(n, 10);
        Assert.Equal(buckets, counts.Count);
        // Chi-square with at most 9 degrees of freedom; 40 is far beyond its 0.9999 quantile (~33.7).
        double expected = (double)draws / buckets;
        double chi2 = counts.Values.Sum(c => (c - expected) * (c - expected) / expected);
        Assert.True(chi2 < 40, $"chi-square {chi2:F1} over {buckets} buckets");
    }

    [Fact]
    public void NextIntRejectsNonPositiveBound()
    {
        Assert.Throws<ArgumentException>(() => new Rng(1).NextInt(0));
        Assert.Throws<ArgumentException>(() => new Rng(1).NextInt(-3));
    }

    [Fact]
    public void FloatsAreInRangeWithTheRightMoments()
    {
        var rng = new Rng(5);
        var u = new float[200_000];
        rng.FillUniform(u, -2f, 3f);
        Assert.True(u.All(v => v >= -2f && v < 3f));
        Assert.Equal(0.5, u.Average(v => (double)v), 0.02);
        var g = new float[200_000];
        rng.FillNormal(g, 1f, 2f);
        double mean = g.Average(v => (double)v);
        double std = Math.Sqrt(g.Average(v => (v - mean) * (v - mean)));
        Assert.Equal(1.0, mean, 0.03);
        Assert.Equal(2.0, std, 0.03);
        Assert.True(g.All(float.IsFinite));
    }

    [Fact]
    public void ShuffleIsAPermutationAndSeedDetermined()
    {
        foreach (int n in new[] { 0, 1, 2, 5, 100 })
        {
            var a = Enumerable.Range(0, n).ToArray();
            var b = Enumerable.Range(0, n).ToArray();
            new Rng(3).Shuffle<int>(a);
            new Rng(3).Shuffle<int>(b);
            Assert.Equal(a, b);
            Assert.Equal(Enumerable.Range(0, n), a.Order());
        }
        // Every position of a 3-element shuffle sees every value about a third of the time.
        var rng = new Rng(11);
        var seen = new int[3, 3];
        for (int t = 0; t < 30_000; t++)
        {
            int[] p = [0, 1, 2];
            rng.Shuffle<int>(p);
            for (int i = 0; i < 3; i++) seen[i, p[i]]++;
        }
        foreach (int c in seen) Assert.InRange(c, 9_500, 10_500);
    }
}
