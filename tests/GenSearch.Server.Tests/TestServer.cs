using System.Net.Http.Json;
using System.Text.Json;
using GenSearch.Storage;
using Microsoft.Extensions.Logging;

namespace GenSearch.Server.Tests;

/// <summary>A server on a free loopback port over the sample, and an HTTP client for it.</summary>
public sealed class TestServer : IAsyncDisposable
{
    public static readonly string Sample = Path.Combine(AppContext.BaseDirectory, "Data", "homedepot-sample");

    public SearchServer Server { get; }
    public HttpClient Http { get; }
    public string StoreExpression { get; }

    private TestServer(SearchServer server, string store)
    {
        Server = server; StoreExpression = store;
        Http = new HttpClient { BaseAddress = new Uri(server.Urls[0]) };
    }

    /// <summary>A new SQLite store in a temporary file.</summary>
    public static string NewSqliteStore()
    {
        return "sqlite:" + GenSearch.Tests.TestTemp.File("store.db");
    }

    public static async Task<TestServer> StartAsync(string? store = null, Func<ServerOptions, ServerOptions>? configure = null)
    {
        store ??= NewSqliteStore();
        var options = new ServerOptions { DataDir = Sample, Store = store, Urls = ["http://127.0.0.1:0"], LogLevel = LogLevel.Warning };
        if (configure is not null) options = configure(options);
        return new TestServer(await SearchServer.StartAsync(options), store);
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
    }

    public static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public async Task<JsonElement> Search(string q, int size = 10, int from = 0, bool explain = false)
    {
        var response = await Http.GetAsync($"/search?q={Uri.EscapeDataString(q)}&size={size}&from={from}&explain={explain}");
        Assert.Equal(200, (int)response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    public async Task<string[]> Ids(string q, int size = 10) => [.. (await Search(q, size)).GetProperty("hits").EnumerateArray().Select(h => h.GetProperty("id").GetString()!)];

    public Task<HttpResponseMessage> Put(string id, object body) => Http.PutAsJsonAsync($"/items/{Uri.EscapeDataString(id)}", body);
}

/// <summary>
/// A PostgreSQL database for one test: run-tests starts a throwaway server and passes its connection
/// string in GENSEARCH_TEST_POSTGRES (see scripts/test-postgres.sh). Without it the test fails, unless
/// GENSEARCH_SKIP_POSTGRES=1 (a machine without PostgreSQL; CI never sets it), when it returns null.
/// </summary>
public static class TestPostgres
{
    public static async Task<string?> NewStoreAsync()
    {
        string? admin = Environment.GetEnvironmentVariable("GENSEARCH_TEST_POSTGRES");
        if (string.IsNullOrEmpty(admin))
        {
            if (Environment.GetEnvironmentVariable("GENSEARCH_SKIP_POSTGRES") == "1") return null;
            throw new InvalidOperationException("the PostgreSQL tests need a server: GENSEARCH_TEST_POSTGRES is not set " +
                                                "(./run-tests starts one; set GENSEARCH_SKIP_POSTGRES=1 to skip them on a machine without PostgreSQL)");
        }
        string name = "gs_" + Guid.NewGuid().ToString("N");
        await using (var source = Npgsql.NpgsqlDataSource.Create(admin))
        await using (var command = source.CreateCommand($"CREATE DATABASE {name}"))
            await command.ExecuteNonQueryAsync();
        return SearchStores.PostgresPrefix + new Npgsql.NpgsqlConnectionStringBuilder(admin) { Database = name };
    }
}
