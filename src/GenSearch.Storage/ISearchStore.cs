namespace GenSearch.Storage;

/// <summary>One catalog change as the store keeps it: <paramref name="Item"/> put under <paramref name="Id"/>, or the id removed when it is null.</summary>
public sealed record CatalogEdit(string Id, Document? Item)
{
    /// <summary>Whether the change removes the item.</summary>
    public bool IsRemoval => Item is null;
}

/// <summary>
/// What a search server keeps durably: the catalog changes made while it serves (replayed over the
/// data set's corpus when it starts, so added and removed items survive a restart) and the feedback
/// log (exported as <c>interactions.jsonl</c> for training). One interface, two kinds
/// (<see cref="SqliteSearchStore"/> embedded, <see cref="PostgresSearchStore"/> for a shared server),
/// opened by <see cref="SearchStores.OpenAsync"/>.
/// <para>
/// Durability: a method that writes returns only after its transaction committed, so whatever a
/// caller acknowledges after it returns survives a crash of the process (and, with the settings
/// each kind documents, of the machine).
/// </para>
/// </summary>
public interface ISearchStore : IAsyncDisposable
{
    /// <summary>What the store is, for logs: its kind and where (never a password).</summary>
    string Description { get; }

    /// <summary>
    /// Writes <paramref name="edits"/> in one transaction and commits it after <paramref name="apply"/>
    /// (the change in memory) has run: if <paramref name="apply"/> throws, nothing is stored and the
    /// exception propagates. Returns once committed. Calls are serialised, across every process that
    /// shares the store, so the order of the changes is the order they commit in.
    /// <para>
    /// <paramref name="apply"/> is first given the changes other writers (another server over the same
    /// store) committed since this instance last caught up or wrote, oldest first: the caller applies
    /// them before its own, so every replica applies the changes in one order. They count as seen
    /// whether or not <paramref name="apply"/> then throws.
    /// </para>
    /// </summary>
    Task WriteCatalogAsync(IReadOnlyList<CatalogEdit> edits, Action<IReadOnlyList<CatalogEdit>> apply, CancellationToken cancel = default);

    /// <summary>
    /// Passes the catalog changes committed since this instance last caught up or wrote (by anyone
    /// else; on the first call, every stored change), oldest first, to <paramref name="apply"/>, and
    /// counts them as seen; serialised with <see cref="WriteCatalogAsync"/>. Returns how many there were.
    /// A server calls it on start (the replay) and whenever <see cref="WaitForCatalogChangeAsync"/> returns.
    /// </summary>
    Task<int> CatchUpAsync(Action<IReadOnlyList<CatalogEdit>> apply, CancellationToken cancel = default);

    /// <summary>
    /// Returns when another writer may have committed a catalog change, or after at most
    /// <paramref name="timeout"/> (a poll fallback, for notifications lost with a connection).
    /// PostgreSQL is told at each commit (LISTEN/NOTIFY); SQLite has no such signal across processes,
    /// so it returns after its poll interval.
    /// </summary>
    Task WaitForCatalogChangeAsync(TimeSpan timeout, CancellationToken cancel = default);

    /// <summary>The stored catalog changes, oldest first.</summary>
    IAsyncEnumerable<CatalogEdit> ReadCatalogAsync(CancellationToken cancel = default);

    /// <summary>Appends one feedback event; returns once committed.</summary>
    Task AppendFeedbackAsync(Interaction feedback, CancellationToken cancel = default);

    /// <summary>The feedback log, oldest first.</summary>
    IAsyncEnumerable<Interaction> ReadFeedbackAsync(CancellationToken cancel = default);

    /// <summary>Feedback events stored.</summary>
    Task<long> FeedbackCountAsync(CancellationToken cancel = default);

    /// <summary>Throws when the store cannot be reached (readiness checks call it).</summary>
    Task PingAsync(CancellationToken cancel = default);
}
