using System.Text.Json;
using GenSearch.Evaluation;

namespace GenSearch.Data;

/// <summary>
/// Streams the search log <c>interactions.jsonl</c>:
/// <c>{"user", "query", "item", "ts", "signals": {...}}</c>. <c>"user"</c> and <c>"query"</c> are
/// required; <c>"item"</c> may be absent or null (a search without a click); <c>"ts"</c> is seconds
/// since the Unix epoch or an ISO-8601 string; <c>"signals"</c> holds numbers (booleans read as 0/1).
/// A file without a single event is an error (an empty log is better left out: it is optional).
/// </summary>
public static class InteractionReader
{
    /// <summary>Streams the events in file order; a bad line throws <see cref="DataFormatException"/>.</summary>
    public static IEnumerable<Interaction> Read(string path)
    {
        using var lines = BeirReader.Open(path);
        long count = 0;
        while (Next(lines, out var interaction)) { count++; yield return interaction; }
        if (count == 0) throw BeirReader.Empty(lines, "events");
    }

    private static bool Next(Utf8Lines lines, out Interaction interaction)
    {
        interaction = null!;
        if (!lines.Next(out var span)) return false;
        string? user = null, query = null, item = null;
        double? ts = null;
        Dictionary<string, double>? signals = null;
        try
        {
            var r = new Utf8JsonReader(span);
            BeirReader.StartObject(ref r, lines);
            while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
            {
                if (r.ValueTextEquals("user"u8)) user = BeirReader.ReadText(ref r, lines, "user");
                else if (r.ValueTextEquals("query"u8)) query = BeirReader.ReadText(ref r, lines, "query");
                else if (r.ValueTextEquals("item"u8)) item = BeirReader.ReadText(ref r, lines, "item");
                else if (r.ValueTextEquals("ts"u8)) ts = BeirReader.ReadTimestamp(ref r, lines);
                else if (r.ValueTextEquals("signals"u8)) signals = BeirReader.ReadFeatures(ref r, lines, "signals");
                else { r.Read(); r.Skip(); }
            }
            BeirReader.EndObject(ref r, lines);
        }
        catch (JsonException e) { throw BeirReader.Malformed(lines, e); }
        catch (InvalidOperationException e) { throw BeirReader.Malformed(lines, e); }
        if (string.IsNullOrEmpty(user)) throw new DataFormatException(lines.Name, lines.LineNumber, "missing \"user\"");
        if (query == null) throw new DataFormatException(lines.Name, lines.LineNumber, "missing \"query\"");
        if (ts == null) throw new DataFormatException(lines.Name, lines.LineNumber, "missing \"ts\"");
        interaction = new Interaction(user, query, string.IsNullOrEmpty(item) ? null : item, ts.Value,
            signals ?? new Dictionary<string, double>(StringComparer.Ordinal));
        return true;
    }
}
