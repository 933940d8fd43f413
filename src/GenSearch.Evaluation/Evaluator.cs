namespace GenSearch.Evaluation;

/// <summary>Evaluation settings, with the defaults GenSearch reports.</summary>
public sealed record EvaluationOptions
{
    /// <summary>Cut-offs K: every metric is reported at each. Default 10 and 100.</summary>
    public IReadOnlyList<int> Cutoffs { get; init; } = [10, 100];

    /// <summary>
    /// Lowest grade that counts as relevant for recall, MRR and hit rate. Default 1, BEIR's convention;
    /// a data set states its own (<c>BeirDataset.RelevanceThreshold</c>; homedepot: 3).
    /// </summary>
    public int RelevanceThreshold { get; init; } = 1;

    /// <summary>
    /// The grades the judgments may take, or null to accept any grade in +-<see cref="GradeRange.Limit"/>.
    /// When set, <see cref="RelevanceThreshold"/> must lie in it and every grade of the qrels must too.
    /// </summary>
    public GradeRange? Grades { get; init; }
}

/// <summary>A way to split queries into groups (say head and tail): a name and a query id -> bucket label function.</summary>
public sealed record QuerySegmentation(string Name, Func<string, string> BucketOf);

/// <summary>The metrics of one query.</summary>
public sealed record QueryResult(string QueryId, int Relevant, int Retrieved, IReadOnlyDictionary<string, double> Metrics);

/// <summary>Mean metrics over the queries of one bucket of a segmentation.</summary>
public sealed record BucketResult(string Bucket, int Queries, IReadOnlyDictionary<string, double> Metrics);

/// <summary>One segmentation's buckets, largest first.</summary>
public sealed record Breakdown(string Name, IReadOnlyList<BucketResult> Buckets);

/// <summary>The outcome of evaluating a run: means, per-query results and breakdowns.</summary>
public sealed record EvaluationResult
{
    /// <summary>Metric name ("Recall@10", "MRR@10", ...) -> mean over the evaluated queries, in report order.</summary>
    public required IReadOnlyList<KeyValuePair<string, double>> Metrics { get; init; }
    /// <summary>Queries evaluated: those with at least one relevant judgment.</summary>
    public required int Queries { get; init; }
    /// <summary>Judged queries left out because none of their judgments reaches the threshold.</summary>
    public required int SkippedNoRelevant { get; init; }
    /// <summary>Evaluated queries the run has no results for (they score 0).</summary>
    public required int MissingFromRun { get; init; }
    /// <summary>The settings used.</summary>
    public required EvaluationOptions Options { get; init; }
    /// <summary>Every evaluated query's metrics, in qrels order.</summary>
    public required IReadOnlyList<QueryResult> PerQuery { get; init; }
    /// <summary>Mean metrics per bucket of each segmentation asked for.</summary>
    public required IReadOnlyList<Breakdown> Breakdowns { get; init; }

    /// <summary>The mean of one metric by name, e.g. "NDCG@10".</summary>
    public double this[string metric] => Metrics.First(m => m.Key == metric).Value;
}

/// <summary>
/// Scores a <see cref="Run"/> against <see cref="Qrels"/>. The same code scores every retriever and any
/// TREC run file. Queries count when they have a judgment at or above the relevance threshold; their
/// means are plain averages over those queries. Nothing comes out silently wrong: a grade outside the
/// options' range, a threshold outside it, or a metric that is not a finite number throws
/// <see cref="InvalidDataException"/> naming the query.
/// </summary>
public static class Evaluator
{
    /// <summary>Metric names in report order for the given options.</summary>
    public static IReadOnlyList<string> MetricNames(EvaluationOptions options) =>
        Families.SelectMany(f => options.Cutoffs.Select(k => $"{f}@{k}")).ToArray();

    private static readonly string[] Families = ["Recall", "MRR", "NDCG", "HitRate", "Judged", "CondensedNDCG"];

    /// <summary>
    /// Reads a metric name such as "NDCG@10" or "ndcg@5" (family in any case, cut-off a positive integer)
    /// into its report spelling and cut-off; throws <see cref="FormatException"/> naming the known families.
    /// </summary>
    public static (string Name, int Cutoff) ParseMetric(string text)
    {
        int at = text.IndexOf('@');
        string? family = at < 0 ? null : Families.FirstOrDefault(f => f.Equals(text[..at], StringComparison.OrdinalIgnoreCase));
        if (family is null || !int.TryParse(text.AsSpan(at + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int k) || k <= 0)
            throw new FormatException($"metric '{text}': expected FAMILY@K with FAMILY one of {string.Join(", ", Families)} and K a positive integer, e.g. NDCG@10");
        return ($"{family}@{k}", k);
    }

    /// <summary>Evaluates <paramref name="run"/>, with optional segmentations for breakdowns.</summary>
    public static EvaluationResult Evaluate(Qrels qrels, Run run, EvaluationOptions? options = null,
        IReadOnlyList<QuerySegmentation>? segmentations = null)
    {
        options ??= new EvaluationOptions();
        if (options.Cutoffs.Count == 0 || options.Cutoffs.Any(k => k <= 0))
            throw new ArgumentException("cut-offs must be positive", nameof(options));
        CheckScale(qrels, options);
        var names = MetricNames(options);
        var perQuery = new List<QueryResult>();
        int skipped = 0, missing = 0;
        foreach (var qid in qrels.QueryIds)
        {
            var judged = qrels.For(qid);
            int relevant = judged.Values.Count(g => g >= options.RelevanceThreshold);
            if (relevant == 0) { skipped++; continue; }
            var ranked = run.For(qid).Select(d => d.DocId).ToArray();
            if (ranked.Length == 0) missing++;
            var values = new Dictionary<string, double>(StringComparer.Ordinal);
            foreach (int k in options.Cutoffs)
            {
                values[$"Recall@{k}"] = Metrics.RecallAt(ranked, judged, k, options.RelevanceThreshold);
                values[$"MRR@{k}"] = Metrics.ReciprocalRankAt(ranked, judged, k, options.RelevanceThreshold);
                values[$"NDCG@{k}"] = Metrics.NdcgAt(ranked, judged, k);
                values[$"HitRate@{k}"] = Metrics.HitRateAt(ranked, judged, k, options.RelevanceThreshold);
                values[$"Judged@{k}"] = Metrics.JudgedAt(ranked, judged, k);
                values[$"CondensedNDCG@{k}"] = Metrics.CondensedNdcgAt(ranked, judged, k);
            }
            foreach (var (name, value) in values)
                if (!double.IsFinite(value))
                    throw new InvalidDataException($"{name} of query '{qid}' is {value} (grades {string.Join(", ", judged.Values.Distinct())}): not a finite number");
            perQuery.Add(new QueryResult(qid, relevant, ranked.Length, values));
        }

        var breakdowns = (segmentations ?? []).Select(s => new Breakdown(s.Name,
            perQuery.GroupBy(q => s.BucketOf(q.QueryId), StringComparer.Ordinal)
                .Select(g => new BucketResult(g.Key, g.Count(), Mean(g.ToList(), names)))
                .OrderByDescending(b => b.Queries).ThenBy(b => b.Bucket, StringComparer.Ordinal)
                .ToArray())).ToArray();

        return new EvaluationResult
        {
            Metrics = names.Select(n => new KeyValuePair<string, double>(n, perQuery.Count == 0 ? 0 : perQuery.Average(q => q.Metrics[n]))).ToArray(),
            Queries = perQuery.Count,
            SkippedNoRelevant = skipped,
            MissingFromRun = missing,
            Options = options,
            PerQuery = perQuery,
            Breakdowns = breakdowns,
        };
    }

    private static void CheckScale(Qrels qrels, EvaluationOptions options)
    {
        var range = options.Grades ?? new GradeRange(-GradeRange.Limit, GradeRange.Limit);
        if (!range.Contains(options.RelevanceThreshold))
            throw new InvalidDataException($"relevance threshold {options.RelevanceThreshold} is outside the grades {range} of the judgments");
        foreach (var qid in qrels.QueryIds)
            foreach (var (doc, grade) in qrels.For(qid))
                if (!range.Contains(grade))
                    throw new InvalidDataException($"query '{qid}', item '{doc}': grade {grade} is outside the grades {range} of the judgments");
    }

    private static Dictionary<string, double> Mean(List<QueryResult> queries, IReadOnlyList<string> names) =>
        names.ToDictionary(n => n, n => queries.Average(q => q.Metrics[n]), StringComparer.Ordinal);
}
