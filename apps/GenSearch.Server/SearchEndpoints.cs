using GenSearch.Serving;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace GenSearch.Server;

/// <summary>POST /search's body: the same fields as GET /search's query string.</summary>
/// <param name="Q">The query text.</param>
/// <param name="User">Who searches (personalised retrievers read it).</param>
/// <param name="Size">Results on the page (default 10).</param>
/// <param name="From">Results skipped (default 0).</param>
/// <param name="Explain">Whether each hit says why it scored so.</param>
public sealed record SearchRequest(string? Q, string? User = null, int? Size = null, int? From = null, bool? Explain = null);

/// <summary>One result.</summary>
/// <param name="Id">The item's id.</param>
/// <param name="Score">The retriever's score (higher is better; a log-probability for generative retrieval, a fused rank score for fusion).</param>
/// <param name="Title">The item's title.</param>
/// <param name="Sid">The item's semantic ID (codes per level, '-'-joined) when a generative model serves; else null.</param>
/// <param name="Explanation">With explain: BM25's terms and the generative SID path with each level's log-probability.</param>
public sealed record SearchHitResponse(string Id, float Score, string Title, string? Sid, HitExplanation? Explanation);

/// <summary>A page of results.</summary>
/// <param name="TookMs">Time the search took in the server, milliseconds.</param>
/// <param name="Total">Results there are to page through (at most the result window).</param>
/// <param name="Hits">This page's results, best first.</param>
public sealed record SearchResponse(double TookMs, int Total, IReadOnlyList<SearchHitResponse> Hits);

/// <summary>GET and POST /search.</summary>
internal static class SearchEndpoints
{
    public static void Map(IEndpointRouteBuilder app, ServedCatalog served, ServerOptions options, string? rateLimitPolicy)
    {
        var gate = options.SearchConcurrency > 0 ? new SemaphoreSlim(options.SearchConcurrency) : null;
        var get = app.MapGet("/search", (HttpContext context, string? q, string? user, int? size, int? from, bool? explain) =>
            {
                if (!QueryText.IsValidUtf8(context.Request.QueryString.Value))
                    throw new ApiException(400, "the query string is not valid UTF-8 (percent-escapes must encode UTF-8 bytes)");
                return Search(gate, served.Catalog, options, new SearchRequest(q, user, size, from, explain), context.RequestAborted);
            })
            .WithName("SearchGet").WithSummary("Search the catalog")
            .WithDescription("q: query text; user: who searches; size (default 10), from (default 0): the page; explain: why each hit scored so.")
            .Produces<SearchResponse>().Produces<ApiError>(400);
        var post = app.MapPost("/search", (SearchRequest request, HttpContext context) => Search(gate, served.Catalog, options, request, context.RequestAborted))
            .WithName("SearchPost").WithSummary("Search the catalog (JSON body)")
            .Produces<SearchResponse>().Produces<ApiError>(400);
        if (rateLimitPolicy is not null) { get.RequireRateLimiting(rateLimitPolicy); post.RequireRateLimiting(rateLimitPolicy); }
    }

    private static async Task<SearchResponse> Search(SemaphoreSlim? gate, CatalogSearch catalog, ServerOptions options, SearchRequest request, CancellationToken cancel)
    {
        if (gate is null) return Search(catalog, options, request);
        await gate.WaitAsync(cancel);
        try { return Search(catalog, options, request); }
        finally { gate.Release(); }
    }

    private static SearchResponse Search(CatalogSearch catalog, ServerOptions options, SearchRequest request)
    {
        string text = QueryText.Check(request.Q, options.MaxQueryChars);
        int size = request.Size ?? 10, from = request.From ?? 0;
        if (size < 1) throw new ApiException(400, $"size {size}: it must be at least 1");
        if (from < 0) throw new ApiException(400, $"from {from}: it must be at least 0");
        if ((long)from + size > catalog.ResultWindow)
            throw new ApiException(400, $"from + size = {(long)from + size}: it must be at most {catalog.ResultWindow} (the result window)");
        if (request.User is { Length: > 256 }) throw new ApiException(400, "user is longer than 256 characters");
        var page = catalog.Search(text, request.User, size, from, request.Explain ?? false);
        return new SearchResponse(Math.Round(page.TookMs, 3), page.Total,
            [.. page.Hits.Select(h => new SearchHitResponse(h.Id, h.Score, h.Title, h.Sid, h.Explanation))]);
    }
}
