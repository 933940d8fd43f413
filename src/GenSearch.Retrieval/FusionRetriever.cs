
namespace GenSearch.Retrieval;

/// <summary>
/// Reciprocal-rank fusion (Cormack et al.): an item's score is the sum over retrievers of
/// 1 / (<see cref="RankConstant"/> + rank), rank from 1; each retriever contributes its top
/// <c>depth</c> results. Ties go to the item first seen (earlier retriever, better rank).
/// <para>
/// Catalog changes go to every part that is an <see cref="IUpdatableRetriever"/>, in order, and the
/// result is their sum; parts that are not updatable are skipped. Each part swaps its own snapshot,
/// so while a change is being applied a fused search may see it in one part and not yet in another
/// (each part's list is still one whole catalog).
/// </para>
/// </summary>
public sealed class FusionRetriever(IReadOnlyList<IRetriever> retrievers, int depth = 100) : IUpdatableRetriever
{
    /// <summary>The usual constant: damps the difference between the very top ranks.</summary>
    public const float RankConstant = 60f;

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
            var scores = new Dictionary<string, (float Score, int FirstSeen)>(StringComparer.Ordinal);
            int seen = 0;
            foreach (var list in lists)
                for (int rank = 0; rank < list[q].Count; rank++)
                {
                    string id = list[q][rank].Id;
                    float add = 1f / (RankConstant + rank + 1);
                    scores[id] = scores.TryGetValue(id, out var s) ? (s.Score + add, s.FirstSeen) : (add, seen++);
                }
            results[q] = scores.OrderByDescending(kv => kv.Value.Score).ThenBy(kv => kv.Value.FirstSeen)
                .Take(k).Select(kv => new SearchHit(kv.Key, kv.Value.Score)).ToArray();
        }
        return results;
    }
}
