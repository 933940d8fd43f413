
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
        var lists = retrievers.Select(r => r.Search(queries, Math.Max(k, depth))).ToArray();
        var results = new IReadOnlyList<SearchHit>[queries.Count];
        for (int q = 0; q < queries.Count; q++)
        {
            var scores = new Dictionary<string, (double Score, int FirstSeen)>(StringComparer.Ordinal);
            var parts = new double[lists.Length][];
            int seen = 0;
            for (int r = 0; r < lists.Length; r++)
            {
                var list = Top(lists[r][q]);
                parts[r] = method == FusionMethod.ZScore ? Standardised(list) : ReciprocalRanks(list.Count);
                for (int rank = 0; rank < list.Count; rank++)
                    if (!scores.ContainsKey(list[rank].Id)) scores[list[rank].Id] = (0, seen++);
            }
            for (int r = 0; r < lists.Length; r++)
            {
                var list = Top(lists[r][q]);
                if (list.Count == 0) continue;
                var listed = new HashSet<string>(StringComparer.Ordinal);
                for (int rank = 0; rank < list.Count; rank++)
                    if (listed.Add(list[rank].Id)) Add(scores, list[rank].Id, parts[r][rank]);
                if (method == FusionMethod.ZScore)
                {
                    // An item this list left out ranked below its last: it takes the list's lowest z.
                    double lowest = parts[r].Min();
                    foreach (var id in scores.Keys.ToArray())
                        if (!listed.Contains(id)) Add(scores, id, lowest);
                }
            }
            results[q] = scores.OrderByDescending(kv => kv.Value.Score).ThenBy(kv => kv.Value.FirstSeen)
                .Take(k).Select(kv => new SearchHit(kv.Key, (float)kv.Value.Score)).ToArray();
        }
        return results;
    }

    private IReadOnlyList<SearchHit> Top(IReadOnlyList<SearchHit> list) => list.Count <= depth ? list : list.Take(depth).ToArray();

    private static void Add(Dictionary<string, (double Score, int FirstSeen)> scores, string id, double add)
    {
        var s = scores[id];
        scores[id] = (s.Score + add, s.FirstSeen);
    }

    private static double[] ReciprocalRanks(int count)
    {
        var r = new double[count];
        for (int rank = 0; rank < count; rank++) r[rank] = 1.0 / (RankConstant + rank + 1);
        return r;
    }

    /// <summary>
    /// (score - mean) / standard deviation over the list. A list whose scores are all equal (one item, say)
    /// says nothing about its items' order: every z is 0. A score that is not finite counts as the list's
    /// lowest finite one, so one bad score cannot poison the sum.
    /// </summary>
    internal static double[] Standardised(IReadOnlyList<SearchHit> list)
    {
        var z = new double[list.Count];
        double lowest = double.PositiveInfinity, sum = 0;
        int finite = 0;
        foreach (var hit in list)
            if (float.IsFinite(hit.Score)) { lowest = Math.Min(lowest, hit.Score); sum += hit.Score; finite++; }
        if (finite == 0) return z;
        for (int i = 0; i < z.Length; i++) z[i] = float.IsFinite(list[i].Score) ? list[i].Score : lowest;
        double mean = (sum + (z.Length - finite) * lowest) / z.Length, variance = 0;
        foreach (double x in z) variance += (x - mean) * (x - mean);
        double sd = Math.Sqrt(variance / z.Length);
        for (int i = 0; i < z.Length; i++) z[i] = sd > 0 ? (z[i] - mean) / sd : 0;
        return z;
    }
}
