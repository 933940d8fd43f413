
namespace GenSearch.Retrieval;

/// <summary>How <see cref="FusionRetriever"/> combines its parts' lists.</summary>
public enum FusionMethod
{
    /// <summary>
    /// Each list's scores standardised per query (z = (score - mean) / standard deviation over its top
    /// <c>depth</c>), summed with equal weights; an item missing from a list takes that list's lowest z
    /// (it ranked below the list's last item). The default: on homedepot's held-out tenth of train it fuses
    /// BM25 with the unified model at 1.084x BM25's NDCG@10 against reciprocal rank's 1.044x, and BM25 with the
    /// n-gram towers at 1.052x against 1.017x (dev, reported only: 1.093x / 1.072x and 1.080x / 1.056x;
    /// bench/RESULTS.md, ## unified). Equal weights were the best of the weights tried on the held-out tenth.
    /// </summary>
    ZScore,
    /// <summary>Reciprocal-rank fusion (Cormack et al.): the sum over lists of 1 / (60 + rank), rank from 1; scores unused.</summary>
    ReciprocalRank,
}

/// <summary>
/// Fuses several retrievers' top <c>depth</c> lists into one (<see cref="FusionMethod"/>: standardised
/// scores by default, or reciprocal rank). Ties go to the item first seen (earlier retriever, better rank).
/// <para>
/// Catalog changes go to every part that is an <see cref="IUpdatableRetriever"/>, in order, and the
/// result is their sum; parts that are not updatable are skipped. Each part swaps its own snapshot,
/// so while a change is being applied a fused search may see it in one part and not yet in another
/// (each part's list is still one whole catalog).
/// </para>
/// </summary>
public sealed class FusionRetriever(IReadOnlyList<IRetriever> retrievers, int depth = 100, FusionMethod method = FusionMethod.ZScore) : IUpdatableRetriever
{
    /// <summary>The usual constant of reciprocal-rank fusion: damps the difference between the very top ranks.</summary>
    public const float RankConstant = 60f;

    /// <summary>How the lists are combined.</summary>
    public FusionMethod Method => method;

    /// <inheritdoc/>
    public string Name => string.Join("+", retrievers.Select(r => r.Name));

    /// <inheritdoc/>
    public int Count => retrievers.Max(r => r.Count);

    /// <summary>Upserts into every updatable part; the sum of their changes.</summary>
    public CatalogChange Upsert(IReadOnlyList<Document> items)
        => retrievers.OfType<IUpdatableRetriever>().Aggregate(default(CatalogChange), (sum, r) => sum + r.Upsert(items));

    /// <summary>Removes from every updatable part; the sum of their changes (unknown ids counted once per part).</summary>
    public CatalogChange Remove(IReadOnlyList<string> ids)
        => retrievers.OfType<IUpdatableRetriever>().Aggregate(default(CatalogChange), (sum, r) => sum + r.Remove(ids));

    /// <inheritdoc/>
    public IReadOnlyList<SearchHit>[] Search(IReadOnlyList<Query> queries, int k)
    {
        if (k <= 0) throw new ArgumentOutOfRangeException(nameof(k), "k must be positive");
        int keep = Math.Max(k, depth);
        var lists = retrievers.Select(r => r.Search(queries, keep)).ToArray();
        var results = new IReadOnlyList<SearchHit>[queries.Count];
        for (int q = 0; q < queries.Count; q++)
        {
            var scores = new Dictionary<string, (double Score, int FirstSeen)>(StringComparer.Ordinal);
            var parts = new IReadOnlyList<SearchHit>[lists.Length];
            int seen = 0;
            for (int r = 0; r < lists.Length; r++)
            {
                parts[r] = Distinct(lists[r][q], keep);
                foreach (var hit in parts[r])
                    if (!scores.ContainsKey(hit.Id)) scores[hit.Id] = (0, seen++);
            }
            foreach (var list in parts)
            {
                if (list.Count == 0) continue;
                if (method == FusionMethod.ReciprocalRank)
                {
                    for (int rank = 0; rank < list.Count; rank++) Add(scores, list[rank].Id, 1.0 / (RankConstant + rank + 1));
                    continue;
                }
                var (z, missing) = Standardised(list);
                var listed = new HashSet<string>(StringComparer.Ordinal);
                for (int rank = 0; rank < list.Count; rank++) { Add(scores, list[rank].Id, z[rank]); listed.Add(list[rank].Id); }
                foreach (var id in scores.Keys.ToArray())
                    if (!listed.Contains(id)) Add(scores, id, missing);
            }
            results[q] = scores.OrderByDescending(kv => kv.Value.Score).ThenBy(kv => kv.Value.FirstSeen)
                .Take(k).Select(kv => new SearchHit(kv.Key, (float)kv.Value.Score)).ToArray();
        }
        return results;
    }

    /// <summary>The first <paramref name="keep"/> hits, each id once (its first, best-ranked, occurrence).</summary>
    private static IReadOnlyList<SearchHit> Distinct(IReadOnlyList<SearchHit> list, int keep)
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        var result = new List<SearchHit>(Math.Min(list.Count, keep));
        foreach (var hit in list)
        {
            if (result.Count == keep) break;
            if (ids.Add(hit.Id)) result.Add(hit);
        }
        return result;
    }

    private static void Add(Dictionary<string, (double Score, int FirstSeen)> scores, string id, double add)
    {
        var s = scores[id];
        scores[id] = (s.Score + add, s.FirstSeen);
    }

    /// <summary>
    /// (score - mean) / standard deviation over the list, and the value of an item the list left out: the
    /// list's lowest z (it ranked below the last). A list whose scores are all equal (one item, say) does not
    /// order its items: they get 0 and a missing item -1 (below them). A score of +infinity counts as the
    /// list's highest finite score, -infinity and NaN as its lowest, so one bad score cannot poison the sum.
    /// </summary>
    internal static (double[] Z, double Missing) Standardised(IReadOnlyList<SearchHit> list)
    {
        var z = new double[list.Count];
        double lowest = double.PositiveInfinity, highest = double.NegativeInfinity;
        foreach (var hit in list)
            if (float.IsFinite(hit.Score)) { lowest = Math.Min(lowest, hit.Score); highest = Math.Max(highest, hit.Score); }
        if (double.IsInfinity(lowest)) return (z, -1); // no finite score: nothing to order by
        for (int i = 0; i < z.Length; i++)
        {
            float s = list[i].Score;
            z[i] = float.IsFinite(s) ? s : float.IsPositiveInfinity(s) ? highest : lowest;
        }
        double mean = z.Average(), variance = 0;
        foreach (double x in z) variance += (x - mean) * (x - mean);
        double sd = Math.Sqrt(variance / z.Length);
        if (!(sd > 0)) { Array.Clear(z); return (z, -1); }
        for (int i = 0; i < z.Length; i++) z[i] = (z[i] - mean) / sd;
        return (z, z.Min());
    }
}
