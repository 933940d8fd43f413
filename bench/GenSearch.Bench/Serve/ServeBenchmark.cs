using System.Net.Http.Json;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using GenSearch.Data;

namespace GenSearch.Bench.Serve;

/// <summary>
/// <c>gensearch serve</c> under load, on loopback (issue 12's targets). wrk with 64 connections cycles
/// through homedepot's dev query texts (GET /search?q=...&amp;size=10) against BM25 and against
/// generative retrieval (beam 50), each after a 5 s warm-up, beside wrk against /health/live (the
/// ceiling of the HTTP stack on this machine, in the same run: the machine is shared, so ratios to it
/// say more than the raw rates). Then the same load while items are added and removed (100 a second,
/// PUT and DELETE, each added item searched for by its title until found, each removed one searched
/// for after its DELETE), kill -9 during a feedback burst (every acknowledged event must be in the
/// exported log; SQLite, and PostgreSQL when one is given), and two replicas over one PostgreSQL behind
/// nginx (load through nginx; a change through one replica, found through the other: the lag).
/// <para>
/// Environment: GENSEARCH_DATA (default ../shared/data/homedepot); GENSEARCH_SERVE_MODEL, the model
/// directory for generative retrieval (its <c>--retriever model</c>; none: that part is skipped);
/// GENSEARCH_BENCH_POSTGRES, an admin connection string (bench/run starts a throwaway cluster);
/// GENSEARCH_SERVE_SECONDS (default 60) per load run; GENSEARCH_SERVE_PARTS, a comma list of
/// bm25, generative, kill, replicas (default all); GENSEARCH_SERVE_KERNEL_THREADS and
/// GENSEARCH_SERVE_SEARCH_CONCURRENCY, the servers' <c>--kernel-threads</c> and <c>--search-concurrency</c>
/// (default: the server's defaults).
/// </para>
/// </summary>
public sealed class ServeBenchmark : IBenchmark
{
    public string Name => "serve";

    public string Description => "gensearch serve under wrk (64 connections): BM25, generative beam 50, with catalog churn, kill -9 during feedback, replicas behind nginx";

    private const string ApiKey = "bench-serve-key";
    private const int Connections = 64;
    private static readonly TimeSpan WrkTimeout = TimeSpan.FromSeconds(10);

    public IEnumerable<(string Name, double Value)> Run()
    {
        // Figures are yielded as they are measured, so a failure late in the run keeps the earlier ones.
        using var figures = new System.Collections.Concurrent.BlockingCollection<(string, double)>();
        var run = Task.Run(async () => { try { await RunAsync(figures.Add); } finally { figures.CompleteAdding(); } });
        foreach (var figure in figures.GetConsumingEnumerable()) yield return figure;
        run.GetAwaiter().GetResult();
    }

    private static double LoadAverage() => double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture);

    private static void Note(string message) => Console.Error.WriteLine($"# serve: {DateTime.UtcNow:HH:mm:ss} {message} (load average {LoadAverage():F1})");

    private static async Task RunAsync(Action<(string, double)> figure)
    {
        void Add(string name, double value) => figure((name, value));
        string data = Environment.GetEnvironmentVariable("GENSEARCH_DATA") ?? Path.GetFullPath("../shared/data/homedepot");
        if (!Directory.Exists(data)) throw new BenchmarkSkipped($"no data set at {data} (set GENSEARCH_DATA)");
        if (!File.Exists("/usr/bin/wrk")) throw new BenchmarkSkipped("wrk is missing (bench/run installs Debian's wrk with apt-get)");
        int seconds = int.TryParse(Environment.GetEnvironmentVariable("GENSEARCH_SERVE_SECONDS"), out int s) ? s : 60;
        var parts = (Environment.GetEnvironmentVariable("GENSEARCH_SERVE_PARTS") ?? "bm25,generative,kill,replicas").Split(',', StringSplitOptions.TrimEntries).ToHashSet();
        string? model = Environment.GetEnvironmentVariable("GENSEARCH_SERVE_MODEL");
        string? postgres = Environment.GetEnvironmentVariable("GENSEARCH_BENCH_POSTGRES");

        var dataset = BeirDataset.Open(data);
        var queryIds = File.ReadLines(dataset.QrelsPath("dev")).Skip(1).Select(l => l.Split('\t')[0]).ToHashSet();
        var paths = dataset.Queries().Where(q => queryIds.Contains(q.Id)).Select(q => $"/search?q={Uri.EscapeDataString(q.Text)}&size=10").ToList();
        // Churn probes: copies of items whose title fewer than 5 catalog items share, so that a search for one holds every
        // item of that title and the new one well inside its size (one title is 11 items' here: with
        // size-10 probes its new copy could not be found whatever the index did; 3 of 6,000 BM25 probes drew it).
        var probes = dataset.Corpus().Where(d => d.Title.Length > 0).GroupBy(d => d.Title, StringComparer.Ordinal)
            .Where(g => g.Count() < 5).SelectMany(g => g).ToList();
        string work = Directory.CreateTempSubdirectory("gensearch-serve-bench-").FullName;
        Note($"{paths.Count} dev queries; work folder {work}; {Connections} connections, {seconds} s a run");
        Add("load_average_1m_start", LoadAverage());
        try
        {
            string[] threads = [
                .. Environment.GetEnvironmentVariable("GENSEARCH_SERVE_KERNEL_THREADS") is { Length: > 0 } k ? ["--kernel-threads", k] : Array.Empty<string>(),
                .. Environment.GetEnvironmentVariable("GENSEARCH_SERVE_SEARCH_CONCURRENCY") is { Length: > 0 } c ? ["--search-concurrency", c] : Array.Empty<string>()];
            string[] Common(string store) => ["--data", data, "--store", store, "--api-key", ApiKey, "--writes-per-second", "0", .. threads];
            Task<WrkResult> Load(string url, int secs, IReadOnlyList<string>? p = null)
                => Wrk.RunAsync(url, p ?? paths, Connections, secs, work, WrkTimeout);
            // The server's CPU per request over a run: what a request costs, whatever else the machine runs.
            async Task<WrkResult> Measured(string prefix, ServerProcess server, int secs, IReadOnlyList<string>? p = null)
            {
                double cpu = server.CpuSeconds();
                var result = await Load(server.Url, secs, p);
                Add($"{prefix}_server_cpu_ms_per_request", 1e3 * (server.CpuSeconds() - cpu) / Math.Max(1, result.Requests));
                return result;
            }
            // 5 s of the same churn beside 5 s of the same load, not counted, so the measured run starts with
            // the churn client's connections open and the write path run (compiled) before. Without it the first seconds of a measured run held most of its late finds
            // (one 40 s run: 283 of 287 items found after 1 s were put in its first 5 s).
            async Task WarmChurn(HttpClient client, string url)
            {
                var warm = LoadClients.ChurnAsync(client, url, probes, "warm-up", 100, 5);
                await Load(url, 5);
                await warm;
            }
            void Report(string prefix, WrkResult r)
            {
                Add($"{prefix}_qps", r.PerSecond); Add($"{prefix}_p50_ms", r.P50Ms); Add($"{prefix}_p99_ms", r.P99Ms);
                Add($"{prefix}_errors", r.Errors);
                Note($"{prefix}: {r.Requests} requests in {r.Seconds:F1} s, {r.Non2xx} non-2xx, {r.SocketErrors} socket errors");
            }
            void ReportChurn(string prefix, ChurnResult c)
            {
                Add($"{prefix}_added_per_s", c.AddedPerSecond); Add($"{prefix}_removed_per_s", c.RemovedPerSecond);
                Add($"{prefix}_write_errors", c.Errors); Add($"{prefix}_not_found", c.NotFound); Add($"{prefix}_title_unfindable", c.Unfindable); Add($"{prefix}_found_after_1s", c.FoundLate);
                Add($"{prefix}_removed_returned", c.RemovedReturned);
                Add($"{prefix}_first_find_p50_ms", c.FindP50Ms); Add($"{prefix}_first_find_p99_ms", c.FindP99Ms); Add($"{prefix}_first_find_max_ms", c.FindMaxMs);
                Add($"{prefix}_put_p50_ms", c.PutP50Ms); Add($"{prefix}_put_p99_ms", c.PutP99Ms); Add($"{prefix}_searches_per_find", c.SearchesPerFind);
            }

            // BM25: the ceiling, the load, the load with churn; then kill -9 during a feedback burst (SQLite).
            if (parts.Contains("bm25") || parts.Contains("kill"))
            {
                string store = $"sqlite:{Path.Combine(work, "bm25.sqlite")}";
                var server = await ServerProcess.StartAsync(Common(store), Path.Combine(work, "bm25.log"), TimeSpan.FromMinutes(10));
                try
                {
                    Note($"BM25 server ready on {server.Url}");
                    if (parts.Contains("bm25"))
                    {
                        await Load(server.Url, 5);
                        var health = await Measured("health_live", server, 20, ["/health/live"]);
                        Report("health_live", health);
                        var bm25 = await Measured("bm25", server, seconds);
                        Report("bm25", bm25);
                        Add("bm25_qps_over_health_live", bm25.PerSecond / health.PerSecond);
                        using var churnClient = LoadClients.Client(ApiKey);
                        await WarmChurn(churnClient, server.Url);
                        var churn = LoadClients.ChurnAsync(churnClient, server.Url, probes, "measured", 100, seconds);
                        var under = await Load(server.Url, seconds);
                        Report("bm25_churn", under);
                        ReportChurn("bm25_churn", await churn);
                    }
                    if (parts.Contains("kill")) server = await KillDuringFeedback("sqlite", server, Common(store), store, work, Add);
                }
                finally { await server.DisposeAsync(); }
            }

            if (parts.Contains("generative"))
            {
                if (model is null || !Directory.Exists(model))
                    Note($"generative part skipped: set GENSEARCH_SERVE_MODEL to a model directory ({(model is null ? "unset" : model + " is missing")})");
                else
                {
                    Note($"generative retrieval: model {Path.GetFullPath(model)}, --retriever model --beam 50");
                    string store = $"sqlite:{Path.Combine(work, "generative.sqlite")}";
                    await using var server = await ServerProcess.StartAsync([.. Common(store), "--model", model, "--retriever", "model", "--beam", "50"],
                        Path.Combine(work, "generative.log"), TimeSpan.FromMinutes(15));
                    await Load(server.Url, 5);
                    // The first new item loads the item tower and the quantizer: not part of the churn's figures.
                    using (var http = LoadClients.Client(ApiKey))
                    {
                        var warm = Stopwatch.StartNew();
                        (await http.PutAsJsonAsync($"{server.Url}/items/warm-up", new { title = probes[0].Title })).EnsureSuccessStatusCode();
                        (await http.DeleteAsync($"{server.Url}/items/warm-up")).EnsureSuccessStatusCode();
                        Add("generative_first_put_ms", warm.Elapsed.TotalMilliseconds);
                    }
                    var gen = await Measured("generative", server, seconds);
                    Report("generative", gen);
                    using var churnClient = LoadClients.Client(ApiKey);
                    await WarmChurn(churnClient, server.Url);
                    var churn = LoadClients.ChurnAsync(churnClient, server.Url, probes, "measured", 100, seconds);
                    Report("generative_churn", await Load(server.Url, seconds));
                    ReportChurn("generative_churn", await churn);
                }
            }

            if ((parts.Contains("kill") || parts.Contains("replicas")) && postgres is null)
                Note("PostgreSQL parts skipped: GENSEARCH_BENCH_POSTGRES is not set (bench/run starts a throwaway cluster)");
            if (postgres is not null && parts.Contains("kill"))
            {
                string store = "postgres:" + await NewDatabase(postgres, "kill");
                var server = await ServerProcess.StartAsync(Common(store), Path.Combine(work, "pg-kill.log"), TimeSpan.FromMinutes(10));
                server = await KillDuringFeedback("postgres", server, Common(store), store, work, Add);
                await server.DisposeAsync();
            }
            if (postgres is not null && parts.Contains("replicas"))
            {
                string store = "postgres:" + await NewDatabase(postgres, "replicas");
                await using var a = await ServerProcess.StartAsync(Common(store), Path.Combine(work, "replica-a.log"), TimeSpan.FromMinutes(10));
                await using var b = await ServerProcess.StartAsync(Common(store), Path.Combine(work, "replica-b.log"), TimeSpan.FromMinutes(10));
                await using var nginx = await Nginx.StartAsync([a.Url, b.Url], Path.Combine(work, "nginx"));
                Note($"replicas {a.Url} and {b.Url} behind nginx on {nginx.Url}");
                await Load(nginx.Url, 5);
                var lag = LoadClients.ReplicaLagAsync(a.Url, b.Url, ApiKey, TimeSpan.FromMilliseconds(500), seconds);
                Report("replicas_bm25", await Load(nginx.Url, seconds));
                var (lags, missed, errors) = await lag;
                Add("replica_lag_probes", lags.Length + missed);
                Add("replica_lag_p50_ms", lags.Length == 0 ? double.NaN : lags[lags.Length / 2]);
                Add("replica_lag_max_ms", lags.Length == 0 ? double.NaN : lags[^1]);
                Add("replica_lag_missed", missed);
                Add("replica_lag_errors", errors);
            }
            Add("load_average_1m_end", LoadAverage());
        }
        finally
        {
            if (Environment.GetEnvironmentVariable("GENSEARCH_SERVE_KEEP") != "1") Directory.Delete(work, recursive: true);
            else Note($"kept {work}");
        }
    }

    /// <summary>
    /// 8 clients post feedback as fast as they can; after 5 s the server gets SIGKILL. Then it is started
    /// again over the same store (it must come back), the log is exported with <c>gensearch export-log</c>,
    /// and every event acknowledged before the kill must be in it. Returns the restarted server.
    /// </summary>
    private static async Task<ServerProcess> KillDuringFeedback(string kind, ServerProcess server, string[] args, string store, string work,
        Action<string, double> add)
    {
        using var stop = new CancellationTokenSource();
        var burst = LoadClients.FeedbackBurstAsync(server.Url, ApiKey, 8, stop.Token);
        await Task.Delay(TimeSpan.FromSeconds(5));
        server.Kill();
        Note($"{kind}: killed the server (SIGKILL) during the feedback burst");
        await Task.Delay(500);
        await stop.CancelAsync();
        var (acked, sent) = await burst;
        await server.DisposeAsync();
        var restarted = await ServerProcess.StartAsync(args, Path.Combine(work, $"{kind}-restarted.log"), TimeSpan.FromMinutes(10));
        string exported = Path.Combine(work, $"{kind}-interactions.jsonl");
        var export = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { ServerProcess.Cli, "export-log", "--store", store, "--out", exported }) export.ArgumentList.Add(a);
        using (var process = Process.Start(export)!)
        {
            string err = await process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            if (process.ExitCode != 0) throw new InvalidOperationException($"gensearch export-log failed: {err}");
        }
        var stored = File.ReadLines(exported).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("query").GetString()!).ToHashSet();
        add($"{kind}_feedback_sent", sent);
        add($"{kind}_feedback_acked", acked.Count);
        add($"{kind}_feedback_stored", stored.Count);
        add($"{kind}_feedback_lost", acked.Count(q => !stored.Contains(q)));
        return restarted;
    }

    private static async Task<string> NewDatabase(string admin, string purpose)
    {
        string name = $"gs_bench_{purpose}_{Guid.NewGuid():N}"[..40];
        await using (var source = Npgsql.NpgsqlDataSource.Create(admin))
        await using (var command = source.CreateCommand($"CREATE DATABASE {name}"))
            await command.ExecuteNonQueryAsync();
        return new Npgsql.NpgsqlConnectionStringBuilder(admin) { Database = name }.ToString();
    }
}
