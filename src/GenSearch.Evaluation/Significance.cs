namespace GenSearch.Evaluation;

/// <summary>The paired t-test's statistic, degrees of freedom (queries - 1) and two-sided p-value.</summary>
public readonly record struct PairedTTestResult(double T, int DegreesOfFreedom, double P);

/// <summary>
/// Paired significance tests over per-query scores of two systems, as ranx's <c>compare</c> runs them:
/// Fisher's randomization (permutation) test and Student's paired t-test. Each is a pure function of
/// two equally long arrays (query i of <c>a</c> pairs with query i of <c>b</c>); the randomization test
/// is deterministic given its seed, on every machine and runtime (its generator is SplitMix64, written
/// here, not <see cref="Random"/>, whose seeded sequence .NET does not promise to keep).
/// </summary>
public static class Significance
{
    /// <summary>
    /// Sums of sign-flipped differences within this share of sum |a_i - b_i| of the observed sum count
    /// as equal to it: the same sum reached in another order differs by rounding (about n * 1.1e-16 of
    /// it), and a tie must count as "at least as extreme" or identical runs would not get p = 1.
    /// </summary>
    public const double TieTolerance = 1e-10;

    /// <summary>
    /// Two-sided paired randomization test: under the null hypothesis that the systems are exchangeable,
    /// each query's pair of scores is swapped with probability 1/2 (the sign of its difference flipped);
    /// the p-value is the share of <paramref name="trials"/> such shuffles whose |mean difference| is at
    /// least the observed one, with the (count + 1) / (trials + 1) correction, so it is never 0 and
    /// never below 1 / (trials + 1). Identical scores give p = 1. Throws <see cref="ArgumentException"/>
    /// for arrays of different lengths, no queries, or a score that is not a finite number.
    /// </summary>
    public static double RandomizationTest(ReadOnlySpan<double> a, ReadOnlySpan<double> b, int trials = 10_000, int seed = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(trials, 1);
        var diff = Differences(a, b);
        double observed = 0, scale = 0;
        foreach (double d in diff) { observed += d; scale += Math.Abs(d); }
        double threshold = Math.Abs(observed) - TieTolerance * scale;

        ulong state = unchecked((ulong)seed);
        int atLeast = 0;
        for (int trial = 0; trial < trials; trial++)
        {
            double sum = 0;
            for (int start = 0; start < diff.Length; start += 64)
            {
                ulong bits = SplitMix64(ref state); // one random bit per query: 1 swaps its pair
                int end = Math.Min(diff.Length, start + 64);
                for (int i = start; i < end; i++, bits >>= 1)
                    sum += (bits & 1) == 0 ? diff[i] : -diff[i];
            }
            if (Math.Abs(sum) >= threshold) atLeast++;
        }
        return (atLeast + 1.0) / (trials + 1.0);
    }

    /// <summary>
    /// Student's paired t-test, two-sided: t = mean(d) / (sd(d) / sqrt(n)) over d_i = a_i - b_i, with n - 1
    /// degrees of freedom and sd the sample standard deviation. When every difference is the same the
    /// variance is 0: equal scores give t = 0 and p = 1 (nothing tells the systems apart; scipy says NaN),
    /// a constant nonzero difference gives t = ±infinity and p = 0. Fewer than two queries leave the
    /// variance unknown: t and p are NaN. Throws as <see cref="RandomizationTest"/> does for bad input.
    /// </summary>
    public static PairedTTestResult PairedTTest(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        var diff = Differences(a, b);
        int n = diff.Length, df = n - 1;
        if (n < 2) return new PairedTTestResult(double.NaN, df, double.NaN);
        double mean = 0;
        foreach (double d in diff) mean += d;
        mean /= n;
        double squares = 0;
        foreach (double d in diff) squares += (d - mean) * (d - mean);
        double variance = squares / df;
        if (variance == 0) return mean == 0 ? new(0, df, 1) : new(mean > 0 ? double.PositiveInfinity : double.NegativeInfinity, df, 0);
        double t = mean / Math.Sqrt(variance / n);
        return new PairedTTestResult(t, df, SpecialFunctions.StudentTTwoSidedP(t, df));
    }

    private static double[] Differences(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"paired scores need arrays of one length; got {a.Length} and {b.Length}");
        if (a.Length == 0) throw new ArgumentException("paired scores need at least one query");
        var diff = new double[a.Length];
        for (int i = 0; i < diff.Length; i++)
        {
            if (!double.IsFinite(a[i]) || !double.IsFinite(b[i]))
                throw new ArgumentException($"score pair {i} ({a[i]}, {b[i]}) is not a pair of finite numbers");
            diff[i] = a[i] - b[i];
        }
        return diff;
    }

    /// <summary>SplitMix64 (Steele, Lea and Flood 2014; Vigna's reference code): a full 64-bit output per step.</summary>
    internal static ulong SplitMix64(ref ulong state)
    {
        ulong z = state += 0x9E3779B97F4A7C15;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
        return z ^ (z >> 31);
    }
}
