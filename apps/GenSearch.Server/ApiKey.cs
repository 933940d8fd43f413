using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace GenSearch.Server;

/// <summary>
/// The API key write endpoints require when one is set: <c>X-Api-Key: KEY</c> or
/// <c>Authorization: Bearer KEY</c>, compared in constant time. Without a key the server must listen
/// on loopback only (<see cref="CheckBinding"/>), so open writes never leave the machine.
/// </summary>
internal sealed class ApiKey(string? key) : IEndpointFilter
{
    private readonly byte[]? _key = key is null ? null : Encoding.UTF8.GetBytes(key);

    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        if (_key is null) return next(context);
        var request = context.HttpContext.Request;
        string? given = request.Headers["X-Api-Key"].FirstOrDefault();
        if (given is null && request.Headers.Authorization.FirstOrDefault() is { } auth && auth.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            given = auth["Bearer ".Length..].Trim();
        if (given is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given), _key)) return next(context);
        context.HttpContext.Response.Headers.WWWAuthenticate = "Bearer";
        return ValueTask.FromResult<object?>(ApiErrors.Result(401, given is null
            ? "this endpoint needs the API key: send X-Api-Key: KEY or Authorization: Bearer KEY"
            : "the API key is wrong"));
    }

    /// <summary>Refuses to listen beyond loopback without an API key; a URL that is not one is an error naming it.</summary>
    public static void CheckBinding(IReadOnlyList<string> urls, string? apiKey)
    {
        if (urls.Count == 0) throw new ArgumentException("--urls: give at least one address, e.g. http://127.0.0.1:7700");
        foreach (var url in urls)
        {
            string host = HostOf(url);
            bool loopback = host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
                            || (IPAddress.TryParse(host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));
            if (!loopback && string.IsNullOrEmpty(apiKey))
                throw new ArgumentException($"--urls {url}: listening beyond this machine needs --api-key KEY (write endpoints would be open to anyone who can reach it)");
        }
    }

    private static string HostOf(string url)
    {
        int scheme = url.IndexOf("://", StringComparison.Ordinal);
        if (scheme < 0) throw new ArgumentException($"--urls {url}: give a URL such as http://127.0.0.1:7700");
        string rest = url[(scheme + 3)..];
        int slash = rest.IndexOf('/');
        if (slash >= 0) rest = rest[..slash];
        if (rest.StartsWith('[')) return rest[..(rest.IndexOf(']') + 1)];
        int colon = rest.LastIndexOf(':');
        return colon >= 0 ? rest[..colon] : rest;
    }
}
