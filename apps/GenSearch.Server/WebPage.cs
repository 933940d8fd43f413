using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.FileProviders;

namespace GenSearch.Server;

/// <summary>
/// The web page at <c>/</c> (search, catalog, model): plain HTML, CSS and JavaScript in <c>wwwroot/</c>,
/// embedded in this assembly, so the page is found wherever the server runs from (the CLI's publish
/// folder, a test's output folder) with no content root to set up. It uses the JSON API only.
/// </summary>
internal static class WebPage
{
    public static void Use(WebApplication app)
    {
        var files = new EmbeddedFileProvider(typeof(WebPage).Assembly, "wwwroot");
        app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files });
        app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = files,
            // The files change with the server's build: ask again each time (a 304 when unchanged).
            OnPrepareResponse = context => context.Context.Response.Headers.CacheControl = "no-cache",
        });
    }
}
