using System.Globalization;
using System.Text;
using System.Text.Json;
using GenSearch.Evaluation;

namespace GenSearch.Data;

/// <summary>
/// Streaming readers for the BEIR layout: <c>corpus.jsonl</c>, <c>queries.jsonl</c> and
/// <c>qrels/&lt;split&gt;.tsv</c>. Corpus and queries are read one line at a time, so memory is the
/// consumer's choice (plus the set of ids seen, to reject duplicates). Malformed lines, missing or
/// duplicate ids and invalid UTF-8 throw <see cref="DataFormatException"/> naming file and line.
/// </summary>
public static class BeirReader
{
    /// <summary>Streams the documents of a <c>corpus.jsonl</c>; unknown fields are ignored.</summary>
    public static IEnumerable<Document> ReadCorpus(string path)
    {
        using var lines = new JsonLines(path);
        var ids = new HashSet<string>(StringComparer.Ordinal);
        while (NextDocument(lines, out var doc))
        {
            if (!ids.Add(doc.Id)) throw new DataFormatException(path, lines.LineNumber, $"duplicate _id '{doc.Id}'");
            yield return doc;
        }
    }

    /// <summary>Streams the queries of a <c>queries.jsonl</c>; unknown fields are ignored.</summary>
    public static IEnumerable<Query> ReadQueries(string path)
    {
        using var lines = new JsonLines(path);
        var ids = new HashSet<string>(StringComparer.Ordinal);
        while (NextQuery(lines, out var query))
        {
            if (!ids.Add(query.Id)) throw new DataFormatException(path, lines.LineNumber, $"duplicate _id '{query.Id}'");
            yield return query;
        }
    }

    /// <summary>
    /// Reads a BEIR qrels TSV (<c>query-id corpus-id score</c>, header optional). Rows naming a query
    /// or document id that <paramref name="isKnownQuery"/> / <paramref name="isKnownDoc"/> reject are
    /// skipped, counted and reported through <paramref name="warn"/> (the first few verbatim); a row
    /// that cannot be parsed throws. Pass null checks to accept every id.
    /// </summary>
    public static QrelsReadResult ReadQrels(string path, Func<string, bool>? isKnownQuery = null,
        Func<string, bool>? isKnownDoc = null, Action<string>? warn = null)
    {
        if (!File.Exists(path)) throw new DataFormatException(path, 0, "file not found");
        var qrels = new Qrels();
        int unknownQuery = 0, unknownDoc = 0, warned = 0;
        using var reader = new StreamReader(path, new UTF8Encoding(false, throwOnInvalidBytes: true));
        long lineNo = 0;
        while (true)
        {
            string? line;
            try { line = reader.ReadLine(); }
            catch (DecoderFallbackException) { throw new DataFormatException(path, lineNo + 1, "invalid UTF-8"); }
            if (line == null) break;
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            var f = line.Split('\t');
            if (f.Length == 1) f = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (lineNo == 1 && f.Length >= 3 && f[0] == "query-id") continue;
            if (f.Length != 3) throw new DataFormatException(path, lineNo, $"expected 3 tab-separated fields 'query-id corpus-id score', found {f.Length}");
            if (!int.TryParse(f[2], NumberStyles.Integer, CultureInfo.InvariantCulture, out int score))
                throw new DataFormatException(path, lineNo, $"score '{f[2]}' is not an integer");
            string? problem = null;
            if (isKnownQuery != null && !isKnownQuery(f[0])) { unknownQuery++; problem = $"unknown query id '{f[0]}'"; }
            else if (isKnownDoc != null && !isKnownDoc(f[1])) { unknownDoc++; problem = $"unknown corpus id '{f[1]}'"; }
            if (problem != null)
            {
                if (warned++ < 5) warn?.Invoke($"{path}:{lineNo}: {problem}; row skipped");
                continue;
            }
            qrels.Set(f[0], f[1], score);
        }
        if (warned > 5) warn?.Invoke($"{path}: {warned} rows skipped in all ({unknownQuery} unknown query ids, {unknownDoc} unknown corpus ids)");
        return new QrelsReadResult(qrels, unknownQuery, unknownDoc);
    }

    private static bool NextDocument(JsonLines lines, out Document doc)
    {
        doc = null!;
        if (!lines.Next(out var span)) return false;
        string? id = null, title = null, text = null;
        Dictionary<string, double>? features = null;
        float[]? vector = null;
        try
        {
            var r = new Utf8JsonReader(span);
            StartObject(ref r, lines);
            while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
            {
                if (r.ValueTextEquals("_id"u8)) id = ReadId(ref r, lines);
                else if (r.ValueTextEquals("title"u8)) title = ReadText(ref r, lines, "title");
                else if (r.ValueTextEquals("text"u8)) text = ReadText(ref r, lines, "text");
                else if (r.ValueTextEquals("features"u8)) features = ReadFeatures(ref r, lines);
                else if (r.ValueTextEquals("vector"u8)) vector = ReadVector(ref r, lines);
                else { r.Read(); r.Skip(); }
            }
            EndObject(ref r, lines);
        }
        catch (JsonException e) { throw Malformed(lines, e); }
        if (id == null) throw new DataFormatException(lines.Name, lines.LineNumber, "missing \"_id\"");
        doc = new Document(id, title ?? "", text ?? "") { Features = features, Vector = vector };
        return true;
    }

    private static bool NextQuery(JsonLines lines, out Query query)
    {
        query = null!;
        if (!lines.Next(out var span)) return false;
        string? id = null, text = null, user = null;
        try
        {
            var r = new Utf8JsonReader(span);
            StartObject(ref r, lines);
            while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
            {
                if (r.ValueTextEquals("_id"u8)) id = ReadId(ref r, lines);
                else if (r.ValueTextEquals("text"u8)) text = ReadText(ref r, lines, "text");
                else if (r.ValueTextEquals("user"u8)) user = ReadText(ref r, lines, "user");
                else { r.Read(); r.Skip(); }
            }
            EndObject(ref r, lines);
        }
        catch (JsonException e) { throw Malformed(lines, e); }
        if (id == null) throw new DataFormatException(lines.Name, lines.LineNumber, "missing \"_id\"");
        if (text == null) throw new DataFormatException(lines.Name, lines.LineNumber, "missing \"text\"");
        query = new Query(id, text) { User = string.IsNullOrEmpty(user) ? null : user };
        return true;
    }

    internal static void StartObject(ref Utf8JsonReader r, JsonLines lines)
    {
        if (!r.Read() || r.TokenType != JsonTokenType.StartObject)
            throw new DataFormatException(lines.Name, lines.LineNumber, "expected a JSON object");
    }

    internal static void EndObject(ref Utf8JsonReader r, JsonLines lines)
    {
        if (r.TokenType != JsonTokenType.EndObject || r.Read())
            throw new DataFormatException(lines.Name, lines.LineNumber, "malformed JSON: extra content after the object");
    }

    internal static DataFormatException Malformed(JsonLines lines, JsonException e) =>
        new(lines.Name, lines.LineNumber, $"malformed JSON ({FirstSentence(e.Message)})");

    private static string FirstSentence(string message)
    {
        int cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return (cut > 0 ? message[..cut] : message).TrimEnd('.', ' ');
    }

    /// <summary>An id is a non-empty string; a JSON number is accepted and kept as written.</summary>
    internal static string ReadId(ref Utf8JsonReader r, JsonLines lines)
    {
        r.Read();
        string id = r.TokenType switch
        {
            JsonTokenType.String => r.GetString()!,
            JsonTokenType.Number => Encoding.UTF8.GetString(r.ValueSpan),
            _ => throw new DataFormatException(lines.Name, lines.LineNumber, $"\"_id\" must be a string, found {r.TokenType}"),
        };
        if (id.Length == 0 || id.Any(char.IsWhiteSpace))
            throw new DataFormatException(lines.Name, lines.LineNumber, $"\"_id\" must be non-empty without whitespace, found '{id}'");
        return id;
    }

    /// <summary>A text field is a string; null reads as empty.</summary>
    internal static string ReadText(ref Utf8JsonReader r, JsonLines lines, string field)
    {
        r.Read();
        return r.TokenType switch
        {
            JsonTokenType.String => r.GetString()!,
            JsonTokenType.Null => "",
            JsonTokenType.Number => Encoding.UTF8.GetString(r.ValueSpan),
            _ => throw new DataFormatException(lines.Name, lines.LineNumber, $"\"{field}\" must be a string, found {r.TokenType}"),
        };
    }

    internal static Dictionary<string, double> ReadFeatures(ref Utf8JsonReader r, JsonLines lines, string field = "features")
    {
        r.Read();
        if (r.TokenType != JsonTokenType.StartObject)
            throw new DataFormatException(lines.Name, lines.LineNumber, $"\"{field}\" must be an object of numbers");
        var result = new Dictionary<string, double>(StringComparer.Ordinal);
        while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
        {
            string name = r.GetString()!;
            r.Read();
            if (r.TokenType == JsonTokenType.True || r.TokenType == JsonTokenType.False) { result[name] = r.GetBoolean() ? 1 : 0; continue; }
            if (r.TokenType != JsonTokenType.Number || !r.TryGetDouble(out double v) || !double.IsFinite(v))
                throw new DataFormatException(lines.Name, lines.LineNumber, $"\"{field}\".\"{name}\" must be a finite number");
            result[name] = v;
        }
        return result;
    }

    private static float[] ReadVector(ref Utf8JsonReader r, JsonLines lines)
    {
        r.Read();
        if (r.TokenType != JsonTokenType.StartArray)
            throw new DataFormatException(lines.Name, lines.LineNumber, "\"vector\" must be an array of numbers");
        var values = new List<float>();
        while (r.Read() && r.TokenType != JsonTokenType.EndArray)
        {
            if (r.TokenType != JsonTokenType.Number || !r.TryGetSingle(out float v) || !float.IsFinite(v))
                throw new DataFormatException(lines.Name, lines.LineNumber, $"\"vector\"[{values.Count}] must be a finite number");
            values.Add(v);
        }
        return values.ToArray();
    }
}

/// <summary>Judgments read from a qrels file, with the rows skipped because they named unknown ids.</summary>
public sealed record QrelsReadResult(Qrels Qrels, int UnknownQueryRows, int UnknownDocRows);
