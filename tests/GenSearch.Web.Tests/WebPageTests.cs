using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using GenSearch.Storage;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace GenSearch.Web.Tests;

/// <summary>The page in headless Chromium against the real server: what a user does, checked through the page and the server.</summary>
public sealed class WebPageTests(Chromium chromium, TinyModel tinyModel) : IClassFixture<Chromium>, IClassFixture<TinyModel>
{
    /// <summary>Where screenshots go: the test's output folder, and also GENSEARCH_SCREENSHOTS when set (scripts/screenshot.sh sets it to docs/).</summary>
    private static async Task Screenshot(IPage page, string name)
    {
        string path = Path.Combine(AppContext.BaseDirectory, name);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        Assert.True(new FileInfo(path).Length > 10_000, $"{path}: the screenshot is nearly empty");
        if (Environment.GetEnvironmentVariable("GENSEARCH_SCREENSHOTS") is { Length: > 0 } dir) File.Copy(path, Path.Combine(dir, name), overwrite: true);
    }

    [Fact]
    public async Task SearchPagingClickFeedbackCatalogAndTheBm25ModelPage()
    {
        await using var server = await WebServer.StartAsync(WebServer.Sample);
        var (page, errors) = await chromium.NewPageAsync();
        await page.GotoAsync(server.Url + "/");

        // Search: ten hits with titles, the page line, nothing to page back to.
        await page.FillAsync("#q", "hafi bokapa");
        await page.PressAsync("#q", "Enter");
        var hits = page.Locator("#results li.hit");
        await Expect(hits).ToHaveCountAsync(10);
        var expected = await server.Http.GetFromJsonAsync<JsonElement>("/search?q=hafi%20bokapa&size=20");
        var ids = expected.GetProperty("hits").EnumerateArray().Select(h => h.GetProperty("id").GetString()!).ToArray();
        int total = expected.GetProperty("total").GetInt32();
        Assert.True(total > 10, $"the sample gives {total} results; paging needs more than 10");
        Assert.Equal(ids[..10], await hits.EvaluateAllAsync<string[]>("els => els.map(e => e.dataset.id)"));
        await Expect(hits.First.Locator("a.title")).ToHaveTextAsync(expected.GetProperty("hits")[0].GetProperty("title").GetString()!);
        await Expect(page.Locator("#page-info")).ToHaveTextAsync($"1–10 of {total}");
        await Expect(page.Locator("#prev")).ToBeDisabledAsync();
        await Expect(hits.First.Locator(".sid")).ToHaveCountAsync(0); // BM25 serves: no semantic IDs

        // BM25's explanation on demand: each query term's part.
        await hits.First.Locator("button.why").ClickAsync();
        await Expect(hits.First.Locator(".explanation table tbody tr")).ToHaveCountAsync(2);
        await Expect(hits.First.Locator(".explanation")).ToContainTextAsync("hafi");

        // Page forward: the API's second page, then back.
        await page.ClickAsync("#next");
        await Expect(page.Locator("#page-info")).ToHaveTextAsync(new Regex("^11–"));
        Assert.Equal(ids[10..Math.Min(20, ids.Length)], await hits.EvaluateAllAsync<string[]>("els => els.map(e => e.dataset.id)"));
        Assert.Contains("from=10", page.Url);

        // A click on a title is logged as feedback, committed in the store when the page says so.
        var clicked = hits.Last;
        string clickedId = (await clicked.GetAttributeAsync("data-id"))!;
        await clicked.Locator("a.title").ClickAsync();
        await Expect(page.Locator("#toast")).ToHaveTextAsync($"Click on {clickedId} logged as feedback");
        await Expect(clicked).ToHaveClassAsync(new Regex("clicked"));
        await using (var store = await SearchStores.OpenAsync(server.Store))
        {
            var events = await store.ReadFeedbackAsync().ToListAsync();
            var click = Assert.Single(events);
            Assert.Equal(clickedId, click.Item);
            Assert.Equal("hafi bokapa", click.Query);
            Assert.Equal(1, click.Signals["click"]);
            Assert.Equal(Math.Min(20, ids.Length), click.Signals["position"]);
            Assert.StartsWith("web-", click.User);
        }

        // The catalog page: an item added is found by searching for it at once, first.
        await page.ClickAsync("nav a[data-view=catalog]");
        await page.FillAsync("#item-id", "web-lamp-1");
        await page.FillAsync("#item-title", "Quorvex Zindle brass lamp");
        await page.ClickAsync("#item-form button[type=submit]");
        await Expect(page.Locator("#item-status")).ToContainTextAsync("Item web-lamp-1 created");
        await Expect(page.Locator("#item-results li.hit").First).ToHaveAttributeAsync("data-id", "web-lamp-1");
        await Expect(page.Locator("#item-results li.hit.fresh")).ToHaveCountAsync(1);
        await Expect(page.Locator("#item-found-heading")).ToContainTextAsync("finds it at rank 1");
        // ... and from the search page too; then removed, it is gone.
        await page.GotoAsync(server.Url + "/#search?q=quorvex&from=0");
        await Expect(hits.First).ToHaveAttributeAsync("data-id", "web-lamp-1");
        await page.ClickAsync("nav a[data-view=catalog]");
        await page.FillAsync("#delete-id", "web-lamp-1");
        await page.ClickAsync("#delete-form button[type=submit]");
        await Expect(page.Locator("#delete-status")).ToContainTextAsync("Item web-lamp-1 removed");
        Assert.Equal(0, (await server.Http.GetFromJsonAsync<JsonElement>("/search?q=quorvex")).GetProperty("total").GetInt32());

        // The model page when BM25 serves: says so, and how to train a model; no charts.
        await page.ClickAsync("nav a[data-view=model]");
        await Expect(page.Locator("#model-summary")).ToContainTextAsync("BM25 serves");
        await Expect(page.Locator("#model-summary code")).ToContainTextAsync("./gensearch train --data");
        await Expect(page.Locator("#model-summary code")).ToContainTextAsync("--model unified --out runs/unified");
        await Expect(page.Locator("#chart-loss svg")).ToHaveCountAsync(0);
        Assert.Empty(errors);
    }

    [Fact]
    public async Task WritesNeedTheKeyTypedIntoThePage()
    {
        await using var server = await WebServer.StartAsync(WebServer.Sample, apiKey: "s3cret-key");
        var (page, errors) = await chromium.NewPageAsync();
        await page.GotoAsync(server.Url + "/#catalog");
        await page.FillAsync("#item-id", "keyed-1");
        await page.FillAsync("#item-title", "Blorptex hinge");
        await page.ClickAsync("#item-form button[type=submit]");
        await Expect(page.Locator("#item-status")).ToContainTextAsync("needs the API key");
        await Expect(page.Locator("#item-status")).ToContainTextAsync("enter the server's API key");
        // The key typed once is kept in the browser and sent with writes.
        await page.FillAsync("#api-key", "s3cret-key");
        await page.Locator("#api-key").DispatchEventAsync("change");
        await page.ClickAsync("#item-form button[type=submit]");
        await Expect(page.Locator("#item-status")).ToContainTextAsync("Item keyed-1 created");
        await page.ReloadAsync();
        await Expect(page.Locator("#api-key")).ToHaveValueAsync("s3cret-key");
        errors.RemoveAll(e => e.Contains("401", StringComparison.Ordinal)); // the browser logs the refused request itself
        Assert.Empty(errors);
    }

    [Fact]
    public async Task AGenerativeModelShowsSidPathsAndItsTrainingCharts()
    {
        var model = tinyModel;
        await using var server = await WebServer.StartAsync(model.DataDir, model.ModelDir, retriever: "bm25+model");
        var (page, errors) = await chromium.NewPageAsync();
        await page.GotoAsync(server.Url + "/");
        await page.FillAsync("#q", "hafi bokapa");
        await page.PressAsync("#q", "Enter");
        var hits = page.Locator("#results li.hit");
        await Expect(hits).ToHaveCountAsync(10);
        // Every hit of a generative model's catalog carries its SID: two levels and the collision token.
        var sids = await page.Locator("#results .sid").AllTextContentsAsync();
        Assert.Equal(10, sids.Count);
        Assert.All(sids, s => Assert.Matches(@"^SID \d+-\d+-\d+$", s));
        string first = (await hits.First.GetAttributeAsync("data-id"))!;
        var api = await server.Http.GetFromJsonAsync<JsonElement>("/search?q=hafi%20bokapa&size=1");
        Assert.Equal("SID " + api.GetProperty("hits")[0].GetProperty("sid").GetString(), sids[0]);
        Assert.Equal(api.GetProperty("hits")[0].GetProperty("id").GetString(), first);
        // Explain: the SID path level by level, and BM25's terms.
        await hits.First.Locator("button.why").ClickAsync();
        await Expect(hits.First.Locator(".explanation")).ToContainTextAsync("SID path");
        await Expect(hits.First.Locator(".explanation table").First.Locator("tbody tr")).ToHaveCountAsync(3);
        await Screenshot(page, "screenshot.png");

        // The model page: kind, curves for the total and each loss part, codebook health, recall against beam size.
        await page.ClickAsync("nav a[data-view=model]");
        await Expect(page.Locator("#model-summary")).ToContainTextAsync("two-stage");
        var log = GenSearch.Nn.TrainingLog.Read(Path.Combine(model.ModelDir, "training-log.tsv"));
        foreach (var series in new[] { "total" }.Concat(log.Parts))
            await Expect(page.Locator($"#chart-loss path[data-series='{series}']")).ToHaveCountAsync(1);
        string d = (await page.Locator("#chart-loss path[data-series=total]").GetAttributeAsync("d"))!;
        Assert.Equal(log.Rows.Count, d.Count(c => c is 'M' or 'L')); // a short log: one point per step
        // Utilisation per level (2 levels) plus churn and collision lines; largest bucket and perplexity bars per level.
        await Expect(page.Locator("#chart-codebook path[data-series^='utilisation']")).ToHaveCountAsync(2);
        await Expect(page.Locator("#chart-codebook rect[data-series^='largest bucket']")).ToHaveCountAsync(2);
        await Expect(page.Locator("#chart-codebook rect[data-series^='largest bucket'] title").First).ToHaveTextAsync(new Regex(": 31$"));
        await Expect(page.Locator("#chart-beam path[data-series='Recall@10']")).ToHaveCountAsync(1);
        await Expect(page.Locator("#chart-beam circle")).ToHaveCountAsync(6);
        await Screenshot(page, "model-page.png");

        // Without beam-recall.tsv the chart says it was not measured; with health.md only, its table is drawn.
        File.Move(Path.Combine(model.ModelDir, "beam-recall.tsv"), Path.Combine(model.Root, "beam-recall.tsv"));
        File.Move(Path.Combine(model.ModelDir, "codebook-health.tsv"), Path.Combine(model.Root, "codebook-health.tsv"));
        try
        {
            await page.ReloadAsync();
            await Expect(page.Locator("#chart-beam")).ToContainTextAsync("not measured");
            await Expect(page.Locator("#chart-codebook")).ToContainTextAsync("health.md");
            await Expect(page.Locator("#chart-codebook rect[data-series^='utilisation']")).ToHaveCountAsync(2);
            // A unified model's log has named loss parts: each is drawn, a part missing on a step leaves a gap.
            File.Copy(Path.Combine(model.ModelDir, "training-log.tsv"), Path.Combine(model.Root, "training-log.tsv"), overwrite: true);
            File.WriteAllText(Path.Combine(model.ModelDir, "training-log.tsv"), "step\tepoch\tlr\ttotal\tcontrast\tvq\tntp\texamples_per_s\n" +
                "1\t0\t0.01\t3.0\t1.0\t0.5\t1.5\t100.0\n2\t0\t0.02\t2.5\t0.9\t\t1.6\t100.0\n3\t1\t0.02\t2.0\t0.7\t0.3\t1.0\t100.0\n");
            await page.ReloadAsync();
            foreach (var (series, points) in new[] { ("total", 3), ("contrast", 3), ("vq", 2), ("ntp", 3) })
            {
                string path = (await page.Locator($"#chart-loss path[data-series='{series}']").GetAttributeAsync("d"))!;
                Assert.Equal(points, path.Count(c => c is 'M' or 'L'));
            }
            Assert.Equal(2, (await page.Locator("#chart-loss path[data-series=vq]").GetAttributeAsync("d"))!.Count(c => c == 'M')); // the gap
            File.Copy(Path.Combine(model.Root, "training-log.tsv"), Path.Combine(model.ModelDir, "training-log.tsv"), overwrite: true);
            // A training file that cannot be read is named with its line; the rest is still drawn.
            File.WriteAllText(Path.Combine(model.ModelDir, "beam-recall.tsv"), "beam\trecall_at_10\trecall_at_100\n1\t0.2\t0.3\n5\tx\t0.4\n");
            await page.ReloadAsync();
            await Expect(page.Locator("#model-problems")).ToContainTextAsync("beam-recall.tsv:3: 'x' is not a finite number");
            await Expect(page.Locator("#chart-loss path[data-series=total]")).ToHaveCountAsync(1);
        }
        finally
        {
            File.Move(Path.Combine(model.Root, "beam-recall.tsv"), Path.Combine(model.ModelDir, "beam-recall.tsv"), overwrite: true);
            File.Move(Path.Combine(model.Root, "codebook-health.tsv"), Path.Combine(model.ModelDir, "codebook-health.tsv"));
        }
        Assert.Empty(errors);
    }
}
