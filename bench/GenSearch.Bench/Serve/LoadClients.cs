using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using GenSearch.Data;

namespace GenSearch.Bench.Serve;

/// <summary>
/// What the catalog churn did: adds and removals made, how long until each added item was found, failures.
/// Unfindable: items not found in 5 s whose original (the catalog item they copy) the same search does
/// not return either, so the retriever cannot find that title, whatever the index holds.
/// </summary>
internal sealed record ChurnResult(int Added, int Removed, double Seconds, int Errors, int NotFound, int Unfindable, int RemovedReturned,
    double FindP50Ms, double FindP99Ms, double FindMaxMs, int FoundLate, double PutP50Ms, double PutP99Ms, double SearchesPerFind)
{
    public double AddedPerSecond => Added / Seconds;
    public double RemovedPerSecond => Removed / Seconds;
}

/// <summary>
/// HTTP clients for the serve benchmark: catalog churn through PUT/DELETE, a feedback burst, and the
/// lag between replicas. Every write carries the API key.
/// </summary>
internal static class LoadClients
{
    public static HttpClient Client(string apiKey) => new(new SocketsHttpHandler { MaxConnectionsPerServer = 256, PooledConnectionLifetime = TimeSpan.FromMinutes(10) })
    {
        Timeout = TimeSpan.FromSeconds(30),
        DefaultRequestHeaders = { { "X-Api-Key", apiKey } },
    };

    private static string SearchPath(string text, int size) => $"/search?q={Uri.EscapeDataString(text)}&size={size}";

    private static async Task<string[]?> Ids(HttpClient http, string url, string text, int size)
    {
        using var response = await http.GetAsync(url + SearchPath(text, size));
        if (!response.IsSuccessStatusCode) return null;
        var json = await response.Content.ReadFromJsonAsync<JsonElement>();
        return [.. json.GetProperty("hits").EnumerateArray().Select(h => h.GetProperty("id").GetString()!)];
    }

    /// <summary>
    /// For <paramref name="seconds"/>: <paramref name="perSecond"/> new items a second, each PUT under a new id
    /// as a copy (title and text) of a catalog item of <paramref name="probes"/> (so every retriever has a way
    /// to it), searched for by its title (size 100: whether the index holds it, not how a model ranks it
    /// among items of similar titles) until it is found (time to first find, from the PUT's start; given up
    /// after 5 s), DELETEd a second after it was added, and then searched for again (size 100): it must not
    /// come back. An item not found in 5 s whose original is not in that search's results either is counted
    /// as unfindable (the copy scores as its original, so no search for that title can return it), else as
    /// not found. Items in flight are capped at 512; when writes are slower than the schedule, the achieved
    /// rate says so. <paramref name="http"/> (from <see cref="Client"/>) keeps its connections from run to
    /// run, so a warm-up run opens them before the measured one; <paramref name="label"/> marks its notes.
    /// </summary>
    public static async Task<ChurnResult> ChurnAsync(HttpClient http, string url, IReadOnlyList<Document> probes, string label, int perSecond, int seconds)
    {
        var findMs = new ConcurrentBag<double>();
        var putMs = new ConcurrentBag<double>();
        var late = new ConcurrentBag<double>(); // when (seconds into the run) each item found after 1 s was put
        int findSearches = 0;
        int added = 0, removed = 0, errors = 0, notFound = 0, unfindable = 0, removedReturned = 0;
        using var inFlight = new SemaphoreSlim(512);
        var tasks = new List<Task>();
        var clock = Stopwatch.StartNew();
        var rng = new Random(12);
        string run = Guid.NewGuid().ToString("N")[..6];
        for (int n = 0; clock.Elapsed.TotalSeconds < seconds; n++)
        {
            var due = TimeSpan.FromSeconds((double)n / perSecond);
            if (due > clock.Elapsed) await Task.Delay(due - clock.Elapsed);
            await inFlight.WaitAsync();
            string id = $"churn-{run}-{n}";
            var original = probes[rng.Next(probes.Count)];
            string title = original.Title;
            tasks.Add(Task.Run(async () =>
            {
                bool isIn = false; // put and not yet deleted: deleted on the way out whatever happens
                try
                {
                    var started = Stopwatch.StartNew();
                    using (var put = await http.PutAsJsonAsync($"{url}/items/{id}", new { title, text = original.Text }))
                        if (put.StatusCode != HttpStatusCode.Created) { Interlocked.Increment(ref errors); return; }
                    isIn = true;
                    putMs.Add(started.Elapsed.TotalMilliseconds);
                    Interlocked.Increment(ref added);
                    while (true)
                    {
                        Interlocked.Increment(ref findSearches);
                        var ids = await Ids(http, url, title, 100);
                        if (ids is null) { Interlocked.Increment(ref errors); return; }
                        var waited = started.Elapsed;
                        if (ids.Contains(id))
                        {
                            findMs.Add(waited.TotalMilliseconds);
                            if (waited.TotalMilliseconds > 1000) late.Add(clock.Elapsed.TotalSeconds - waited.TotalSeconds);
                            break;
                        }
                        if (waited > TimeSpan.FromSeconds(5))
                        {
                            bool originalFound = ids.Contains(original.Id);
                            if (originalFound) Interlocked.Increment(ref notFound); else Interlocked.Increment(ref unfindable);
                            Console.Error.WriteLine($"# serve: {label}: {id} (a copy of '{original.Id}', '{title}') not found in 5 s; " +
                                                    (originalFound ? "its original is" : "nor is its original: the retriever cannot find that title"));
                            break;
                        }
                        await Task.Delay(10);
                    }
                    var remaining = TimeSpan.FromSeconds(1) - started.Elapsed;
                    if (remaining > TimeSpan.Zero) await Task.Delay(remaining);
                    using (var delete = await http.DeleteAsync($"{url}/items/{id}"))
                        if (delete.StatusCode != HttpStatusCode.OK) { Interlocked.Increment(ref errors); return; }
                    isIn = false;
                    Interlocked.Increment(ref removed);
                    var after = await Ids(http, url, title, 100);
                    if (after is null) Interlocked.Increment(ref errors);
                    else if (after.Contains(id)) Interlocked.Increment(ref removedReturned);
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { Interlocked.Increment(ref errors); }
                finally
                {
                    if (isIn) // an error left it in the catalog: take it out so it cannot outlive its run
                        try { (await http.DeleteAsync($"{url}/items/{id}")).Dispose(); } catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { }
                    inFlight.Release();
                }
            }));
        }
        double elapsed = clock.Elapsed.TotalSeconds;
        await Task.WhenAll(tasks);
        if (!late.IsEmpty) // clustered in a few seconds: a stall; spread: queueing
            Console.Error.WriteLine($"# serve: {label}: items found after 1 s, by the second of their PUT: " +
                                    string.Join(", ", late.GroupBy(t => (int)t).OrderBy(g => g.Key).Select(g => $"{g.Key}s: {g.Count()}")));
        var sorted = findMs.Order().ToArray();
        var puts = putMs.Order().ToArray();
        static double P(double[] sorted, double q) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];
        return new ChurnResult(added, removed, elapsed, errors, notFound, unfindable, removedReturned, P(sorted, 0.5), P(sorted, 0.99),
            sorted.Length == 0 ? double.NaN : sorted[^1], sorted.Count(ms => ms > 1000), P(puts, 0.5), P(puts, 0.99),
            added == 0 ? double.NaN : (double)findSearches / added);
    }

    /// <summary>
    /// <paramref name="clients"/> clients post feedback as fast as they can, each event with a query text
    /// of its own; returns the ones acknowledged (201) when <paramref name="stop"/> fires. Refusals and
    /// broken connections after the kill are expected and not counted.
    /// </summary>
    public static async Task<(HashSet<string> Acked, int Sent)> FeedbackBurstAsync(string url, string apiKey, int clients, CancellationToken stop)
    {
        using var http = Client(apiKey);
        http.Timeout = TimeSpan.FromSeconds(5);
        var acked = new ConcurrentBag<string>();
        int sent = 0;
        string run = Guid.NewGuid().ToString("N")[..6];
        await Task.WhenAll(Enumerable.Range(0, clients).Select(c => Task.Run(async () =>
        {
            for (int n = 0; !stop.IsCancellationRequested; n++)
            {
                string query = $"burst {run} {c} {n}";
                Interlocked.Increment(ref sent);
                try
                {
                    using var response = await http.PostAsJsonAsync($"{url}/feedback",
                        new { user = $"bench-{c}", query, item = (string?)null, signals = new Dictionary<string, double> { ["click"] = 1 } });
                    if (response.StatusCode == HttpStatusCode.Created) acked.Add(query);
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { }
            }
        })));
        return ([.. acked], sent);
    }

    /// <summary>
    /// Every <paramref name="every"/> for <paramref name="seconds"/>: PUT an item with a made-up title through
    /// one replica (alternating A and B) and search the other for it every 5 ms; the lag is from the PUT's
    /// acknowledgement to the first search that finds it (given up after 10 s: counted as missed).
    /// </summary>
    public static async Task<(double[] LagsMs, int Missed, int Errors)> ReplicaLagAsync(string a, string b, string apiKey, TimeSpan every, int seconds)
    {
        using var http = Client(apiKey);
        var lags = new List<double>();
        int missed = 0, errors = 0;
        var clock = Stopwatch.StartNew();
        string run = Guid.NewGuid().ToString("N")[..6];
        for (int n = 0; clock.Elapsed.TotalSeconds < seconds; n++)
        {
            var (from, to) = n % 2 == 0 ? (a, b) : (b, a);
            string id = $"lag-{run}-{n}", word = $"lagprobe{run}x{n}";
            using (var put = await http.PutAsJsonAsync($"{from}/items/{id}", new { title = $"{word} replica probe" }))
                if (put.StatusCode != HttpStatusCode.Created) { errors++; continue; }
            var acked = Stopwatch.StartNew();
            while (true)
            {
                var ids = await Ids(http, to, word, 10);
                if (ids is null) { errors++; break; }
                if (ids.Contains(id)) { lags.Add(acked.Elapsed.TotalMilliseconds); break; }
                if (acked.Elapsed > TimeSpan.FromSeconds(10)) { missed++; break; }
                await Task.Delay(5);
            }
            var next = every * (n + 1) - clock.Elapsed;
            if (next > TimeSpan.Zero) await Task.Delay(next);
        }
        return ([.. lags.Order()], missed, errors);
    }
}
