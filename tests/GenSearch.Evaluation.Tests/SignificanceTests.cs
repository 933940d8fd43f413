namespace GenSearch.Evaluation.Tests;

public class SignificanceTests
{
    private static double[] Scores(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => Math.Round(rng.NextDouble(), 3)).ToArray();
    }

    /// <summary>The exact two-sided permutation p (without the +1 correction) by enumerating every sign pattern.</summary>
    private static double ExactP(double[] a, double[] b)
    {
        var d = a.Zip(b, (x, y) => x - y).ToArray();
        double observed = Math.Abs(d.Sum());
        int atLeast = 0;
        for (int mask = 0; mask < 1 << d.Length; mask++)
        {
            double s = 0;
            for (int i = 0; i < d.Length; i++) s += (mask >> i & 1) == 0 ? d[i] : -d[i];
            if (Math.Abs(s) >= observed - 1e-12) atLeast++;
        }
        return (double)atLeast / (1 << d.Length);
    }

    [Fact]
    public void IdenticalScoresGivePOneAndNoDifference()
    {
        var a = Scores(50, 3);
        Assert.Equal(1.0, Significance.RandomizationTest(a, a, 2_000, 9));
        var t = Significance.PairedTTest(a, a);
        Assert.Equal((0.0, 49, 1.0), (t.T, t.DegreesOfFreedom, t.P));
    }

    [Fact]
    public void ARunThatWinsEveryQueryByAMarginIsSignificant()
    {
        var a = Scores(30, 5);
        var b = a.Select((x, i) => x + 0.05 + 0.01 * (i % 3)).ToArray();
        const int Trials = 20_000;
        double p = Significance.RandomizationTest(a, b, Trials, 1);
        // The exact p is 2 / 2^30: no shuffle but the identity and its mirror reaches the observed sum.
        Assert.Equal(1.0 / (Trials + 1), p);
        Assert.True(p < 0.001);
        Assert.True(Significance.PairedTTest(b, a) is { T: > 20, P: < 1e-15 });
        Assert.True(Significance.PairedTTest(a, b).T < -20);
    }

    [Fact]
    public void TTestMatchesAHandComputedExample()
    {
        // d = (0.1, 0, 0.3, 0.2, 0.1): mean 0.14, sample variance 0.052 / 4 = 0.013,
        // t = 0.14 / sqrt(0.013 / 5) = 2.7456258919..., df 4; p from the closed form of the t CDF at 4 df.
        double[] a = [0.5, 0.6, 0.8, 0.9, 0.7], b = [0.4, 0.6, 0.5, 0.7, 0.6];
        var result = Significance.PairedTTest(a, b);
        Assert.Equal(4, result.DegreesOfFreedom);
        Assert.Equal(2.745625891934577, result.T, 12);
        double x = result.T / Math.Sqrt(4 + result.T * result.T);
        Assert.Equal(1 - x * (3 - x * x) / 2, result.P, 12);
        Assert.Equal(0.05160595781117, result.P, 12);
        Assert.Equal(-result.T, Significance.PairedTTest(b, a).T, 12);
    }

    [Fact]
    public void TTestEdges()
    {
        Assert.True(double.IsNaN(Significance.PairedTTest([0.5], [0.2]).P));
        var constant = Significance.PairedTTest([0.5, 0.75, 1.0], [0.25, 0.5, 0.75]); // every difference 0.25, exactly
        Assert.Equal((double.PositiveInfinity, 0.0), (constant.T, constant.P));
    }

    [Fact]
    public void RandomizationAgreesWithExactEnumeration()
    {
        // Ten queries: 1,024 sign patterns, enumerated; 200,000 shuffles put p within 4.5 standard errors.
        var a = Scores(10, 11);
        var b = a.Select((x, i) => x + (i % 4 == 0 ? -0.1 : 0.07) + 0.01 * i).ToArray();
        double exact = ExactP(a, b);
        Assert.InRange(exact, 0.05, 0.95); // a p in the middle, where a wrong generator shows
        const int Trials = 200_000;
        double p = Significance.RandomizationTest(a, b, Trials, 4);
        Assert.InRange(p, exact - 4.5 * Math.Sqrt(exact * (1 - exact) / Trials), exact + 4.5 * Math.Sqrt(exact * (1 - exact) / Trials));

        // Hit rate as on homedepot: 2 wins, 6 losses of 1 each, the rest ties. Exact p = 74 / 256.
        double[] hitsA = [.. Enumerable.Repeat(1.0, 6), 0, 0, .. Enumerable.Repeat(1.0, 40)];
        double[] hitsB = [.. Enumerable.Repeat(0.0, 6), 1, 1, .. Enumerable.Repeat(1.0, 40)];
        double q = Significance.RandomizationTest(hitsA, hitsB, Trials, 2);
        Assert.InRange(q, 74.0 / 256 - 4.5 * Math.Sqrt(0.29 * 0.71 / Trials), 74.0 / 256 + 4.5 * Math.Sqrt(0.29 * 0.71 / Trials));
    }

    [Fact]
    public void TheSameSeedGivesTheSamePAndAnotherSeedAnotherShuffle()
    {
        var a = Scores(200, 1);
        var b = Scores(200, 2);
        double p1 = Significance.RandomizationTest(a, b, 5_000, 42);
        Assert.Equal(p1, Significance.RandomizationTest(a, b, 5_000, 42));
        Assert.InRange(p1, 0.01, 0.99);
        var others = new[] { 1, 2, 3, 4 }.Select(s => Significance.RandomizationTest(a, b, 5_000, s)).ToArray();
        Assert.Contains(others, p => p != p1);
    }

    [Fact]
    public void TheGeneratorIsSplitMix64()
    {
        // Vigna's reference splitmix64.c from state 0.
        ulong state = 0;
        Assert.Equal(0xE220A8397B1DCDAFUL, Significance.SplitMix64(ref state));
        Assert.Equal(0x6E789E6AA1B965F4UL, Significance.SplitMix64(ref state));
    }

    [Fact]
    public void BadInputIsRefused()
    {
        Assert.Throws<ArgumentException>(() => Significance.RandomizationTest([1, 2], [1]));
        Assert.Throws<ArgumentException>(() => Significance.RandomizationTest([], []));
        Assert.Throws<ArgumentException>(() => Significance.PairedTTest([1, double.NaN], [1, 2]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Significance.RandomizationTest([1], [2], 0));
    }
}
