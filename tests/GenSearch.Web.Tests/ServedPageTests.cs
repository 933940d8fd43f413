using System.Net.Http.Json;
using System.Text.Json;

namespace GenSearch.Web.Tests;

/// <summary>The page's files and GET /model over HTTP, without a browser.</summary>
public sealed class ServedPageTests
{
    [Fact]
    public async Task ThePageAndItsScriptsAreServedFromTheServerAssembly()
    {
        await using var server = await WebServer.StartAsync(WebServer.Sample);
        var index = await server.Http.GetAsync("/");
        Assert.Equal(200, (int)index.StatusCode);
        Assert.Equal("text/html", index.Content.Headers.ContentType?.MediaType);
        string html = await index.Content.ReadAsStringAsync();
        Assert.Contains("<script src=\"app.js\"></script>", html);
        foreach (var file in new[] { "app.js", "charts.js", "style.css" })
        {
            var response = await server.Http.GetAsync("/" + file);
            Assert.Equal(200, (int)response.StatusCode);
            Assert.True((await response.Content.ReadAsByteArrayAsync()).Length > 1000, file);
        }
        Assert.Equal("text/javascript", (await server.Http.GetAsync("/app.js")).Content.Headers.ContentType?.MediaType);
        // No other file is exposed, and the API's 404 stays JSON.
        var missing = await server.Http.GetAsync("/nothing.js");
        Assert.Equal(404, (int)missing.StatusCode);
        Assert.Contains("no endpoint /nothing.js", (await missing.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());
    }

    [Fact]
    public async Task ModelSaysBm25ServesAndHowToTrainAModel()
    {
        await using var server = await WebServer.StartAsync(WebServer.Sample);
        var model = await server.Http.GetFromJsonAsync<JsonElement>("/model");
        Assert.Equal("bm25", model.GetProperty("retriever").GetString());
        Assert.Equal(JsonValueKind.Null, model.GetProperty("model").ValueKind);
        Assert.Equal($"./gensearch train --data {WebServer.Sample} --model unified --out runs/unified, then ./gensearch serve --data {WebServer.Sample} --model runs/unified",
            model.GetProperty("how_to_train").GetString());
    }
}
