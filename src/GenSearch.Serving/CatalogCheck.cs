namespace GenSearch.Serving;

/// <summary>How a model's items compare with the catalog it is asked to serve.</summary>
/// <param name="ModelItems">Items the model has.</param>
/// <param name="Shared">Of those, items the catalog has too.</param>
/// <param name="CatalogOnly">Catalog items the model has never seen (it cannot return them).</param>
public sealed record CatalogMatch(int ModelItems, int Shared, int CatalogOnly)
{
    /// <summary>Model items the catalog lacks (results that would name unknown items).</summary>
    public int ModelOnly => ModelItems - Shared;
}

/// <summary>
/// Every consumer of a model checks it against the catalog it is given: a model trained on another
/// catalog scores all zeros rather than failing, which is the silent wrong answer to avoid.
/// </summary>
public static class CatalogCheck
{
    /// <summary>Counts what the model and the catalog share.</summary>
    public static CatalogMatch Compare(IReadOnlyList<string> modelIds, IReadOnlyCollection<string> catalogIds)
    {
        var catalog = catalogIds as IReadOnlySet<string> ?? catalogIds.ToHashSet(StringComparer.Ordinal);
        int shared = modelIds.Count(catalog.Contains);
        return new CatalogMatch(modelIds.Count, shared, catalogIds.Count - shared);
    }

    /// <summary>
    /// Refuses (an <see cref="InvalidDataException"/> naming both) when fewer than half the model's items
    /// are in the catalog; otherwise returns a warning when they differ at all, or null when they match.
    /// </summary>
    public static string? Verify(string modelPath, IReadOnlyList<string> modelIds, string catalogPath, IReadOnlyCollection<string> catalogIds)
    {
        var m = Compare(modelIds, catalogIds);
        if (m.ModelItems == 0) throw new InvalidDataException($"{modelPath}: the model has no items");
        if (m.Shared * 2 < m.ModelItems)
            throw new InvalidDataException($"{modelPath}: only {m.Shared:N0} of the model's {m.ModelItems:N0} items are in {catalogPath}: " +
                                           "it was trained on another catalog; retrain it on this data (or give the data it was trained on)");
        if (m.ModelOnly == 0 && m.CatalogOnly == 0) return null;
        return $"warning: {modelPath} and {catalogPath} differ: {m.ModelOnly:N0} of the model's items are not in the catalog " +
               $"(never returned) and {m.CatalogOnly:N0} catalog items are not in the model (it cannot return them)";
    }
}
