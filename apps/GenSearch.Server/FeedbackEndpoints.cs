using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace GenSearch.Server;

/// <summary>POST /feedback's body: one event of the search log, as <c>interactions.jsonl</c> holds it.</summary>
/// <param name="User">Who (required).</param>
/// <param name="Query">The query they searched (required).</param>
/// <param name="Item">The item the signals are about (null: the search itself, e.g. no click).</param>
/// <param name="Signals">Named numbers (booleans read as 0/1), e.g. {"click": 1, "dwell_s": 12.5}.</param>
/// <param name="Ts">When, in seconds since the Unix epoch; default: when the server received it.</param>
public sealed record FeedbackRequest(string? User, string? Query, string? Item = null, Dictionary<string, JsonElement>? Signals = null, double? Ts = null);

/// <summary>An acknowledged event: it is committed to the store.</summary>
/// <param name="Stored">Always true: the response is sent after the commit.</param>
/// <param name="Ts">The event's time as stored.</param>
public sealed record FeedbackResponse(bool Stored, double Ts);

/// <summary>POST /feedback: acknowledged only once the store committed the event.</summary>
internal static class FeedbackEndpoints
{
    public static void Map(RouteGroupBuilder writes, ServedCatalog served)
    {
        writes.MapPost("/feedback", async (FeedbackRequest request, CancellationToken cancel) =>
            {
                var feedback = Check(request);
                await served.AppendFeedbackAsync(feedback, cancel);
                return Results.Json(new FeedbackResponse(true, feedback.Timestamp), statusCode: 201);
            })
            .WithName("Feedback").WithSummary("Log what a user did with a result; 201 once it is committed")
            .Produces<FeedbackResponse>(201).Produces<ApiError>(400).Produces<ApiError>(401);
    }

    private static Interaction Check(FeedbackRequest r)
    {
        if (string.IsNullOrWhiteSpace(r.User)) throw new ApiException(400, "\"user\" is required");
        if (r.Query is null) throw new ApiException(400, "\"query\" is required");
        if (r.User.Length > 256) throw new ApiException(400, "\"user\" is longer than 256 characters");
        if (r.Query.Length > 4096) throw new ApiException(400, "\"query\" is longer than 4,096 characters");
        if (r.Item is { Length: > CatalogEndpoints.MaxIdLength }) throw new ApiException(400, $"\"item\" is longer than {CatalogEndpoints.MaxIdLength} characters");
        if (r.Ts is { } ts && (!double.IsFinite(ts) || ts < 0)) throw new ApiException(400, "\"ts\" must be seconds since the Unix epoch");
        var signals = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var (name, value) in r.Signals ?? [])
        {
            if (signals.Count == 64) throw new ApiException(400, "\"signals\" holds more than 64 entries");
            signals[name] = value.ValueKind switch
            {
                JsonValueKind.True => 1,
                JsonValueKind.False => 0,
                JsonValueKind.Number when value.TryGetDouble(out double d) && double.IsFinite(d) => d,
                _ => throw new ApiException(400, $"signal \"{name}\" must be a finite number or a boolean"),
            };
        }
        double when = r.Ts ?? DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
        return new Interaction(r.User, r.Query, string.IsNullOrEmpty(r.Item) ? null : r.Item, when, signals);
    }
}
