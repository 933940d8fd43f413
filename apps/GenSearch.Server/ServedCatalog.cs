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
    private readonly Counter _followed = metrics.CreateCounter("gensearch_catalog_changes_followed_total", "Catalog changes other servers over the same store made, applied here.");
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
        await Store.WriteCatalogAsync(edits, others =>
        {
            ApplyFollowed(others);
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
    public Task<int> ReplayAsync(CancellationToken cancel) => Store.CatchUpAsync(edits => Catalog.Apply([.. edits.Select(e => (e.Id, e.Item))]), cancel);

    /// <summary>
    /// Follows the changes other servers over the same store commit (replicas behind one balancer), until
    /// <paramref name="stop"/>: waits for the store's signal (PostgreSQL's NOTIFY, else a poll) and applies
    /// what it has not seen. A failure is logged and retried a second later; the server goes on serving.
    /// </summary>
    public async Task FollowAsync(Action<Exception> failed, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await Store.WaitForCatalogChangeAsync(FollowPoll, stop);
                await Store.CatchUpAsync(ApplyFollowed, stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested) { return; }
            catch (Exception e)
            {
                failed(e);
                try { await Task.Delay(TimeSpan.FromSeconds(1), stop); } catch (OperationCanceledException) { return; }
            }
        }
    }

    /// <summary>The longest a follower waits for a signal before it looks anyway.</summary>
    public static readonly TimeSpan FollowPoll = TimeSpan.FromSeconds(1);

    private void ApplyFollowed(IReadOnlyList<CatalogEdit> edits)
    {
        if (edits.Count == 0) return;
        Catalog.Apply([.. edits.Select(e => (e.Id, e.Item))]);
        _followed.Inc(edits.Count);
    }
}
