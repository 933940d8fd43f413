using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace GenSearch.Server.Tests;

/// <summary>One server for the tests that do not restart it; each test changes only items of its own.</summary>
public sealed class SharedServer : IAsyncLifetime
{
    public TestServer Test { get; private set; } = null!;
    public async Task InitializeAsync() => Test = await TestServer.StartAsync();
    public async Task DisposeAsync() => await Test.DisposeAsync();
}

/// <summary>Every endpoint of the real server over the sample with BM25, and the bad inputs a server meets.</summary>
public sealed class SearchApiTests(SharedServer shared) : IClassFixture<SharedServer>
{
    private TestServer S => shared.Test;

    /// <summary>A word of letters only, new to the catalog (the analyzer splits digits from letters, and single digits match sample titles).</summary>
    private static string Tag() => string.Concat(Guid.NewGuid().ToString("N")[..10].Select(c => (char)('a' + Convert.ToInt32(c.ToString(), 16))));
    private HttpClient Http => shared.Test.Http;

    [Fact]
    public async Task GetAndPostSearchGiveTheSameRankedHitsWithTitlesAndPages()
    {
        var get = await S.Search("hafi bokapa", size: 5);
        var post = await (await Http.PostAsJsonAsync("/search", new { q = "hafi bokapa", size = 5 })).Content.ReadFromJsonAsync<JsonElement>();
        var hits = get.GetProperty("hits").EnumerateArray().ToList();
        Assert.Equal(5, hits.Count);
        Assert.Equal(hits.Select(h => h.GetProperty("id").GetString()), post.GetProperty("hits").EnumerateArray().Select(h => h.GetProperty("id").GetString()));
        Assert.True(get.GetProperty("took_ms").GetDouble() >= 0);
        int total = get.GetProperty("total").GetInt32();
        Assert.True(total >= 5);
        foreach (var hit in hits)
        {
            string title = hit.GetProperty("title").GetString()!;
            Assert.True(title.Contains("hafi", StringComparison.OrdinalIgnoreCase) || title.Contains("bokapa", StringComparison.OrdinalIgnoreCase), title);
            Assert.Equal(JsonValueKind.Null, hit.GetProperty("sid").ValueKind); // BM25 serves: no semantic IDs
        }
        for (int i = 1; i < hits.Count; i++) Assert.True(hits[i - 1].GetProperty("score").GetSingle() >= hits[i].GetProperty("score").GetSingle());
        // Page two continues page one.
        var all = await S.Ids("hafi bokapa", size: 10);
        var second = (await S.Search("hafi bokapa", size: 5, from: 5)).GetProperty("hits").EnumerateArray().Select(h => h.GetProperty("id").GetString()).ToArray();
        Assert.Equal(all.Skip(5).Take(5), second);
    }

    [Fact]
    public async Task ExplainGivesBm25TermContributionsThatAddUpToTheScore()
    {
        var hits = (await S.Search("hafi bokapa", size: 3, explain: true)).GetProperty("hits").EnumerateArray().ToList();
        Assert.NotEmpty(hits);
        foreach (var hit in hits)
        {
            var bm25 = hit.GetProperty("explanation").GetProperty("bm25");
            var terms = bm25.GetProperty("terms").EnumerateArray().ToList();
            Assert.Equal(["hafi", "bokapa"], terms.Select(t => t.GetProperty("term").GetString()));
            Assert.Equal(hit.GetProperty("score").GetDouble(), terms.Sum(t => t.GetProperty("score").GetDouble()), 3);
            Assert.Equal(JsonValueKind.Null, hit.GetProperty("explanation").GetProperty("generative").ValueKind);
        }
        Assert.Equal(JsonValueKind.Null, (await S.Search("hafi", size: 1)).GetProperty("hits")[0].GetProperty("explanation").ValueKind);
    }

    [Fact]
    public async Task AnAddedItemIsFoundWithinASecondAndADeletedOneIsGone()
    {
        string id = "added-" + Tag();
        var started = DateTime.UtcNow;
        var put = await S.Put(id, new { title = "Qwertzu Flimbar lamp", text = "brass" });
        Assert.Equal(201, (int)put.StatusCode);
        string[] found;
        do found = await S.Ids("qwertzu flimbar");
        while (!found.Contains(id) && DateTime.UtcNow - started < TimeSpan.FromSeconds(1));
        Assert.Equal(id, found.FirstOrDefault());
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(1));
        var hit = (await S.Search("qwertzu")).GetProperty("hits")[0];
        Assert.Equal("Qwertzu Flimbar lamp", hit.GetProperty("title").GetString());

        var replaced = await S.Put(id, new { title = "Zorblat lamp" });
        Assert.Equal(200, (int)replaced.StatusCode);
        Assert.Equal("updated", (await replaced.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("result").GetString());
        Assert.DoesNotContain(id, await S.Ids("qwertzu"));
        Assert.Contains(id, await S.Ids("zorblat"));

        var deleted = await Http.DeleteAsync($"/items/{id}");
        Assert.Equal(200, (int)deleted.StatusCode);
        Assert.DoesNotContain(id, await S.Ids("zorblat lamp", 100));
        Assert.Equal(404, (int)(await Http.DeleteAsync($"/items/{id}")).StatusCode);
    }

    [Fact]
    public async Task ABulkLoadWithABadLineIsRefusedByLineNumberAndAppliesNothing()
    {
        string tag = Tag();
        string Good(int i) => JsonSerializer.Serialize(new { id = $"bulk-{tag}-{i}", title = $"Vroomex{tag} drill {i}" });
        string body = string.Join('\n', Good(1), Good(2), "{\"id\": \"x\", \"title\": 5}", "", Good(3), "{not json", $"{{\"delete\": \"no-such-{tag}\"}}");
        var refused = await Http.PostAsync("/items/_bulk", new StringContent(body, Encoding.UTF8, "application/x-ndjson"));
        Assert.Equal(400, (int)refused.StatusCode);
        var error = await refused.Content.ReadFromJsonAsync<JsonElement>();
        Assert.False(error.GetProperty("applied").GetBoolean());
        Assert.Equal([3, 6], error.GetProperty("errors").EnumerateArray().Select(e => e.GetProperty("line").GetInt32()));
        Assert.StartsWith("line 3:", error.GetProperty("error").GetString());
        Assert.Contains("nothing was applied", error.GetProperty("error").GetString());
        Assert.Empty(await S.Ids($"vroomex{tag}"));

        // Lines that parse but delete an unknown item: refused by line number too, nothing applied.
        var unknown = await Http.PostAsync("/items/_bulk", new StringContent(string.Join('\n', Good(1), $"{{\"delete\": \"no-such-{tag}\"}}"), Encoding.UTF8));
        Assert.Equal(400, (int)unknown.StatusCode);
        Assert.Equal(2, (await unknown.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors")[0].GetProperty("line").GetInt32());
        Assert.Empty(await S.Ids($"vroomex{tag}"));

        // All good: every line applied, in order (put 1..3, then delete 2).
        var ok = await Http.PostAsync("/items/_bulk", new StringContent(string.Join('\n', Good(1), Good(2), Good(3), $"{{\"delete\": \"bulk-{tag}-2\"}}") + "\n", Encoding.UTF8));
        Assert.Equal(200, (int)ok.StatusCode);
        var done = await ok.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(done.GetProperty("applied").GetBoolean());
        Assert.Equal(4, done.GetProperty("lines").GetInt32());
        Assert.Equal(2, done.GetProperty("added").GetInt32());
        Assert.Equal([$"bulk-{tag}-1", $"bulk-{tag}-3"], (await S.Ids($"vroomex{tag}")).Order());
    }

    public static TheoryData<string, string, string?, int> BadRequests => new()
    {
        { "GET", "/search?q=", null, 400 },
        { "GET", "/search?q=%20%20", null, 400 },
        { "GET", "/search", null, 400 },
        { "GET", "/search?q=" + new string('a', 100 * 1024), null, 400 },
        { "GET", "/search?q=%FF%FEdrill", null, 400 },
        { "GET", "/search?q=%C3%28", null, 400 },
        { "GET", "/search?q=drill&size=0", null, 400 },
        { "GET", "/search?q=drill&size=abc", null, 400 },
        { "GET", "/search?q=drill&from=-1", null, 400 },
        { "GET", "/search?q=drill&from=999&size=10", null, 400 },
        { "GET", "/search?q=drill&explain=maybe", null, 400 },
        { "POST", "/search", "{\"q\": \"drill\"", 400 },
        { "POST", "/search", "{\"q\": 5}", 400 },
        { "POST", "/search", "{\"q\": \"drill\", \"size\": \"ten\"}", 400 },
        { "POST", "/search", "{\"q\": \"drill\", \"sise\": 3}", 400 },
        { "POST", "/search", "[1, 2]", 400 },
        { "POST", "/search", "", 400 },
        { "POST", "/search", "{\"q\": \"" + new string('a', 100 * 1024) + "\"}", 400 },
        { "PUT", "/items/x1", "{\"text\": \"no title\"}", 400 },
        { "PUT", "/items/x1", "{\"title\": [\"a\"]}", 400 },
        { "PUT", "/items/x1", "not json", 400 },
        { "PUT", "/items/x1", "{\"title\": \"" + new string('a', 1100 * 1024) + "\"}", 413 },
        { "DELETE", "/items/no-such-item", null, 404 },
        { "POST", "/feedback", "{\"query\": \"drill\"}", 400 },
        { "POST", "/feedback", "{\"user\": \"u\", \"query\": \"drill\", \"signals\": {\"click\": \"yes\"}}", 400 },
        { "POST", "/feedback", "{\"user\": \"u\", \"query\": \"drill\", \"ts\": \"yesterday\"}", 400 },
        { "POST", "/items/_bulk", "", 400 },
        { "GET", "/no-such-endpoint", null, 404 },
        { "PATCH", "/search?q=drill", null, 405 },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task BadInputGetsA4xxWithAJsonErrorAndTheServerGoesOn(string method, string path, string? body, int status)
    {
        var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (body is not null) request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        // A body over the limit is refused from its Content-Length, before it is read, and the connection
        // closes behind the answer: a client still writing the body can meet a broken pipe instead of the
        // 413 (seen once in about ten CI runs). Asking to continue first is how a client sends a large body.
        if (status == 413) request.Headers.ExpectContinue = true;
        var response = await Http.SendAsync(request);
        Assert.Equal(status, (int)response.StatusCode);
        Assert.StartsWith("application/json", response.Content.Headers.ContentType?.MediaType);
        var error = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("error").GetString()));
        Assert.DoesNotContain("   at ", error.GetProperty("error").GetString()); // no stack trace
        Assert.Equal(200, (int)(await Http.GetAsync("/health/live")).StatusCode);
    }

    [Fact]
    public async Task InvalidUtf8InAJsonBodyIsA400()
    {
        byte[] bytes = [.. "{\"q\": \"dr"u8.ToArray(), 0xFF, 0xFE, .. "ill\"}"u8.ToArray()];
        var response = await Http.PostAsync("/search", new ByteArrayContent(bytes) { Headers = { ContentType = new("application/json") } });
        Assert.Equal(400, (int)response.StatusCode);
        Assert.Contains("JSON", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());
        var bulk = await Http.PostAsync("/items/_bulk", new ByteArrayContent([.. "{\"id\": \"u1\", \"title\": \"a"u8.ToArray(), 0xC3, 0x28, .. "\"}"u8.ToArray()]));
        Assert.Equal(400, (int)bulk.StatusCode);
        Assert.Equal(1, (await bulk.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors")[0].GetProperty("line").GetInt32());
    }

    [Fact]
    public async Task HealthMetricsAndTheOpenApiDocumentAnswer()
    {
        Assert.Equal("live", (await Http.GetFromJsonAsync<JsonElement>("/health/live")).GetProperty("status").GetString());
        var ready = await Http.GetFromJsonAsync<JsonElement>("/health/ready");
        Assert.Equal("ready", ready.GetProperty("status").GetString());
        Assert.Equal("bm25", ready.GetProperty("retriever").GetString());
        Assert.True(ready.GetProperty("catalog_size").GetInt32() >= 193);

        await S.Search("hafi");
        await Http.GetAsync("/search?q=");
        string metrics = await Http.GetStringAsync("/metrics");
        Assert.Contains("http_requests_received_total{code=\"200\",method=\"GET\",controller=\"\",action=\"\",endpoint=\"/search\"}", metrics);
        Assert.Contains("http_requests_received_total{code=\"400\",method=\"GET\",controller=\"\",action=\"\",endpoint=\"/search\"}", metrics);
        Assert.Contains("http_request_duration_seconds_bucket{", metrics);
        Assert.Matches(@"gensearch_catalog_items \d+", metrics);
        Assert.Contains("gensearch_feedback_written_total", metrics);

        var openapi = await Http.GetFromJsonAsync<JsonElement>("/openapi/v1.json");
        var paths = openapi.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToHashSet();
        foreach (var path in new[] { "/search", "/items/{id}", "/items/_bulk", "/feedback", "/health/live", "/health/ready" }) Assert.Contains(path, paths);
        var page = await Http.GetAsync("/scalar");
        Assert.Equal(200, (int)page.StatusCode);
        Assert.Contains("<html", await page.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task SearchesRunWhileTheCatalogChanges()
    {
        string tag = Tag();
        using var stop = new CancellationTokenSource();
        var searches = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            int n = 0;
            while (!stop.IsCancellationRequested) { await S.Search("hafi bokapa"); n++; }
            return n;
        })).ToArray();
        for (int i = 0; i < 40; i++)
        {
            Assert.Equal(201, (int)(await S.Put($"c-{tag}-{i}", new { title = $"Glimmo{tag} item {i}" })).StatusCode);
            if (i % 2 == 1) Assert.Equal(200, (int)(await Http.DeleteAsync($"/items/c-{tag}-{i}")).StatusCode);
        }
        stop.Cancel();
        Assert.All(await Task.WhenAll(searches), n => Assert.True(n > 0));
        var ids = await S.Ids($"glimmo{tag}", 100);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"c-{tag}-{2 * i}").Order(), ids.Order());
    }
}
