using System.Text;
using System.Text.Json;
using GenSearch.Serving;
using GenSearch.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace GenSearch.Server;

/// <summary>PUT /items/{id}'s body.</summary>
/// <param name="Title">The item's title (required).</param>
/// <param name="Text">Its text (optional).</param>
public sealed record ItemRequest(string? Title, string? Text = null);

/// <summary>What a catalog change did.</summary>
/// <param name="Id">The item (null for a bulk load).</param>
/// <param name="Result">"created", "updated" or "deleted"; "applied" for a bulk load.</param>
/// <param name="CatalogSize">Items in the catalog after the change.</param>
public sealed record ItemResponse(string? Id, string Result, int CatalogSize);

/// <summary>What a bulk load did: applied all its lines, or (with errors) none of them.</summary>
/// <param name="Applied">Whether the lines were applied: all of them, or none when any is bad.</param>
/// <param name="Lines">Change lines read.</param>
/// <param name="Added">Items new to the catalog.</param>
/// <param name="Replaced">Items that replaced one of the same id.</param>
/// <param name="Removed">Items removed.</param>
/// <param name="CatalogSize">Items in the catalog after the load.</param>
public sealed record BulkResponse(bool Applied, int Lines, int Added, int Replaced, int Removed, int CatalogSize);

/// <summary>A refused bulk load: nothing was applied; each bad line by its number (the first 100).</summary>
public sealed record BulkErrorResponse(string Error, bool Applied, IReadOnlyList<BulkLineError> Errors);

/// <summary>A bad line of a bulk load.</summary>
public sealed record BulkLineError(int Line, string Error);

/// <summary>PUT and DELETE /items/{id}, POST /items/_bulk: catalog changes, stored then applied, searchable once acknowledged.</summary>
internal static class CatalogEndpoints
{
    public const int MaxIdLength = 512;
    public const int MaxTitleChars = 4096;
    public const int MaxTextChars = 256 * 1024;

    public static void Map(RouteGroupBuilder writes, ServedCatalog served, ServerOptions options)
    {
        writes.MapPut("/items/{id}", async (string id, ItemRequest item, CancellationToken cancel) =>
            {
                var document = CheckItem(id, item.Title, item.Text);
                var change = await served.WriteAsync([new CatalogEdit(id, document)], () => { }, cancel);
                bool existed = change.Replaced > 0;
                var response = new ItemResponse(id, existed ? "updated" : "created", served.Catalog.Count);
                return existed ? Results.Ok(response) : Results.Created($"/items/{Uri.EscapeDataString(id)}", response);
            })
            .WithName("PutItem").WithSummary("Add or replace an item; searchable when this returns")
            .Produces<ItemResponse>(200).Produces<ItemResponse>(201).Produces<ApiError>(400).Produces<ApiError>(401);

        writes.MapDelete("/items/{id}", async (string id, CancellationToken cancel) =>
            {
                await served.WriteAsync([new CatalogEdit(id, null)], () =>
                {
                    if (!served.Catalog.Contains(id)) throw new ApiException(404, $"no item '{id}' in the catalog");
                }, cancel);
                return Results.Ok(new ItemResponse(id, "deleted", served.Catalog.Count));
            })
            .WithName("DeleteItem").WithSummary("Remove an item; gone from results when this returns")
            .Produces<ItemResponse>().Produces<ApiError>(404).Produces<ApiError>(401);

        writes.MapPost("/items/_bulk", async (HttpContext context, CancellationToken cancel) =>
            {
                var (lines, errors) = await BulkLines.ReadAsync(context.Request.Body, cancel);
                if (errors.Count == 0 && lines.Count == 0) errors.Add(new BulkLineError(1, "the body holds no change lines"));
                var edits = lines.Select(l => l.Edit).ToList();
                GenSearch.Retrieval.CatalogChange counts = default;
                if (errors.Count == 0)
                {
                    try { counts = await served.WriteAsync(edits, () => CheckRemovals(served.Catalog, lines, errors), cancel); }
                    catch (BulkRefused) { }
                }
                if (errors.Count > 0)
                    return Results.Json(new BulkErrorResponse(
                        $"line {errors[0].Line}: {errors[0].Error}{(errors.Count > 1 ? $" (and {errors.Count - 1} more bad lines)" : "")}; nothing was applied",
                        false, errors.Take(100).ToList()), statusCode: 400);
                return Results.Ok(new BulkResponse(true, edits.Count, counts.Added, counts.Replaced, counts.Removed, served.Catalog.Count));
            })
            .WithName("BulkItems").WithSummary("Apply many changes from NDJSON, all or none")
            .WithDescription("One change a line: {\"id\", \"title\", \"text\"} puts an item, {\"delete\": \"id\"} removes one. " +
                             "A bad line is reported by its number and no line is applied. Any content type (application/x-ndjson by convention).")
            .Produces<BulkResponse>().Produces<BulkErrorResponse>(400).Produces<ApiError>(401)
            .WithMetadata(new RequestSizeLimitAttribute(options.MaxBulkBytes));
    }

    /// <summary>Removals of ids neither in the catalog nor put earlier in the same load are errors, by line.</summary>
    private static void CheckRemovals(CatalogSearch catalog, IReadOnlyList<(CatalogEdit Edit, int Line)> lines, List<BulkLineError> errors)
    {
        var present = new Dictionary<string, bool>(StringComparer.Ordinal);
        foreach (var (edit, line) in lines)
        {
            bool exists = present.TryGetValue(edit.Id, out var p) ? p : catalog.Contains(edit.Id);
            if (edit.IsRemoval && !exists) errors.Add(new BulkLineError(line, $"no item '{edit.Id}' in the catalog to delete"));
            present[edit.Id] = !edit.IsRemoval;
        }
        if (errors.Count > 0) throw new BulkRefused();
    }

    /// <summary>An item's fields, checked; the document to store.</summary>
    public static Document CheckItem(string id, string? title, string? text)
    {
        if (string.IsNullOrWhiteSpace(id)) throw new ApiException(400, $"the item id is empty");
        if (id.Length > MaxIdLength) throw new ApiException(400, $"the item id is longer than {MaxIdLength} characters");
        if (title is null) throw new ApiException(400, $"\"title\" is required");
        if (title.Length > MaxTitleChars) throw new ApiException(400, $"\"title\" is longer than {MaxTitleChars:N0} characters");
        if ((text?.Length ?? 0) > MaxTextChars) throw new ApiException(400, $"\"text\" is longer than {MaxTextChars:N0} characters");
        if (title.Contains('\uFFFD') || (text?.Contains('\uFFFD') ?? false)) throw new ApiException(400, $"the text holds U+FFFD (invalid UTF-8 upstream?)");
        return new Document(id, title, text ?? "");
    }

    private sealed class BulkRefused : Exception;
}

/// <summary>The lines of a bulk NDJSON body, each checked, with its line number.</summary>
internal static class BulkLines
{
    /// <summary>The change lines (blank lines skipped) and the bad ones, each with its number from 1.</summary>
    public static async Task<(List<(CatalogEdit Edit, int Line)> Lines, List<BulkLineError> Errors)> ReadAsync(Stream body, CancellationToken cancel)
    {
        var edits = new List<(CatalogEdit, int)>();
        var errors = new List<BulkLineError>();
        using var reader = new StreamReader(body, new UTF8Encoding(false, throwOnInvalidBytes: true));
        int number = 0;
        while (true)
        {
            string? line;
            try { line = await reader.ReadLineAsync(cancel); }
            catch (DecoderFallbackException) { errors.Add(new BulkLineError(number + 1, "invalid UTF-8")); break; }
            if (line is null) break;
            number++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                edits.Add((Parse(line), number));
            }
            catch (ApiException e) { errors.Add(new BulkLineError(number, e.Message)); }
        }
        return (edits, errors);
    }

    private static CatalogEdit Parse(string line)
    {
        JsonDocument json;
        try { json = JsonDocument.Parse(line); }
        catch (JsonException e) { throw new ApiException(400, $"malformed JSON: {e.Message.Split(" Path:", 2)[0].Split(" LineNumber:", 2)[0]}"); }
        using (json)
        {
            if (json.RootElement.ValueKind != JsonValueKind.Object) throw new ApiException(400, "a change line is a JSON object");
            string? id = null, title = null, text = null, delete = null;
            foreach (var p in json.RootElement.EnumerateObject())
            {
                string Text() => p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : throw new ApiException(400, $"\"{p.Name}\" must be a string");
                switch (p.Name)
                {
                    case "id": id = Text(); break;
                    case "title": title = Text(); break;
                    case "text": text = Text(); break;
                    case "delete": delete = Text(); break;
                    default: throw new ApiException(400, $"unknown field \"{p.Name}\" (a line has id, title, text; or delete)");
                }
            }
            if (delete is not null)
            {
                if (id is not null || title is not null || text is not null) throw new ApiException(400, "a delete line has only \"delete\": \"id\"");
                if (string.IsNullOrWhiteSpace(delete)) throw new ApiException(400, "the id to delete is empty");
                return new CatalogEdit(delete, null);
            }
            if (id is null) throw new ApiException(400, "\"id\" is required (or \"delete\" to remove an item)");
            return new CatalogEdit(id, CatalogEndpoints.CheckItem(id, title, text));
        }
    }
}
