using GenSearch.Retrieval;
using GenSearch.Serving;
using GenSearch.Storage;
using Prometheus;

namespace GenSearch.Server;

/// <summary>
/// The catalog being served and the store behind it: a change is written to the store and applied to
/// the catalog in one step (stored, applied, then committed; refused changes are neither), feedback is
/// acknowledged after its commit. Counts what the metrics report.
/// </summary>
internal sealed class ServedCatalog(CatalogSearch catalog, ISearchStore store, IMetricFactory metrics)
{
    private readonly Counter _changes = metrics.CreateCounter("gensearch_catalog_changes_total", "Catalog items added, replaced or removed through the API.", ["change"]);
    private readonly Counter _feedback = metrics.CreateCounter("gensearch_feedback_written_total", "Feedback events committed to the store.");

    public CatalogSearch Catalog { get; } = catalog;
    public ISearchStore Store { get; } = store;

    /// <summary>
    /// Stores <paramref name="edits"/> and applies them to the catalog (all or none), after
    /// <paramref name="check"/> (run under the write lock: what it sees of the catalog stays so) passes.
    /// </summary>
    public async Task<CatalogChange> WriteAsync(IReadOnlyList<CatalogEdit> edits, Action check, CancellationToken cancel)
    {
        if (!Catalog.IsUpdatable) throw new ApiException(409, $"{Catalog.Name} cannot change its catalog while it serves");
        CatalogChange change = default;
        await Store.WriteCatalogAsync(edits, () =>
        {
            check();
            try { change = Catalog.Apply([.. edits.Select(e => (e.Id, e.Item))]); }
            catch (Exception e) when (e is ArgumentException or InvalidDataException or NotSupportedException)
            {
                throw new ApiException(422, $"the retriever refused the change: {e.Message}");
            }
        }, cancel);
        if (change.Added > 0) _changes.WithLabels("added").Inc(change.Added);
        if (change.Replaced > 0) _changes.WithLabels("replaced").Inc(change.Replaced);
        if (change.Removed > 0) _changes.WithLabels("removed").Inc(change.Removed);
        return change;
    }

    /// <summary>Commits one feedback event; returns after the commit.</summary>
    public async Task AppendFeedbackAsync(Interaction feedback, CancellationToken cancel)
    {
        await Store.AppendFeedbackAsync(feedback, cancel);
        _feedback.Inc();
    }

    /// <summary>
    /// Replays the store's catalog changes over the data set's catalog, as one change (the last per id
    /// wins), so a restarted server holds what it held; returns how many changes were read.
    /// </summary>
    public async Task<int> ReplayAsync(CancellationToken cancel)
    {
        var edits = new List<(string, Document?)>();
        await foreach (var edit in Store.ReadCatalogAsync(cancel)) edits.Add((edit.Id, edit.Item));
        if (edits.Count > 0) Catalog.Apply(edits);
        return edits.Count;
    }
}
