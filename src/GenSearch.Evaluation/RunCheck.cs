namespace GenSearch.Evaluation;

/// <summary>What <see cref="RunCheck.Check"/> found: counts, and one sentence per problem (empty when none).</summary>
public sealed record RunCheckResult(
    int Results, int UnknownResults, int JudgedQueries, int JudgedQueriesWithResults, IReadOnlyList<string> Warnings)
{
    /// <summary>True when there is nothing to warn about.</summary>
    public bool Ok => Warnings.Count == 0;
}

/// <summary>
/// Sanity checks of a run against the judgments and the catalog before its scores are believed. A run
/// that scores 0 because its ids come from another catalog, or because it answers other queries, looks
/// just like a bad retriever; these checks tell the two apart. They warn and never throw: the scores are
/// still computed, and a caller that wants to stop can test <see cref="RunCheckResult.Ok"/>.
/// </summary>
public static class RunCheck
{
    /// <summary>Share of a run's results that may name items unknown to the catalog before it warns: 0.5.</summary>
    public const double MaxUnknownShare = 0.5;

    /// <summary>
    /// Checks <paramref name="run"/>: warns when it holds no result at all; when more than half of its
    /// results name ids that <paramref name="isKnownDoc"/> rejects (pass null to skip that check); and when
    /// no query of <paramref name="qrels"/> has a single result in it.
    /// </summary>
    public static RunCheckResult Check(Qrels qrels, Run run, Func<string, bool>? isKnownDoc = null)
    {
        var warnings = new List<string>();
        int results = 0, unknown = 0;
        foreach (var qid in run.QueryIds)
            foreach (var doc in run.For(qid))
            {
                results++;
                if (isKnownDoc != null && !isKnownDoc(doc.DocId)) unknown++;
            }
        int judged = qrels.QueryCount, answered = qrels.QueryIds.Count(q => run.For(q).Count > 0);

        if (results == 0)
            warnings.Add("the run is empty: it has no results for any query");
        else if (isKnownDoc != null && unknown > MaxUnknownShare * results)
            warnings.Add($"{unknown:N0} of the run's {results:N0} results ({100.0 * unknown / results:F1}%) name items that are not in the catalog: " +
                         "is the run from another data set or id scheme?");
        if (results > 0 && judged > 0 && answered == 0)
            warnings.Add($"none of the {judged:N0} judged queries has a result in the run (its {run.Count:N0} query ids match none of the qrels')");
        return new RunCheckResult(results, unknown, judged, answered, warnings);
    }
}
