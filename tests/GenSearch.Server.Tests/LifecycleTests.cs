using System.Net.Http.Json;
using System.Text.Json;
using GenSearch.Data;
using GenSearch.Storage;

namespace GenSearch.Server.Tests;

/// <summary>What needs its own server: restarts over each store, keys, limits, binding, shutdown under load.</summary>
public sealed class LifecycleTests
{
    public static TheoryData<string> Stores => new() { "sqlite", "postgres" };

    private static async Task<string?> NewStore(string kind) => kind == "sqlite" ? TestServer.NewSqliteStore() : await TestPostgres.NewStoreAsync();

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task CatalogChangesAndAcknowledgedFeedbackSurviveARestart(string kind)
    {
        if (await NewStore(kind) is not { } store) return; // GENSEARCH_SKIP_POSTGRES=1 only
        await using (var first = await TestServer.StartAsync(store))
        {
            Assert.Equal(201, (int)(await first.Put("kept-1", new { title = "Plonkity kettle" })).StatusCode);
            Assert.Equal(201, (int)(await first.Put("gone-1", new { title = "Plonkity pan" })).StatusCode);
            Assert.Equal(200, (int)(await first.Http.DeleteAsync("/items/gone-1")).StatusCode);
            Assert.Equal(200, (int)(await first.Http.DeleteAsync("/items/100011")).StatusCode); // an item of the data set
            for (int i = 0; i < 10; i++)
            {
                var ack = await first.Http.PostAsJsonAsync("/feedback", new { user = $"u{i}", query = "plonkity", item = i % 2 == 0 ? "kept-1" : null,
                    signals = new Dictionary<string, object> { ["click"] = i % 2 == 0, ["dwell_s"] = i * 1.5 }, ts = 1_700_000_000 + i });
                Assert.Equal(201, (int)ack.StatusCode);
            }
        }
        await using (var second = await TestServer.StartAsync(store))
        {
            Assert.Equal(["kept-1"], await second.Ids("plonkity"));
            Assert.Equal("Plonkity kettle", (await second.Search("plonkity")).GetProperty("hits")[0].GetProperty("title").GetString());
            Assert.DoesNotContain("100011", await second.Ids("boze gesige bohata", 100));
            Assert.Equal(192 + 1, (await second.Http.GetFromJsonAsync<JsonElement>("/health/ready")).GetProperty("catalog_size").GetInt32());
        }
        // The log as training reads it.
        await using var opened = await SearchStores.OpenAsync(store);
        string path = Path.Combine(Path.GetTempPath(), $"interactions-{Guid.NewGuid():N}.jsonl");
        try
        {
            InteractionWriter.Write(path, await opened.ReadFeedbackAsync().ToListAsync());
            var log = InteractionReader.Read(path).ToList();
            Assert.Equal(10, log.Count);
            Assert.Equal(Enumerable.Range(0, 10).Select(i => $"u{i}"), log.Select(e => e.User));
            Assert.Equal("kept-1", log[0].Item);
            Assert.Null(log[1].Item);
            Assert.Equal(1.0, log[0].Signals["click"]);
            Assert.Equal(13.5, log[9].Signals["dwell_s"]);
            Assert.Equal(1_700_000_009, log[9].Timestamp);
        }
        finally { File.Delete(path); }
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task ACatalogChangeThroughOneReplicaReachesTheOther(string kind)
    {
        if (await NewStore(kind) is not { } store) return; // GENSEARCH_SKIP_POSTGRES=1 only
        await using var a = await TestServer.StartAsync(store);
        await using var b = await TestServer.StartAsync(store);
        Assert.Equal(201, (int)(await a.Put("replica-1", new { title = "Zworbel grinder" })).StatusCode);
        // PostgreSQL tells b at the commit; SQLite is polled every 200 ms. The bench measures the lag
        // (bench/run serve); here the deadline is generous for a loaded machine, and still far below
        // what a follower that never followed would need (forever).
        Assert.Equal(["replica-1"], await Eventually(() => b.Ids("zworbel"), ids => ids.Length == 1));
        Assert.Equal(200, (int)(await b.Http.DeleteAsync("/items/replica-1")).StatusCode);
        Assert.Empty(await Eventually(() => a.Ids("zworbel"), ids => ids.Length == 0));
        // b's delete came after a's put in commit order, so a third server replays them so.
        await using var c = await TestServer.StartAsync(store);
        Assert.Empty(await c.Ids("zworbel"));
    }

    private static async Task<T> Eventually<T>(Func<Task<T>> get, Func<T, bool> done)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var value = await get();
            if (done(value) || clock.Elapsed > TimeSpan.FromSeconds(30)) return value;
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task NoAcknowledgedFeedbackIsLostWhenTheServerStopsDuringABurst()
    {
        string store = TestServer.NewSqliteStore();
        var server = await TestServer.StartAsync(store);
        using var http = new HttpClient { BaseAddress = server.Http.BaseAddress };
        var acknowledged = new System.Collections.Concurrent.ConcurrentBag<string>();
        var senders = Enumerable.Range(0, 8).Select(s => Task.Run(async () =>
        {
            for (int i = 0; ; i++)
            {
                string user = $"s{s}-{i}";
                try
                {
                    var r = await http.PostAsJsonAsync("/feedback", new { user, query = "burst" });
                    if ((int)r.StatusCode == 201) acknowledged.Add(user);
                }
                catch (HttpRequestException) { return; } // the server has gone
                catch (TaskCanceledException) { return; }
            }
        })).ToArray();
        while (acknowledged.Count < 50) await Task.Delay(5);
        await server.DisposeAsync(); // graceful: requests in flight finish, then the store closes
        await Task.WhenAll(senders);
        await using var opened = await SearchStores.OpenAsync(store);
        var stored = (await opened.ReadFeedbackAsync().ToListAsync()).Select(e => e.User).ToHashSet();
        Assert.True(acknowledged.Count >= 50);
        Assert.All(acknowledged, user => Assert.Contains(user, stored));
    }

    [Fact]
    public async Task WriteEndpointsNeedTheKeyWhenOneIsSetAndSearchDoesNot()
    {
        await using var s = await TestServer.StartAsync(configure: o => o with { ApiKey = "s3cret" });
        var none = await s.Put("k1", new { title = "keyed" });
        Assert.Equal(401, (int)none.StatusCode);
        Assert.Contains("API key", (await none.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());
        var wrong = new HttpRequestMessage(HttpMethod.Post, "/feedback") { Content = JsonContent.Create(new { user = "u", query = "q" }) };
        wrong.Headers.Add("X-Api-Key", "guess");
        Assert.Equal(401, (int)(await s.Http.SendAsync(wrong)).StatusCode);
        var bulk = new HttpRequestMessage(HttpMethod.Post, "/items/_bulk") { Content = new StringContent("{\"id\": \"k2\", \"title\": \"keyed\"}") };
        Assert.Equal(401, (int)(await s.Http.SendAsync(bulk)).StatusCode);
        Assert.Equal(401, (int)(await s.Http.DeleteAsync("/items/100011")).StatusCode);
        Assert.Empty(await s.Ids("keyed"));

        var header = new HttpRequestMessage(HttpMethod.Put, "/items/k1") { Content = JsonContent.Create(new { title = "keyed" }) };
        header.Headers.Add("X-Api-Key", "s3cret");
        Assert.Equal(201, (int)(await s.Http.SendAsync(header)).StatusCode);
        var bearer = new HttpRequestMessage(HttpMethod.Post, "/feedback") { Content = JsonContent.Create(new { user = "u", query = "keyed", item = "k1" }) };
        bearer.Headers.Authorization = new("Bearer", "s3cret");
        Assert.Equal(201, (int)(await s.Http.SendAsync(bearer)).StatusCode);
        Assert.Equal(["k1"], await s.Ids("keyed"));
    }

    [Theory]
    [InlineData("http://0.0.0.0:0")]
    [InlineData("http://192.168.1.20:7700")]
    [InlineData("http://*:7700")]
    public async Task ListeningBeyondLoopbackWithoutAKeyIsRefused(string url)
    {
        var e = await Assert.ThrowsAsync<ArgumentException>(() => TestServer.StartAsync(configure: o => o with { Urls = [url] }));
        Assert.Contains("--api-key", e.Message);
    }

    [Fact]
    public async Task WritesOverTheRateLimitGetA429WithAJsonError()
    {
        await using var s = await TestServer.StartAsync(configure: o => o with { WritesPerSecond = 3 });
        var codes = new List<int>();
        HttpResponseMessage? refused = null;
        for (int i = 0; i < 10; i++)
        {
            var r = await s.Http.PostAsJsonAsync("/feedback", new { user = "u", query = "q" });
            codes.Add((int)r.StatusCode);
            if ((int)r.StatusCode == 429) refused ??= r;
        }
        Assert.Contains(201, codes);
        Assert.NotNull(refused);
        Assert.Contains("too many", (await refused!.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());
        Assert.Equal(200, (int)(await s.Http.GetAsync("/search?q=hafi")).StatusCode); // searches are not limited by default
    }
}
