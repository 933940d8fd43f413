using System.Globalization;
using System.Text;
using System.Text.Json;

namespace GenSearch.Evaluation;

/// <summary>
/// One metric of a comparison of run A with run B over the same queries. Differences are B - A, so a
/// positive difference, a positive t and "B wins" mean B scores higher; the relative difference is
/// (B - A) / A, NaN when A's mean is 0. Both p-values are two-sided.
/// </summary>
public sealed record MetricComparison(
    string Metric, double MeanA, double MeanB, double Difference, double RelativeDifference,
    double RandomizationP, PairedTTestResult TTest, int BWins, int Ties, int AWins);

/// <summary>A comparison of two runs: the queries, the settings of the randomization test, and each metric.</summary>
public sealed record RunComparisonResult(
    int Queries, int MissingFromA, int MissingFromB, int RelevanceThreshold, int Trials, int Seed,
    IReadOnlyList<MetricComparison> Metrics);

/// <summary>
/// Compares two evaluated runs query by query with <see cref="Significance"/>'s paired tests, as ranx's
/// <c>compare</c> does, and writes the outcome as a Markdown table or a JSON report. Both runs must
/// have been scored by <see cref="Evaluator"/> against the same judgments with the same options, so
/// that query i of one is query i of the other; a query missing from a run scored 0 there.
/// </summary>
public static class RunComparison
{
    /// <summary>Per-query scores closer than this count as a tie (rounding, not a difference).</summary>
    public const double TieTolerance = 1e-12;

    /// <summary>
    /// Compares <paramref name="a"/> with <paramref name="b"/> on each of <paramref name="metrics"/> (names
    /// both results hold). Throws <see cref="ArgumentException"/> when the results do not cover the same
    /// queries in the same order, hold no query, or lack a metric.
    /// </summary>
    public static RunComparisonResult Compare(EvaluationResult a, EvaluationResult b, IReadOnlyList<string> metrics, int trials = 10_000, int seed = 1)
    {
        if (a.PerQuery.Count != b.PerQuery.Count || a.PerQuery.Where((q, i) => q.QueryId != b.PerQuery[i].QueryId).Any())
            throw new ArgumentException("the two results cover different queries: evaluate both runs against the same judgments and options");
        if (a.PerQuery.Count == 0) throw new ArgumentException("there are no queries to compare");
        if (a.Options.RelevanceThreshold != b.Options.RelevanceThreshold)
            throw new ArgumentException($"the runs were scored with relevance thresholds {a.Options.RelevanceThreshold} and {b.Options.RelevanceThreshold}");
        var rows = new List<MetricComparison>();
        foreach (var metric in metrics)
        {
            if (!a.Metrics.Any(m => m.Key == metric) || !b.Metrics.Any(m => m.Key == metric))
                throw new ArgumentException($"metric '{metric}' was not evaluated (evaluated: {string.Join(", ", a.Metrics.Select(m => m.Key))})");
            var scoresA = a.PerQuery.Select(q => q.Metrics[metric]).ToArray();
            var scoresB = b.PerQuery.Select(q => q.Metrics[metric]).ToArray();
            int bWins = 0, ties = 0, aWins = 0;
            for (int i = 0; i < scoresA.Length; i++)
            {
                double d = scoresB[i] - scoresA[i];
                if (Math.Abs(d) <= TieTolerance) ties++;
                else if (d > 0) bWins++;
                else aWins++;
            }
            double meanA = a[metric], meanB = b[metric];
            rows.Add(new MetricComparison(metric, meanA, meanB, meanB - meanA, meanA == 0 ? double.NaN : (meanB - meanA) / meanA,
                Significance.RandomizationTest(scoresA, scoresB, trials, seed), Significance.PairedTTest(scoresB, scoresA),
                bWins, ties, aWins));
        }
        return new RunComparisonResult(a.Queries, a.MissingFromRun, b.MissingFromRun, a.Options.RelevanceThreshold, trials, seed, rows);
    }

    /// <summary>
    /// The comparison as a Markdown table, one row per metric, under <paramref name="title"/>; A and B are
    /// named <paramref name="nameA"/> and <paramref name="nameB"/> in the line above the table.
    /// </summary>
    public static string Markdown(RunComparisonResult result, string title, string nameA, string nameB)
    {
        var sb = new StringBuilder();
        sb.Append("## ").AppendLine(title).AppendLine();
        sb.AppendLine($"A = {nameA}, B = {nameB}. {result.Queries} queries with a relevant item (grade >= {result.RelevanceThreshold}); " +
                      $"{result.MissingFromA} have no results in A and {result.MissingFromB} none in B (they score 0 there). " +
                      $"p: two-sided, paired over queries; randomization test with {result.Trials} trials, seed {result.Seed}.");
        sb.AppendLine();
        sb.AppendLine("| metric | A | B | B - A | relative | p randomization | p paired t | B wins | ties | A wins |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var m in result.Metrics)
            sb.AppendLine($"| {m.Metric} | {F(m.MeanA)} | {F(m.MeanB)} | {Signed(m.Difference)} | {Percent(m.RelativeDifference)} | " +
                          $"{P(m.RandomizationP)} | {P(m.TTest.P)} | {m.BWins} | {m.Ties} | {m.AWins} |");
        return sb.ToString();
    }

    /// <summary>
    /// A JSON report: <paramref name="meta"/> as top-level strings (runs, data, split), then "queries",
    /// "missing_from_a", "missing_from_b", "relevance_threshold", "trials", "seed" and "metrics", one
    /// object per metric. A number that is not finite (a relative difference over a mean of 0, a t-test
    /// over one query) is written as null.
    /// </summary>
    public static string Json(RunComparisonResult result, IReadOnlyDictionary<string, string>? meta = null)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            foreach (var (k, v) in meta ?? new Dictionary<string, string>()) w.WriteString(k, v);
            w.WriteNumber("queries", result.Queries);
            w.WriteNumber("missing_from_a", result.MissingFromA);
            w.WriteNumber("missing_from_b", result.MissingFromB);
            w.WriteNumber("relevance_threshold", result.RelevanceThreshold);
            w.WriteNumber("trials", result.Trials);
            w.WriteNumber("seed", result.Seed);
            w.WriteStartArray("metrics");
            foreach (var m in result.Metrics)
            {
                w.WriteStartObject();
                w.WriteString("metric", m.Metric);
                Number(w, "mean_a", m.MeanA);
                Number(w, "mean_b", m.MeanB);
                Number(w, "difference", m.Difference);
                Number(w, "relative_difference", m.RelativeDifference);
                Number(w, "p_randomization", m.RandomizationP);
                Number(w, "t", m.TTest.T);
                w.WriteNumber("t_degrees_of_freedom", m.TTest.DegreesOfFreedom);
                Number(w, "p_paired_t", m.TTest.P);
                w.WriteNumber("b_wins", m.BWins);
                w.WriteNumber("ties", m.Ties);
                w.WriteNumber("a_wins", m.AWins);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>
    /// Writes the comparison to <paramref name="path"/>, all or nothing (<see cref="AtomicFile"/>): JSON
    /// when it ends in ".json", else the Markdown table.
    /// </summary>
    public static void Write(RunComparisonResult result, string path, string title, string nameA, string nameB, IReadOnlyDictionary<string, string>? meta = null) =>
        AtomicFile.WriteAllText(path, path.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? Json(result, meta) : Markdown(result, title, nameA, nameB));

    /// <summary>Full precision for p-values (a t-test p can be 1e-30); other numbers to 6 places.</summary>
    private static void Number(Utf8JsonWriter w, string name, double value)
    {
        if (!double.IsFinite(value)) w.WriteNull(name);
        else w.WriteNumber(name, name.StartsWith("p_", StringComparison.Ordinal) ? value : Math.Round(value, 6));
    }

    private static string F(double v) => v.ToString("F4", CultureInfo.InvariantCulture);
    private static string Signed(double v) => v.ToString("+0.0000;-0.0000;0.0000", CultureInfo.InvariantCulture);
    private static string Percent(double v) => double.IsFinite(v) ? (100 * v).ToString("+0.00;-0.00;0.00", CultureInfo.InvariantCulture) + "%" : "n/a";

    /// <summary>Four decimals down to 0.0001, then two significant digits in scientific notation; "n/a" for NaN.</summary>
    private static string P(double p) =>
        double.IsNaN(p) ? "n/a" : p == 0 || p >= 1e-4 ? p.ToString("F4", CultureInfo.InvariantCulture) : p.ToString("0.0e+00", CultureInfo.InvariantCulture);
}
