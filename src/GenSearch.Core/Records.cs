namespace GenSearch;

/// <summary>
/// A catalog item from <c>corpus.jsonl</c>: <c>{"_id", "title", "text"}</c> with optional numeric
/// <c>"features"</c> and a precomputed <c>"vector"</c>.
/// </summary>
public sealed record Document(string Id, string Title, string Text)
{
    /// <summary>Named numeric features; null when the line has none.</summary>
    public IReadOnlyDictionary<string, double>? Features { get; init; }
    /// <summary>A precomputed embedding; null when the line has none.</summary>
    public float[]? Vector { get; init; }

    /// <summary>What models read of an item: the title, then the text when there is one.</summary>
    public string TitleAndText => string.IsNullOrWhiteSpace(Text) ? Title : Title + " " + Text;
}

/// <summary>
/// A query from <c>queries.jsonl</c> (<c>{"_id", "text"}</c>, optional <c>"user"</c> and <c>"ts"</c>), and the record every
/// retriever takes: later retrievers read the user and their context, BM25 reads the text only.
/// </summary>
public sealed record Query(string Id, string Text)
{
    /// <summary>The user who issued the query, when known.</summary>
    public string? User { get; init; }
    /// <summary>
    /// When the query was issued (seconds since the Unix epoch, <c>"ts"</c> in <c>queries.jsonl</c>), when
    /// known: the user's history is the events before it. Null means "now": the whole log is history.
    /// </summary>
    public double? Timestamp { get; init; }
    /// <summary>
    /// The user's recent history, oldest first, when known; filled from the interactions log
    /// (<c>UserContexts.Attach</c> in GenSearch.Data) for personalised retrievers. Each entry is tagged
    /// so a model can tell them apart: <c>"q:&lt;query text&gt;"</c> for an earlier search (one entry for a
    /// run of events with the same text) and <c>"i:&lt;item id&gt;"</c> for an item clicked in it.
    /// </summary>
    public IReadOnlyList<string>? Context { get; init; }
}

/// <summary>
/// One event of the search log <c>interactions.jsonl</c>:
/// <c>{"user", "query", "item", "ts", "signals": {"click": 1, "watch_s": 12.5, ...}}</c>.
/// </summary>
public sealed record Interaction(string User, string Query, string? Item, double Timestamp, IReadOnlyDictionary<string, double> Signals);
