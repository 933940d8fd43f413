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
    /// exception propagates. Returns once committed. Calls are serialised.
    /// </summary>
    Task WriteCatalogAsync(IReadOnlyList<CatalogEdit> edits, Action apply, CancellationToken cancel = default);

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
