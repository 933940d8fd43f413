using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace GenSearch.Server;

/// <summary>Every error the API returns: a JSON body <c>{"error": "..."}</c> with a 4xx (the request's fault) or 5xx status.</summary>
public sealed record ApiError(string Error);

/// <summary>A request the handler refuses: its status and the message for the client.</summary>
internal sealed class ApiException(int status, string message) : Exception(message)
{
    public int Status { get; } = status;
}

/// <summary>
/// The one error path of the server: handlers throw <see cref="ApiException"/> for bad requests; binding
/// failures (malformed JSON, wrong types, a body over the limit) arrive as ASP.NET Core's
/// <see cref="BadHttpRequestException"/>; both become a 4xx with a JSON error. Anything else is a bug:
/// a 500 with a JSON error, logged with its stack trace, and the server goes on.
/// </summary>
internal static class ApiErrors
{
    public static IResult Result(int status, string message) => Results.Json(new ApiError(message), statusCode: status);

    /// <summary>
    /// Answers a handler's <see cref="ApiException"/> inside the endpoint, so the response (and the
    /// metrics' route label) stay the endpoint's; the exception handler below answers the rest.
    /// </summary>
    public static async ValueTask<object?> Filter(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        try { return await next(context); }
        catch (ApiException e) { return Result(e.Status, e.Message); }
    }

    public static void Use(WebApplication app)
    {
        app.UseExceptionHandler(error => error.Run(async context =>
        {
            var exception = context.Features.Get<IExceptionHandlerFeature>()?.Error;
            if (exception is OperationCanceledException && context.RequestAborted.IsCancellationRequested)
            {
                // The client went away while its request waited (the search gate, the store's write
                // lock) or ran: no one to answer, and not a bug to log. 499 as nginx logs it.
                context.Response.StatusCode = 499;
                return;
            }
            var (status, message) = Describe(exception);
            if (status >= 500)
                app.Logger.LogError(exception, "internal error on {Method} {Path}", context.Request.Method, context.Request.Path.Value);
            context.Response.StatusCode = status;
            await context.Response.WriteAsJsonAsync(new ApiError(message));
        }));
        // Routing's own answers (no such endpoint, wrong method) get a JSON body too.
        app.UseStatusCodePages(async status =>
        {
            var response = status.HttpContext.Response;
            string message = response.StatusCode switch
            {
                404 => $"no endpoint {status.HttpContext.Request.Path.Value} (see /openapi/v1.json)",
                405 => $"{status.HttpContext.Request.Method} is not allowed on {status.HttpContext.Request.Path.Value}",
                _ => $"HTTP {response.StatusCode}",
            };
            await response.WriteAsJsonAsync(new ApiError(message));
        });
    }

    public static (int Status, string Message) Describe(Exception? exception) => exception switch
    {
        ApiException api => (api.Status, api.Message),
        BadHttpRequestException bad => (bad.StatusCode, BadRequestMessage(bad)),
        JsonException json => (400, JsonMessage(json)),
        _ => (500, "internal error: " + (exception?.GetType().Name ?? "unknown") + " (the server logged it; this is a bug in GenSearch)"),
    };

    private static string BadRequestMessage(BadHttpRequestException bad)
    {
        if (bad.StatusCode == 413) return "the request body is too large: " + bad.Message;
        for (Exception? e = bad.InnerException; e is not null; e = e.InnerException)
            if (e is JsonException json) return JsonMessage(json);
        return bad.Message;
    }

    /// <summary>System.Text.Json's message names the path and the line; type names are left as the client sent them.</summary>
    private static string JsonMessage(JsonException json)
    {
        string where = json.Path is { Length: > 0 } path ? $" at {path}" : "";
        string line = json.LineNumber is { } l ? $" (line {l + 1})" : "";
        string what = json.Message.Split(" Path:", 2)[0];
        // "The JSON value could not be converted to GenSearch.Server.X": the type is ours, not the client's to know.
        if (what.StartsWith("The JSON value could not be converted", StringComparison.Ordinal)) what = "a value of the wrong type (see /openapi/v1.json)";
        return $"malformed JSON{where}{line}: {what}";
    }
}
