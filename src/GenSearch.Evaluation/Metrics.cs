namespace GenSearch.Evaluation;

/// <summary>
/// Rank metrics of one ranked list against one query's graded judgments. Binary metrics (recall, MRR,
/// hit rate) count a document as relevant when its grade is at least the threshold; NDCG uses every
/// judged grade with gain 2^grade - 1 and log2(rank + 1) discount, as trec_eval and BEIR do, with the
/// ideal ranking built from all of the query's judgments. A ranked id that appears twice counts once.
/// </summary>
public static class Metrics
{
    /// <summary>Share of the relevant documents found in the top <paramref name="k"/>; 0 when there are none.</summary>
    public static double RecallAt(IReadOnlyList<string> ranked, IReadOnlyDictionary<string, int> judged, int k, int threshold)
    {
        CheckK(k);
        int relevant = judged.Values.Count(g => g >= threshold);
        if (relevant == 0) return 0;
        int found = 0;
        foreach (var id in Top(ranked, k))
            if (judged.TryGetValue(id, out int g) && g >= threshold) found++;
        return (double)found / relevant;
    }

    /// <summary>1 / rank of the first relevant document within the top <paramref name="k"/>, else 0.</summary>
    public static double ReciprocalRankAt(IReadOnlyList<string> ranked, IReadOnlyDictionary<string, int> judged, int k, int threshold)
    {
        int rank = 0;
        foreach (var id in Top(ranked, k))
        {
            rank++;
            if (judged.TryGetValue(id, out int g) && g >= threshold) return 1.0 / rank;
        }
        return 0;
    }

    /// <summary>1 when a relevant document is in the top <paramref name="k"/>, else 0.</summary>
    public static double HitRateAt(IReadOnlyList<string> ranked, IReadOnlyDictionary<string, int> judged, int k, int threshold) =>
        ReciprocalRankAt(ranked, judged, k, threshold) > 0 ? 1 : 0;

    /// <summary>Normalised discounted cumulative gain at <paramref name="k"/>, gain 2^grade - 1; 0 when no judged grade is positive.</summary>
    public static double NdcgAt(IReadOnlyList<string> ranked, IReadOnlyDictionary<string, int> judged, int k)
    {
        double dcg = 0;
        int rank = 0;
        foreach (var id in Top(ranked, k))
        {
            rank++;
            if (judged.TryGetValue(id, out int g) && g > 0) dcg += Gain(g) / Math.Log2(rank + 1);
        }
        var ideal = judged.Values.Where(g => g > 0).OrderByDescending(g => g).Take(k).ToArray();
        double idcg = 0;
        for (int i = 0; i < ideal.Length; i++) idcg += Gain(ideal[i]) / Math.Log2(i + 2);
        return idcg > 0 ? dcg / idcg : 0;
    }

    /// <summary>
    /// Share of the top <paramref name="k"/> that carries a judgment of any grade (pyserini's judged@k; a list
    /// shorter than k counts its missing places as unjudged). Where few items a query are judged (homedepot:
    /// about five), the other metrics count every unjudged item as not relevant, so two systems can differ
    /// in NDCG only by how many judged items they place high: this says how far a run stays in the judged pool.
    /// </summary>
    public static double JudgedAt(IReadOnlyList<string> ranked, IReadOnlyDictionary<string, int> judged, int k)
    {
        int found = 0;
        foreach (var id in Top(ranked, k))
            if (judged.ContainsKey(id)) found++;
        return (double)found / k;
    }

    /// <summary>
    /// NDCG@k of the condensed list (Sakai 2007, "nDCG'"): the ranking with every unjudged item removed, so it
    /// measures how a run orders the judged items, whatever it places between them. Read beside
    /// <see cref="NdcgAt"/> and <see cref="JudgedAt"/>: with incomplete judgments a run can rank worse by NDCG
    /// only because it places unjudged items high.
    /// </summary>
    public static double CondensedNdcgAt(IReadOnlyList<string> ranked, IReadOnlyDictionary<string, int> judged, int k) =>
        NdcgAt([.. ranked.Where(judged.ContainsKey)], judged, k);

    private static double Gain(int grade) => Math.Pow(2, grade) - 1;

    /// <summary>The first <paramref name="k"/> distinct ids: a run that repeats an id must not score it twice.</summary>
    private static IEnumerable<string> Top(IReadOnlyList<string> ranked, int k)
    {
        CheckK(k);
        return TopCore(ranked, k);
    }

    private static void CheckK(int k)
    {
        if (k <= 0) throw new ArgumentOutOfRangeException(nameof(k), k, "k must be positive");
    }

    private static IEnumerable<string> TopCore(IReadOnlyList<string> ranked, int k)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < ranked.Count && seen.Count < k; i++)
            if (seen.Add(ranked[i])) yield return ranked[i];
    }
}
