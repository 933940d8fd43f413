using System.Collections.Concurrent;
using System.Diagnostics;
using GenSearch.Retrieval;
using GenSearch.Retrieval.Generative;

namespace GenSearch.Serving;

/// <summary>One result of <see cref="CatalogSearch.Search"/>: the item, its score and title, its semantic ID when a generative retriever serves, and why it scored so when asked.</summary>
public sealed record CatalogHit(string Id, float Score, string Title, string? Sid, HitExplanation? Explanation);

/// <summary>
/// Why an item scored what it did, from each part that can say: BM25's term contributions, and the
/// generative retriever's SID path with each level's log-probability.
/// </summary>
public sealed record HitExplanation(Bm25Explanation? Bm25, SidPath? Generative);

/// <summary>A page of results: <paramref name="Total"/> results can be paged through (at most the result window), <paramref name="Hits"/> are this page's.</summary>
public sealed record SearchPage(int Total, IReadOnlyList<CatalogHit> Hits, double TookMs);

/// <summary>
/// A catalog being searched while it changes: the retriever an expression opened, each item's title,
/// and changes applied to every structure the retriever uses (through <see cref="IUpdatableRetriever"/>).
/// What the server serves; it knows nothing of HTTP or storage. Searches take no lock; changes are
/// serialised by the caller (the server applies them under its write lock, after storing them).
/// </summary>
public sealed class CatalogSearch
{
    private readonly IRetriever _retriever;
    private readonly Bm25? _bm25;
    private readonly ISidExplainer? _generative;
    private readonly ConcurrentDictionary<string, string> _titles;

    /// <summary>Serves <paramref name="opened"/> over <paramref name="corpus"/> (the data set's items, for their titles).</summary>
    public CatalogSearch(OpenedRetriever opened, IEnumerable<Document> corpus, int resultWindow = 1000)
    {
        if (resultWindow <= 0) throw new ArgumentOutOfRangeException(nameof(resultWindow), "the result window must be positive");
        _retriever = opened.Retriever;
        _bm25 = opened.Bm25;
        _generative = opened.Parts.OfType<ISidExplainer>().FirstOrDefault();
        _titles = new ConcurrentDictionary<string, string>(corpus.Select(d => KeyValuePair.Create(d.Id, d.Title)), StringComparer.Ordinal);
        ResultWindow = resultWindow;
        Name = _retriever.Name;
    }

    /// <summary>The retriever's name, e.g. "bm25" or "bm25+generative".</summary>
    public string Name { get; }

    /// <summary>How deep a query's results can be paged (Elasticsearch's max_result_window).</summary>
    public int ResultWindow { get; }

    /// <summary>Items the catalog holds.</summary>
    public int Count => _titles.Count;

    /// <summary>Whether the catalog holds <paramref name="id"/>.</summary>
    public bool Contains(string id) => _titles.ContainsKey(id);

    /// <summary>Whether items can be added and removed (every model the registry opens can; a retriever that cannot refuses changes).</summary>
    public bool IsUpdatable => _retriever is IUpdatableRetriever;

    /// <summary>
    /// Results <paramref name="from"/> .. <paramref name="from"/> + <paramref name="size"/> of
    /// <paramref name="text"/> for <paramref name="user"/>; with <paramref name="explain"/>, each hit says why.
    /// </summary>
    public SearchPage Search(string text, string? user, int size, int from, bool explain)
    {
        if (size <= 0 || from < 0 || from + size > ResultWindow)
            throw new ArgumentOutOfRangeException(nameof(size), $"from + size must lie in [1, {ResultWindow}] (the result window)");
        var clock = Stopwatch.StartNew();
        var query = new Query("q", text) { User = user };
        var hits = _retriever.Search([query], ResultWindow)[0];
        int end = Math.Min(hits.Count, from + size);
        var page = new CatalogHit[Math.Max(0, end - from)];
        SidPath?[]? paths = explain && _generative is not null && page.Length > 0
            ? _generative.Explain(query, [.. Enumerable.Range(from, page.Length).Select(i => hits[i].Id)])
            : null;
        for (int i = 0; i < page.Length; i++)
        {
            var hit = hits[from + i];
            string? sid = paths?[i] is { } path ? Sid(path.Codes) : _generative?.SidOf(hit.Id) is { } codes ? Sid(codes) : null;
            HitExplanation? why = explain ? new HitExplanation(_bm25?.Explain(text, hit.Id), paths?[i]) : null;
            page[i] = new CatalogHit(hit.Id, hit.Score, _titles.GetValueOrDefault(hit.Id, ""), sid, why);
        }
        return new SearchPage(hits.Count, page, clock.Elapsed.TotalMilliseconds);
    }

    private static string Sid(int[] codes) => string.Join('-', codes);

    /// <summary>
    /// Applies catalog changes in order (an item to put, or a null item to remove its id), all or none:
    /// they are folded to the last change per id, then the puts go in one <see cref="IUpdatableRetriever.Upsert"/>
    /// (which checks the whole batch before changing anything) and the removals in one
    /// <see cref="IUpdatableRetriever.Remove"/>, so a refused batch leaves the catalog as it was.
    /// Returns what changed, counted by the catalog's ids.
    /// </summary>
    public CatalogChange Apply(IReadOnlyList<(string Id, Document? Item)> changes)
    {
        if (_retriever is not IUpdatableRetriever updatable)
            throw new NotSupportedException($"{_retriever.Name} cannot change its catalog while it serves");
        var last = new Dictionary<string, Document?>(StringComparer.Ordinal);
        foreach (var (id, item) in changes) { last.Remove(id); last[id] = item; }
        var puts = last.Values.Where(d => d is not null).Select(d => d!).ToList();
        var removals = last.Where(kv => kv.Value is null).Select(kv => kv.Key).ToList();
        // Counted against the catalog's own ids: a fusion's parts would each count the same item.
        int replaced = puts.Count(d => _titles.ContainsKey(d.Id)), removed = removals.Count(_titles.ContainsKey);
        if (puts.Count > 0) updatable.Upsert(puts);
        foreach (var d in puts) _titles[d.Id] = d.Title;
        if (removals.Count > 0) updatable.Remove(removals);
        foreach (var id in removals) _titles.TryRemove(id, out _);
        return new CatalogChange(puts.Count - replaced, replaced, removed, removals.Count - removed);
    }
}
