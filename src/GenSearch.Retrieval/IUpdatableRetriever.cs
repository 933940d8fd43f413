namespace GenSearch.Retrieval;

/// <summary>What one <see cref="IUpdatableRetriever.Upsert"/> or <see cref="IUpdatableRetriever.Remove"/> did.</summary>
/// <param name="Added">Items that were not in the catalog and now are.</param>
/// <param name="Replaced">Items whose id was already there: the new version replaces the old.</param>
/// <param name="Removed">Items taken out.</param>
/// <param name="Unknown">Ids asked to be removed that the catalog did not hold (not an error).</param>
public readonly record struct CatalogChange(int Added, int Replaced, int Removed, int Unknown)
{
    /// <summary>The sum of two changes (a fusion adds up its parts).</summary>
    public static CatalogChange operator +(CatalogChange a, CatalogChange b)
        => new(a.Added + b.Added, a.Replaced + b.Replaced, a.Removed + b.Removed, a.Unknown + b.Unknown);
}

/// <summary>
/// A retriever whose catalog changes while it serves: items are added, replaced by id and removed.
/// <para>
/// Visibility: a change is visible to every search that starts after the call returns. A search
/// already running sees the whole catalog as it was before the call or the whole catalog after it,
/// never part of a change: implementations publish an immutable snapshot through one volatile
/// reference, which a search reads once. Writers are serialised (one change at a time, in call
/// order); searches take no lock and are never blocked by a writer.
/// </para>
/// <para>
/// Within one call, a later item with the same id as an earlier one wins. Removing an id the catalog
/// does not hold is not an error: it is counted in <see cref="CatalogChange.Unknown"/>. An invalid
/// batch (an item the retriever cannot index) throws before anything changes.
/// </para>
/// </summary>
public interface IUpdatableRetriever : IRetriever
{
    /// <summary>Adds each item, or replaces the item of the same id. Empty ids are rejected.</summary>
    CatalogChange Upsert(IReadOnlyList<Document> items);

    /// <summary>Removes the items of <paramref name="ids"/>; ids not in the catalog are counted, not thrown for.</summary>
    CatalogChange Remove(IReadOnlyList<string> ids);
}

/// <summary>Helpers shared by the updatable retrievers.</summary>
internal static class CatalogBatch
{
    /// <summary>The items of a batch, last one per id winning, in first-seen order; throws for a null item or an empty id.</summary>
    public static List<Document> LastPerId(IReadOnlyList<Document> items, string retriever)
    {
        ArgumentNullException.ThrowIfNull(items);
        var at = new Dictionary<string, int>(items.Count, StringComparer.Ordinal);
        var result = new List<Document>(items.Count);
        for (int i = 0; i < items.Count; i++)
        {
            var item = items[i] ?? throw new ArgumentException($"{retriever}: item {i} of the batch is null", nameof(items));
            if (string.IsNullOrEmpty(item.Id)) throw new ArgumentException($"{retriever}: item {i} of the batch has an empty id", nameof(items));
            if (at.TryGetValue(item.Id, out int j)) result[j] = item;
            else { at[item.Id] = result.Count; result.Add(item); }
        }
        return result;
    }

    /// <summary>The distinct ids of a removal batch, in first-seen order.</summary>
    public static List<string> DistinctIds(IReadOnlyList<string> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var result = new List<string>(ids.Count);
        foreach (var id in ids) if (id is not null && seen.Add(id)) result.Add(id);
        return result;
    }
}

/// <summary>A fixed-size set of row numbers as bits; copied, never changed, once a snapshot holds it.</summary>
internal static class RowBits
{
    public static bool Get(ulong[]? bits, int row) => bits is not null && (uint)(row >> 6) < (uint)bits.Length && (bits[row >> 6] & (1UL << row)) != 0;

    /// <summary>A copy of <paramref name="bits"/> with room for <paramref name="rows"/> rows.</summary>
    public static ulong[] CopyFor(ulong[]? bits, int rows)
    {
        var copy = new ulong[Math.Max((rows + 63) >> 6, bits?.Length ?? 0)];
        bits?.CopyTo(copy, 0);
        return copy;
    }

    public static void Set(ulong[] bits, int row) => bits[row >> 6] |= 1UL << row;
}
