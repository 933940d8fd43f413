using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace GenSearch.Server;

/// <summary>Liveness and readiness.</summary>
/// <param name="Status">"live", "ready" or "not ready".</param>
/// <param name="Retriever">What serves (ready only).</param>
/// <param name="CatalogSize">Items in the catalog (ready only).</param>
/// <param name="Store">The store (ready only; never a password).</param>
/// <param name="Error">Why it is not ready.</param>
public sealed record HealthResponse(string Status, string? Retriever = null, int? CatalogSize = null, string? Store = null, string? Error = null);

/// <summary>
/// GET /health/live: the process answers (200). GET /health/ready: the catalog is loaded (it is
/// before the server listens) and the store answers within two seconds: 200, else 503.
/// </summary>
internal static class HealthEndpoints
{
    public static void Map(IEndpointRouteBuilder app, ServedCatalog served)
    {
        app.MapGet("/health/live", () => new HealthResponse("live")).WithName("Live").WithSummary("Whether the process answers");
        app.MapGet("/health/ready", async (CancellationToken cancel) =>
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancel);
                timeout.CancelAfter(TimeSpan.FromSeconds(2));
                try { await served.Store.PingAsync(timeout.Token); }
                catch (Exception e) when (e is not OperationCanceledException || !cancel.IsCancellationRequested)
                {
                    return Results.Json(new HealthResponse("not ready", Error: $"the store does not answer: {e.Message}"), statusCode: 503);
                }
                return Results.Ok(new HealthResponse("ready", served.Catalog.Name, served.Catalog.Count, served.Store.Description));
            })
            .WithName("Ready").WithSummary("Whether searches and writes can be served")
            .Produces<HealthResponse>(200).Produces<HealthResponse>(503);
    }
}
