namespace GenSearch.Data;

/// <summary>
/// Gives each query its user's history from the search log: the events of the same user strictly
/// before the query's <see cref="Query.Timestamp"/> (every event of the user when the query has none:
/// a query without a time is issued now), the latest <c>maxEvents</c> of them, oldest first, as
/// <see cref="Query.Context"/> entries <c>"q:&lt;query text&gt;"</c> (once for a run of events with the
/// same text) and <c>"i:&lt;item id&gt;"</c> (each clicked item). Events with equal times keep the log's
/// order. A query without a user is returned unchanged; a query whose user has no earlier event gets
/// an empty context (known to have no history).
/// </summary>
public static class UserContexts
{
    /// <summary>Events per query when none is given: more than a generated history holds, few enough for a model's input.</summary>
    public const int DefaultMaxEvents = 20;

    /// <summary>Prefix of a context entry that is an earlier query's text.</summary>
    public const string QueryPrefix = "q:";

    /// <summary>Prefix of a context entry that is a clicked item's id.</summary>
    public const string ItemPrefix = "i:";

    /// <summary>
    /// The queries with <see cref="Query.Context"/> filled from <paramref name="log"/>. Only the events of
    /// users among the queries are kept in memory.
    /// </summary>
    public static IReadOnlyList<Query> Attach(IReadOnlyList<Query> queries, IEnumerable<Interaction> log, int maxEvents = DefaultMaxEvents)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxEvents, 1);
        var byUser = new Dictionary<string, List<(double Ts, long Order, Interaction Event)>>(StringComparer.Ordinal);
        foreach (var q in queries)
            if (q.User != null) byUser.TryAdd(q.User, []);
        if (byUser.Count == 0) return queries;
        long order = 0;
        foreach (var e in log)
        {
            if (byUser.TryGetValue(e.User, out var events)) events.Add((e.Timestamp, order, e));
            order++;
        }
        foreach (var events in byUser.Values) events.Sort((a, b) => a.Ts != b.Ts ? a.Ts.CompareTo(b.Ts) : a.Order.CompareTo(b.Order));

        var result = new Query[queries.Count];
        for (int i = 0; i < queries.Count; i++)
        {
            var q = queries[i];
            result[i] = q.User is { } user ? q with { Context = Context(byUser[user], q.Timestamp, maxEvents) } : q;
        }
        return result;
    }

    /// <summary>The tagged entries of the latest <paramref name="maxEvents"/> events before <paramref name="before"/>.</summary>
    private static List<string> Context(List<(double Ts, long Order, Interaction Event)> events, double? before, int maxEvents)
    {
        int end = before is { } t ? FirstAtOrAfter(events, t) : events.Count;
        int start = Math.Max(0, end - maxEvents);
        var context = new List<string>(2 * (end - start));
        string? previousQuery = null;
        for (int i = start; i < end; i++)
        {
            var e = events[i].Event;
            if (e.Query.Length > 0 && e.Query != previousQuery) context.Add(QueryPrefix + e.Query);
            previousQuery = e.Query;
            if (e.Item != null) context.Add(ItemPrefix + e.Item);
        }
        return context;
    }

    /// <summary>Index of the first event at or after <paramref name="t"/> (events are sorted by time).</summary>
    private static int FirstAtOrAfter(List<(double Ts, long Order, Interaction Event)> events, double t)
    {
        int lo = 0, hi = events.Count;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (events[mid].Ts < t) lo = mid + 1; else hi = mid;
        }
        return lo;
    }
}
