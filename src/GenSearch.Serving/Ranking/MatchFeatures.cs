using GenSearch.Retrieval;

namespace GenSearch.Serving.Ranking;

/// <summary>
/// The query-item match features both rankers read (LambdaMART and SID-Coord), one extractor for both, so
/// they differ only in what they add: no item identity here. Per candidate of a query, in
/// <see cref="Names"/>' order:
/// <list type="bullet">
/// <item><c>bm25</c>, and <c>bm25_gap</c> = bm25 - the best bm25 among the query's candidates;</item>
/// <item><c>dense</c>: the dense model's similarity (n-gram towers: cosine; unified: 1 - ||q - d||^2), and <c>dense_gap</c> likewise;</item>
/// <item><c>generator_logp</c>: a unified generator's log P(ID | q) (0 without one), and <c>generator_gap</c>;</item>
/// <item><c>title_coverage</c>: share of the query's distinct BM25 terms (stemmed) found in the title; <c>text_coverage</c> in title and text;</item>
/// <item><c>exact_phrase</c>: 1 when the query's terms occur in the title in order and adjacent;</item>
/// <item><c>title_terms</c>, <c>query_terms</c>: lengths in terms;</item>
/// <item><c>log_rank</c>: ln(1 + the candidate's rank in the retriever's list, from 0), and <c>retriever_score</c>.</item>
/// </list>
/// A value the model cannot give (an item with no vector or ID) is the lowest of the query's other candidates.
/// </summary>
/// <remarks><paramref name="readsGenerator"/> false: no generator is asked (the generator features are 0), not even the dense model's own.</remarks>
public sealed class MatchFeatures(Bm25 bm25, Func<string, Document?> items, IQueryItemScorer? dense, IQueryItemScorer? generator = null, bool readsGenerator = true)
{
    /// <summary>The features' names, in order.</summary>
    public static readonly IReadOnlyList<string> Names =
    [
        "bm25", "bm25_gap", "dense", "dense_gap", "generator_logp", "generator_gap",
        "title_coverage", "text_coverage", "exact_phrase", "title_terms", "query_terms", "log_rank", "retriever_score",
    ];

    /// <summary>Features per candidate.</summary>
    public static int Count => Names.Count;

    /// <summary>The features the dense model gives.</summary>
    public static readonly IReadOnlyList<string> DenseNames = ["dense", "dense_gap"];

    /// <summary>The features a generator gives.</summary>
    public static readonly IReadOnlyList<string> GeneratorNames = ["generator_logp", "generator_gap"];

    /// <summary>The model the dense similarity comes from, when there is one.</summary>
    public IQueryItemScorer? Dense => dense;

    /// <summary>The model the generator features come from: the one given, else the dense model when it generates.</summary>
    public IQueryItemScorer? Generator { get; } = !readsGenerator ? null : generator ?? (dense is { HasGenerator: true } ? dense : null);

    /// <summary>The features of each candidate [candidates.Count, <see cref="Count"/>], row-major.</summary>
    public float[] Extract(Query query, IReadOnlyList<SearchHit> candidates)
    {
        int C = candidates.Count, F = Count;
        var x = new float[C * F];
        if (C == 0) return x;
        var ids = candidates.Select(h => h.Id).ToArray();
        var bm = bm25.Score(query.Text, ids);
        float[]? similarity = null, logp = null;
        if (dense is not null) (similarity, logp) = dense.Score(query, ids, items, idLogProbabilities: ReferenceEquals(Generator, dense));
        if (Generator is not null && !ReferenceEquals(Generator, dense)) logp = Generator.Score(query, ids, items).IdLogProbability;
        if (Generator is null) logp = null;
        FillMissing(similarity);
        FillMissing(logp);
        var queryTerms = bm25.Analyze(query.Text);
        var distinct = queryTerms.Distinct(StringComparer.Ordinal).ToArray();
        float bestBm = bm.Max(), bestDense = similarity?.Max() ?? 0, bestLogp = logp?.Max() ?? 0;
        for (int i = 0; i < C; i++)
        {
            var row = x.AsSpan(i * F, F);
            var doc = items(ids[i]);
            var title = doc is null ? [] : bm25.Analyze(doc.Title);
            var text = doc is null || string.IsNullOrWhiteSpace(doc.Text) ? title : bm25.Analyze(doc.TitleAndText);
            row[0] = bm[i];
            row[1] = bm[i] - bestBm;
            row[2] = similarity?[i] ?? 0;
            row[3] = similarity is null ? 0 : similarity[i] - bestDense;
            row[4] = logp?[i] ?? 0;
            row[5] = logp is null ? 0 : logp[i] - bestLogp;
            row[6] = Coverage(distinct, title);
            row[7] = Coverage(distinct, text);
            row[8] = ContainsPhrase(title, queryTerms) ? 1 : 0;
            row[9] = title.Count;
            row[10] = queryTerms.Count;
            row[11] = MathF.Log(1 + i);
            row[12] = candidates[i].Score;
        }
        return x;
    }

    private static void FillMissing(float[]? values)
    {
        if (values is null) return;
        float low = float.PositiveInfinity;
        foreach (float v in values) if (float.IsFinite(v)) low = Math.Min(low, v);
        if (float.IsPositiveInfinity(low)) low = 0;
        for (int i = 0; i < values.Length; i++) if (!float.IsFinite(values[i])) values[i] = low;
    }

    /// <summary>Share of <paramref name="terms"/> (distinct) that occur in <paramref name="text"/>; 0 for an empty query.</summary>
    public static float Coverage(IReadOnlyList<string> terms, IReadOnlyList<string> text)
    {
        if (terms.Count == 0) return 0;
        int found = 0;
        foreach (var t in terms) if (text.Contains(t)) found++;
        return (float)found / terms.Count;
    }

    /// <summary>Whether <paramref name="phrase"/> occurs in <paramref name="text"/> as adjacent terms in order (false for an empty phrase).</summary>
    public static bool ContainsPhrase(IReadOnlyList<string> text, IReadOnlyList<string> phrase)
    {
        if (phrase.Count == 0) return false;
        for (int start = 0; start + phrase.Count <= text.Count; start++)
        {
            int k = 0;
            while (k < phrase.Count && text[start + k] == phrase[k]) k++;
            if (k == phrase.Count) return true;
        }
        return false;
    }
}
