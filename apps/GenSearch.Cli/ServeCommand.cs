using System.CommandLine;
using GenSearch.Data;
using GenSearch.Server;
using GenSearch.Storage;

namespace GenSearch.Cli;

/// <summary>
/// <c>gensearch serve --data DIR [--model DIR] [--retriever EXPR] [--store sqlite:PATH|postgres:CONNSTR] [--urls URL] [--api-key KEY]</c>:
/// the search server (<see cref="SearchServer"/>), in this process, until Ctrl+C or SIGTERM.
/// </summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "BEIR directory whose corpus is the catalog.", Required = true };
        var model = CliSupport.ModelOption();
        var retriever = CliSupport.RetrieverOption();
        var beam = new BeamOptions();
        var hnsw = new Option<bool>("--hnsw") { Description = "Dense retrieval: search an HNSW graph instead of the exact index." };
        var store = new Option<string?>("--store")
        {
            Description = "Where catalog changes and feedback are kept: sqlite:PATH (embedded) or postgres:CONNECTION-STRING. " +
                          $"Default: sqlite:{ServerOptions.DefaultStoreFolder}/<data set>.sqlite",
        };
        var urls = new Option<string[]>("--urls") { Description = $"Addresses to listen on (default {ServerOptions.DefaultUrl}); beyond loopback only with --api-key.", AllowMultipleArgumentsPerToken = true };
        var apiKey = new Option<string?>("--api-key") { Description = "Key the write endpoints require (X-Api-Key or Authorization: Bearer); also read from GENSEARCH_API_KEY." };
        var writes = new Option<int>("--writes-per-second") { Description = "Write requests per second per client address (0: unlimited).", DefaultValueFactory = _ => 1000 };
        var searches = new Option<int>("--searches-per-second") { Description = "Search requests per second per client address (0, the default: unlimited).", DefaultValueFactory = _ => 0 };
        var kernelThreads = new Option<int>("--kernel-threads")
        {
            // 1: concurrent requests already keep every core busy, and a kernel's helper threads only
            // spin and hand off (generative churn: 448 against 320 searches/s with 2; bench/RESULTS.md, ## serve).
            Description = "Threads one search's kernels (matrix products) may use (default 1: concurrent requests are the parallelism).",
            DefaultValueFactory = _ => 1,
        };
        var searchConcurrency = new Option<int>("--search-concurrency")
        {
            Description = "Searches run at once; more wait in line without holding a thread, so writes do not queue behind them (default: the processor count; 0: no limit).",
            DefaultValueFactory = _ => ServerOptions.DefaultSearchConcurrency,
        };
        var rerank = CliSupport.RerankOption();
        var rerankDepth = CliSupport.RerankDepthOption();
        var fusion = CliSupport.FusionOption();
        var command = new Command("serve", "Serve search over HTTP: /search, live catalog changes (/items), feedback (/feedback), /health, /metrics, OpenAPI at /openapi/v1.json and /scalar.")
        {
            data, model, retriever, hnsw, store, urls, apiKey, writes, searches, searchConcurrency, kernelThreads, rerank, rerankDepth, fusion,
        };
        beam.AddTo(command);
        CliSupport.RerankDepthNeedsRerank(command, rerank, rerankDepth);
        command.SetAction(parse => CliSupport.Guard(() =>
        {
            var search = beam.Read(parse);
            BeamOptions.CheckUnifiedOnly(search.SteeredLevels, search.SketchDirections, parse.GetValue(model));
            CliSupport.Range("--rerank-depth", parse.GetValue(rerankDepth), 1, 10_000);
            CliSupport.Range("--writes-per-second", parse.GetValue(writes), 0);
            CliSupport.Range("--searches-per-second", parse.GetValue(searches), 0);
            CliSupport.Range("--kernel-threads", parse.GetValue(kernelThreads), 1, 1024);
            CliSupport.Range("--search-concurrency", parse.GetValue(searchConcurrency), 0, 1024);
            GenSearch.Tensors.Kernels.KernelThreads.Count = parse.GetValue(kernelThreads);
            string dataDir = parse.GetValue(data)!;
            CliSupport.OpenData(dataDir); // the data set's errors as the other commands give them, before anything else
            var options = new ServerOptions
            {
                DataDir = dataDir, ModelDir = parse.GetValue(model), Retriever = parse.GetValue(retriever), Beam = search.Beam, SteeredLevels = search.SteeredLevels, SketchDirections = search.SketchDirections,
                Hnsw = parse.GetValue(hnsw), Store = parse.GetValue(store), Rerank = parse.GetValue(rerank), RerankDepth = parse.GetValue(rerankDepth), Fusion = CliSupport.Fusion(parse.GetValue(fusion)),
                Urls = parse.GetValue(urls) is { Length: > 0 } given ? given : [ServerOptions.DefaultUrl],
                ApiKey = parse.GetValue(apiKey) ?? (Environment.GetEnvironmentVariable("GENSEARCH_API_KEY") is { Length: > 0 } env ? env : null),
                WritesPerSecond = parse.GetValue(writes), SearchesPerSecond = parse.GetValue(searches), SearchConcurrency = parse.GetValue(searchConcurrency),
            };
            return Run(options);
        }));
        return command;
    }

    private static int Run(ServerOptions options)
    {
        SearchServer server;
        try { server = SearchServer.StartAsync(options).GetAwaiter().GetResult(); }
        catch (ArgumentException e) { throw new CliException(e.Message); }
        catch (Exception e) when (e.GetBaseException() is System.Net.Sockets.SocketException or IOException && e is not CliException)
        {
            throw new CliException($"cannot listen on {string.Join(", ", options.Urls)}: {e.GetBaseException().Message}");
        }
        server.WaitForShutdownAsync().GetAwaiter().GetResult();
        return 0;
    }
}

/// <summary><c>gensearch export-log --store EXPR --out interactions.jsonl</c>: the feedback log in the format training reads.</summary>
internal static class ExportLogCommand
{
    public static Command Create()
    {
        var store = new Option<string?>("--store") { Description = "The server's store: sqlite:PATH or postgres:CONNECTION-STRING." };
        var data = new Option<string?>("--data") { Description = "Instead of --store: the data set whose default store to read (as serve chose it)." };
        var output = new Option<string>("--out") { Description = "Where to write interactions.jsonl.", Required = true };
        var command = new Command("export-log", "Write the feedback the server stored as interactions.jsonl (the search log that training reads).")
        {
            store, data, output,
        };
        command.SetAction(parse => CliSupport.Guard(() =>
        {
            string path = parse.GetValue(output)!;
            CliSupport.CheckOutputPath("--out", path);
            string expression = parse.GetValue(store) ?? (parse.GetValue(data) is { } dir
                ? ServerOptions.StoreFor(null, dir)
                : throw new CliException("give --store sqlite:PATH|postgres:CONNSTR, or --data DIR for that data set's default store"));
            if (expression.StartsWith(SearchStores.SqlitePrefix, StringComparison.Ordinal) && !File.Exists(expression[SearchStores.SqlitePrefix.Length..]))
                throw new CliException($"--store {expression}: no such file (serve creates it)");
            return Export(expression, path);
        }));
        return command;
    }

    private static int Export(string expression, string path)
    {
        ISearchStore opened;
        try { opened = SearchStores.OpenAsync(expression).GetAwaiter().GetResult(); }
        catch (ArgumentException e) { throw new CliException(e.Message); }
        using var _ = new AsyncDisposer(opened);
        var events = opened.ReadFeedbackAsync().ToBlockingEnumerable();
        long count;
        try { count = InteractionWriter.Write(path, events); }
        catch (InvalidDataException e) when (e.Message.Contains("no events", StringComparison.Ordinal))
        {
            throw new CliException($"{opened.Description}: holds no feedback yet; nothing written to {path}");
        }
        CliSupport.Note($"wrote {count:N0} events from {opened.Description} to {path}");
        return 0;
    }

    private sealed class AsyncDisposer(IAsyncDisposable inner) : IDisposable
    {
        public void Dispose() => inner.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}
