using System.Text.Json;
using System.Text.Json.Serialization;
using System.Threading.RateLimiting;
using GenSearch.Data;
using GenSearch.Retrieval;
using GenSearch.Serving;
using GenSearch.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Prometheus;
using Scalar.AspNetCore;

namespace GenSearch.Server;

/// <summary>
/// The search server: ASP.NET Core minimal APIs over <see cref="CatalogSearch"/> (the retriever an
/// expression opens, as eval and search open it) and an <see cref="ISearchStore"/>. Endpoints:
/// <c>GET|POST /search</c>; <c>PUT|DELETE /items/{id}</c>, <c>POST /items/_bulk</c>, <c>POST /feedback</c>
/// (writes: API key, rate limit); <c>/health/live</c>, <c>/health/ready</c>, <c>/metrics</c> (Prometheus),
/// <c>/openapi/v1.json</c> and its reference page <c>/scalar</c>; <c>GET /model</c> (what serves and its training
/// files) and the web page at <c>/</c> (<see cref="WebPage"/>).
/// <para>
/// Start: open the store, build the catalog, replay the stored changes, then listen, so a server that
/// listens is ready; then follow the changes other servers over the same store commit (replicas over
/// one PostgreSQL database: NOTIFY at each commit; over one SQLite file: a 200 ms poll). Stop: stop taking connections, let requests in flight finish (up to
/// <see cref="ServerOptions.ShutdownTimeout"/>), then close the store; feedback is acknowledged only
/// after its commit, so none that was acknowledged is lost.
/// </para>
/// </summary>
public sealed class SearchServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ISearchStore _store;
    private readonly CancellationTokenSource _stopFollowing;
    private readonly Task _following;
    private bool _disposed;

    private SearchServer(WebApplication app, ISearchStore store, IReadOnlyList<string> urls, CancellationTokenSource stopFollowing, Task following)
    {
        _app = app; _store = store; Urls = urls; _stopFollowing = stopFollowing; _following = following;
    }

    /// <summary>The addresses it listens on (with the port taken when port 0 was asked for).</summary>
    public IReadOnlyList<string> Urls { get; }

    /// <summary>The store's description.</summary>
    public string Store => _store.Description;

    /// <summary>
    /// Opens everything and starts listening. Bad options, a data set or model that cannot be read, a
    /// store that cannot be opened, or an address in use throw before anything listens.
    /// </summary>
    public static async Task<SearchServer> StartAsync(ServerOptions options, CancellationToken cancel = default)
    {
        ApiKey.CheckBinding(options.Urls, options.ApiKey);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "GenSearch.Server" });
        builder.Logging.ClearProviders();
        builder.Logging.AddJsonConsole(o => { o.UseUtcTimestamp = true; o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ"; });
        builder.Logging.SetMinimumLevel(options.LogLevel);
        // Request lines and hosting diagnostics stay below Information, so a load test does not log per request.
        builder.Logging.AddFilter("Microsoft.AspNetCore", options.LogLevel > LogLevel.Warning ? options.LogLevel : LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting", options.LogLevel > LogLevel.Warning ? options.LogLevel : LogLevel.Warning);
        // Refused requests are answered, not failures of the server; ApiErrors logs the 500s itself.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Diagnostics.ExceptionHandlerMiddleware", LogLevel.None);
        builder.WebHost.UseUrls([.. options.Urls]);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = options.MaxBodyBytes;
            // A long query (up to 512 KB of URL) must reach the handler to get a JSON error, not Kestrel's bare 414.
            k.Limits.MaxRequestLineSize = 512 * 1024;
            k.Limits.MaxRequestBufferSize = Math.Max(k.Limits.MaxRequestBufferSize ?? 0, k.Limits.MaxRequestLineSize + 64 * 1024);
        });
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = options.ShutdownTimeout);
        builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        builder.Services.ConfigureHttpJsonOptions(o => Configure(o.SerializerOptions));
        builder.Services.AddOpenApi();
        builder.Services.AddProblemDetails();
        const string WritePolicy = "writes", SearchPolicy = "searches";
        builder.Services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = 429;
            o.OnRejected = async (context, token) =>
            {
                if (context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retry))
                    context.HttpContext.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retry.TotalSeconds)).ToString();
                await context.HttpContext.Response.WriteAsJsonAsync(new ApiError("too many requests from this address; slow down"), token);
            };
            Limit(o, WritePolicy, options.WritesPerSecond);
            Limit(o, SearchPolicy, options.SearchesPerSecond);
        });

        var app = builder.Build();
        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("GenSearch.Server");
        ISearchStore? store = null;
        try
        {
            store = await SearchStores.OpenAsync(ServerOptions.StoreFor(options.Store, options.DataDir), cancel);
            var catalog = OpenCatalog(options, message => log.LogInformation("{Message}", message));
            var registry = Metrics.NewCustomRegistry();
            var metrics = Metrics.WithCustomRegistry(registry);
            var served = new ServedCatalog(catalog, store, metrics);
            int replayed = await served.ReplayAsync(cancel);
            log.LogInformation("store {Store}: replayed {Changes} catalog changes; {Items} items", store.Description, replayed, catalog.Count);
            var size = metrics.CreateGauge("gensearch_catalog_items", "Items in the catalog being served.");
            registry.AddBeforeCollectCallback(() => size.Set(catalog.Count));

            app.UseHttpMetrics(o => o.SetMetricFactory(metrics)); // outside the error handler, so refused requests count with their status
            ApiErrors.Use(app);
            app.UseRateLimiter();
            WebPage.Use(app);
            app.MapOpenApi();
            app.MapScalarApiReference();
            app.MapMetrics("/metrics", registry);
            var api = app.MapGroup("").AddEndpointFilter(ApiErrors.Filter);
            HealthEndpoints.Map(api, served);
            SearchEndpoints.Map(api, served, options, options.SearchesPerSecond > 0 ? SearchPolicy : null);
            ModelEndpoints.Map(api, served, options);
            var writes = api.MapGroup("").AddEndpointFilter(new ApiKey(options.ApiKey));
            if (options.WritesPerSecond > 0) writes.RequireRateLimiting(WritePolicy);
            CatalogEndpoints.Map(writes, served, options);
            FeedbackEndpoints.Map(writes, served);

            await app.StartAsync(cancel);
            var urls = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.ToList();
            log.LogInformation("serving {Retriever} over {Items} items on {Urls}; API reference at {Reference}", catalog.Name, catalog.Count,
                string.Join(", ", urls), urls.FirstOrDefault() + "/scalar");
            app.Lifetime.ApplicationStopped.Register(() => log.LogInformation("stopped: requests in flight finished; closing the store"));
            // Changes other servers over the same store make (replicas) reach this one's catalog.
            var stopFollowing = new CancellationTokenSource();
            var following = Task.Run(() => served.FollowAsync(e => log.LogWarning("following the store's catalog changes failed (retrying in 1 s): {Error}", e.Message),
                stopFollowing.Token));
            return new SearchServer(app, store, urls, stopFollowing, following);
        }
        catch
        {
            await app.DisposeAsync();
            if (store is not null) await store.DisposeAsync();
            throw;
        }
    }

    /// <summary>Runs until the process is told to stop (Ctrl+C, SIGTERM), then shuts down gracefully.</summary>
    public async Task WaitForShutdownAsync()
    {
        await _app.WaitForShutdownAsync();
        await DisposeAsync();
    }

    /// <summary>Stops gracefully: no new connections, requests in flight finish, then the store closes.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        await _app.StopAsync();
        await _app.DisposeAsync();
        await _stopFollowing.CancelAsync();
        await _following;
        _stopFollowing.Dispose();
        await _store.DisposeAsync();
    }

    /// <summary>The JSON the API reads and writes: snake_case names, unknown fields refused (a misspelt field is an error, not ignored).</summary>
    public static void Configure(JsonSerializerOptions json)
    {
        json.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        json.DictionaryKeyPolicy = null;
        json.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
        json.DefaultIgnoreCondition = JsonIgnoreCondition.Never;
        json.NumberHandling = JsonNumberHandling.Strict;
    }

    private static void Limit(RateLimiterOptions o, string policy, int perSecond)
    {
        if (perSecond <= 0) return;
        o.AddPolicy(policy, context => RateLimitPartition.GetTokenBucketLimiter(context.Connection.RemoteIpAddress?.ToString() ?? "", _ =>
            new TokenBucketRateLimiterOptions
            {
                TokenLimit = perSecond, TokensPerPeriod = perSecond, ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                QueueLimit = 0, AutoReplenishment = true,
            }));
    }

    /// <summary>The data set's catalog under the retriever the options name, opened as eval and search open it (k1 and b per data set).</summary>
    private static CatalogSearch OpenCatalog(ServerOptions options, Action<string> note)
    {
        var data = BeirDataset.Open(options.DataDir);
        var spec = RetrieverOpener.Resolve(options.Retriever, options.ModelDir);
        var opened = RetrieverOpener.Open(data, spec, options.ModelDir, new RetrieverOpenOptions
        {
            Model = new ModelOpenOptions { Hnsw = options.Hnsw, BeamSize = options.Beam, SteeredLevels = options.SteeredLevels, SketchDirections = options.SketchDirections },
            Rerank = options.Rerank,
            RerankDepth = options.RerankDepth,
            Fusion = options.Fusion,
            ChooseBm25Scoring = index =>
            {
                var chosen = GenSearch.Training.Bm25Parameters.Choose(data, new Bm25Options(), index, note);
                note($"BM25 k1={chosen.K1.ToString(System.Globalization.CultureInfo.InvariantCulture)}, b={chosen.B.ToString(System.Globalization.CultureInfo.InvariantCulture)}: {chosen.Source}");
                return index.WithScoring(chosen.K1, chosen.B);
            },
            Note = note,
        });
        return new CatalogSearch(opened, data.Corpus(), options.ResultWindow);
    }
}
