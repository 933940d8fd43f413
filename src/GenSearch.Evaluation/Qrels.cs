namespace GenSearch.Evaluation;

/// <summary>
/// Graded relevance judgments: query id -> (document id -> grade). Higher grades are better; a
/// document absent from a query's judgments is unjudged, which the metrics treat as not relevant.
/// </summary>
public sealed class Qrels
{
    private readonly Dictionary<string, Dictionary<string, int>> _byQuery = new(StringComparer.Ordinal);

    /// <summary>Number of queries with at least one judgment.</summary>
    public int QueryCount => _byQuery.Count;

    /// <summary>Total number of (query, document) judgments.</summary>
    public int JudgmentCount { get; private set; }

    /// <summary>The query ids, in the order they were first added.</summary>
    public IEnumerable<string> QueryIds => _byQuery.Keys;

    /// <summary>Adds or replaces the grade of <paramref name="docId"/> for <paramref name="queryId"/>.</summary>
    public void Set(string queryId, string docId, int grade)
    {
        if (!_byQuery.TryGetValue(queryId, out var docs))
            _byQuery[queryId] = docs = new Dictionary<string, int>(StringComparer.Ordinal);
        if (!docs.ContainsKey(docId)) JudgmentCount++;
        docs[docId] = grade;
    }

    /// <summary>The judgments of one query; empty when it has none.</summary>
    public IReadOnlyDictionary<string, int> For(string queryId) =>
        _byQuery.TryGetValue(queryId, out var docs) ? docs : Empty;

    /// <summary>True when <paramref name="queryId"/> has a judgment with grade at least <paramref name="threshold"/>.</summary>
    public bool HasRelevant(string queryId, int threshold) => For(queryId).Values.Any(g => g >= threshold);

    /// <summary>Every document judged for some query, at any grade.</summary>
    public HashSet<string> JudgedDocuments() => _byQuery.Values.SelectMany(d => d.Keys).ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// These judgments without the documents in <paramref name="excluded"/> (a query left with none drops out).
    /// With <see cref="Run.Without"/>, for scoring only the documents another split never judged: on a data set
    /// whose splits share one catalog, having been judged in train says something about a document's chances
    /// in dev, and this takes that out (bench/RESULTS.md, "## unified").
    /// </summary>
    public Qrels Without(IReadOnlySet<string> excluded)
    {
        var result = new Qrels();
        foreach (var (query, docs) in _byQuery)
            foreach (var (doc, grade) in docs)
                if (!excluded.Contains(doc)) result.Set(query, doc, grade);
        return result;
    }

    private static readonly Dictionary<string, int> Empty = new(StringComparer.Ordinal);
}
