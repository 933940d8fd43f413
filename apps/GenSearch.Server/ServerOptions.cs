using Microsoft.Extensions.Logging;

namespace GenSearch.Server;

/// <summary>How <see cref="SearchServer"/> serves; every setting but the data set has a default.</summary>
public sealed record ServerOptions
{
    /// <summary>The BEIR directory whose corpus is the catalog.</summary>
    public required string DataDir { get; init; }
    /// <summary>A model directory from <c>gensearch train</c>; null serves BM25.</summary>
    public string? ModelDir { get; init; }
    /// <summary>What to search with (<c>RetrieverSpec</c>); null: <c>model</c> when a model is given, else <c>bm25</c>.</summary>
    public string? Retriever { get; init; }
    /// <summary>Generative retrieval: beams per query; null: the model's.</summary>
    public int? Beam { get; init; }
    /// <summary>Unified models: code levels, from the last, steered by the items' best similarity; null: the model's config.json.</summary>
    public int? SteeredLevels { get; init; }
    /// <summary>Unified models: directions of the sketch that steers the levels above the last; null: the model's config.json.</summary>
    public int? SketchDirections { get; init; }
    /// <summary>Dense retrieval: an HNSW graph instead of the exact index.</summary>
    public bool Hnsw { get; init; }
    /// <summary>A ranker directory whose ranker reorders the retriever's top <see cref="RerankDepth"/>; null: no reranking.</summary>
    public string? Rerank { get; init; }
    /// <summary>Candidates per query the ranker reorders.</summary>
    public int RerankDepth { get; init; } = 100;
    /// <summary>How a retriever expression of several terms fuses their lists; null: standardised scores, or the ranker's own fusion with <see cref="Rerank"/>.</summary>
    public GenSearch.Retrieval.FusionMethod? Fusion { get; init; }
    /// <summary>
    /// <c>sqlite:PATH</c> or <c>postgres:CONNECTION-STRING</c>; null: an SQLite file named after the
    /// data set under <see cref="DefaultStoreFolder"/>.
    /// </summary>
    public string? Store { get; init; }
    /// <summary>Addresses to listen on; loopback unless an API key is set. Port 0 takes a free port.</summary>
    public IReadOnlyList<string> Urls { get; init; } = [DefaultUrl];
    /// <summary>The key write endpoints require (X-Api-Key or Authorization: Bearer); null: writes are open (loopback only).</summary>
    public string? ApiKey { get; init; }
    /// <summary>Write requests per second per client address (token bucket, bursts of as many); 0: unlimited.</summary>
    public int WritesPerSecond { get; init; } = 1000;
    /// <summary>
    /// Search requests per second per client address; 0 (the default): unlimited. Off by default because
    /// a limiter's bucket is a lock every search would take, and a load test comes from one address.
    /// </summary>
    public int SearchesPerSecond { get; init; }
    /// <summary>
    /// Searches run at once; more wait in line (first come, first served) without holding a thread, so
    /// catalog writes and other requests do not queue behind them for a thread. 0: no limit. Default:
    /// the processor count. Measured (generative, 64 connections, 100 items/s added and 100 removed):
    /// with 4 on 2 cores a PUT took 25 ms at the median (219 ms without a limit), and a new item was first
    /// found at 197 ms (p50) / 373 ms (p99) against 429 / 665 ms. With the beam steered at every level
    /// (searches of 3.2 ms of CPU instead of 2.3), 4 left the writes a PUT median of 356 ms and items first
    /// found at up to 1.22 s; 2 gave 9.5 ms and at most 0.84 s (30 s runs, 2026-12-01).
    /// </summary>
    public int SearchConcurrency { get; init; } = DefaultSearchConcurrency;
    /// <summary>The processor count (at most 1,024): the default of <see cref="SearchConcurrency"/>.</summary>
    public static int DefaultSearchConcurrency => Math.Min(1024, Environment.ProcessorCount);
    /// <summary>Largest request body, except bulk loads (bytes).</summary>
    public long MaxBodyBytes { get; init; } = 1 << 20;
    /// <summary>Largest bulk NDJSON body (bytes).</summary>
    public long MaxBulkBytes { get; init; } = 64L << 20;
    /// <summary>Longest query text (characters); longer is a 400, not a slow search.</summary>
    public int MaxQueryChars { get; init; } = 4096;
    /// <summary>How deep results can be paged (from + size at most this).</summary>
    public int ResultWindow { get; init; } = 100;
    /// <summary>How long shutdown waits for requests in flight.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(15);
    /// <summary>The least level logged (JSON lines on the console); requests themselves are not logged at Information.</summary>
    public LogLevel LogLevel { get; init; } = LogLevel.Information;

    /// <summary>The address <c>gensearch serve</c> listens on by default.</summary>
    public const string DefaultUrl = "http://127.0.0.1:7700";

    /// <summary>Where default SQLite stores live: $GENSEARCH_STORES, else $XDG_DATA_HOME/gensearch/stores, else ~/.local/share/gensearch/stores.</summary>
    public static string DefaultStoreFolder =>
        Environment.GetEnvironmentVariable("GENSEARCH_STORES") is { Length: > 0 } dir ? dir
        : Path.Combine(Environment.GetEnvironmentVariable("XDG_DATA_HOME") is { Length: > 0 } xdg ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "share"), "gensearch", "stores");

    /// <summary>The store expression: <see cref="Store"/>, or the data set's default SQLite file (its folder is created).</summary>
    public static string StoreFor(string? store, string dataDir)
    {
        if (store is not null) return store;
        Directory.CreateDirectory(DefaultStoreFolder);
        string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dataDir)));
        return $"sqlite:{Path.Combine(DefaultStoreFolder, name + ".sqlite")}";
    }
}
