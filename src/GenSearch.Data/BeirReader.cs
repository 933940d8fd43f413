using System.Globalization;
using System.Text;
using System.Text.Json;
using GenSearch.Evaluation;

namespace GenSearch.Data;

/// <summary>
/// Streaming readers for the BEIR layout: <c>corpus.jsonl</c>, <c>queries.jsonl</c> and
/// <c>qrels/&lt;split&gt;.tsv</c>. Corpus and queries are read one line at a time, so memory is the
/// consumer's choice (plus the set of ids seen, to reject duplicates). Malformed lines, missing or
/// duplicate ids, invalid UTF-8, a JSON string escape that is a lone UTF-16 surrogate (<c>"\ud800"</c>:
/// it names no character, so it is corrupt text, rejected like invalid UTF-8 rather than replaced), and
/// a file without a single record throw <see cref="DataFormatException"/> naming file and line.
/// A UTF-8 byte-order mark, CRLF line ends and blank lines are accepted.
/// </summary>
public static class BeirReader
{
    /// <summary>Streams the documents of a <c>corpus.jsonl</c>; unknown fields are ignored.</summary>
    public static IEnumerable<Document> ReadCorpus(string path)
    {
        using var lines = Open(path);
        var ids = new Dictionary<string, long>(StringComparer.Ordinal);
        while (NextDocument(lines, out var doc))
        {
            if (!ids.TryAdd(doc.Id, lines.LineNumber)) throw Duplicate(lines, doc.Id, ids[doc.Id]);
            yield return doc;
        }
        if (ids.Count == 0) throw Empty(lines, "documents");
    }

    /// <summary>
    /// Streams the queries of a <c>queries.jsonl</c>: <c>"_id"</c>, <c>"text"</c>, optional <c>"user"</c> and
    /// <c>"ts"</c> (as in the interactions log); unknown fields are ignored.
    /// </summary>
    public static IEnumerable<Query> ReadQueries(string path)
    {
        using var lines = Open(path);
        var ids = new Dictionary<string, long>(StringComparer.Ordinal);
        while (NextQuery(lines, out var query))
        {
            if (!ids.TryAdd(query.Id, lines.LineNumber)) throw Duplicate(lines, query.Id, ids[query.Id]);
            yield return query;
        }
        if (ids.Count == 0) throw Empty(lines, "queries");
    }

    /// <summary>
    /// Reads a BEIR qrels TSV (<c>query-id corpus-id score</c>, tab-separated, or space-separated when a
    /// line has no tab; header optional). Every row is checked: three fields, ids without whitespace, an
    /// integer grade within <paramref name="grades"/> (default <see cref="GradeRange.Default"/>, 0..4; pass
    /// the data set's, as <see cref="BeirDataset.Qrels"/> does). Two rows judging one (query, item) pair
    /// with different grades throw, naming both lines: either could be the mistake, and keeping one would
    /// make every score depend on the file's order. Two rows with the same grade are kept once and warned
    /// about. Rows naming a query or document id that <paramref name="isKnownQuery"/> /
    /// <paramref name="isKnownDoc"/> reject are skipped, counted and reported through
    /// <paramref name="warn"/> (the first few verbatim). Pass null checks to accept every id. A file
    /// without a single judgment throws.
    /// </summary>
    public static QrelsReadResult ReadQrels(string path, Func<string, bool>? isKnownQuery = null,
        Func<string, bool>? isKnownDoc = null, Action<string>? warn = null, GradeRange? grades = null)
    {
        var range = grades ?? GradeRange.Default;
        var qrels = new Qrels();
        var first = new Dictionary<(string, string), (long Line, int Grade)>();
        int unknownQuery = 0, unknownDoc = 0, duplicates = 0, warned = 0, warnedDuplicates = 0;
        bool header = true;
        using var lines = Open(path);
        while (lines.Next(out var span))
        {
            long lineNo = lines.LineNumber;
            string line = Utf8Lines.Text(span);
            var f = line.Split('\t');
            if (f.Length == 1) f = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            bool isHeader = header && f.Length == 3 && f[0] == "query-id";
            header = false;
            if (isHeader) continue;
            if (f.Length != 3) throw new DataFormatException(path, lineNo, $"expected 3 tab-separated fields 'query-id corpus-id score', found {f.Length}");
            for (int i = 0; i < 2; i++)
                if (f[i].Length == 0 || f[i].Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
                    throw new DataFormatException(path, lineNo, $"{(i == 0 ? "query" : "corpus")} id '{f[i]}' must be non-empty without whitespace");
            if (!int.TryParse(f[2], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int score))
                throw new DataFormatException(path, lineNo, $"score '{f[2]}' is not an integer");
            if (!range.Contains(score))
                throw new DataFormatException(path, lineNo, $"grade {score} is outside the data set's grades {range}");
            if (first.TryGetValue((f[0], f[1]), out var earlier))
            {
                if (earlier.Grade != score)
                    throw new DataFormatException(path, lineNo, $"conflicting judgments of query '{f[0]}', item '{f[1]}': grade {score} here, grade {earlier.Grade} at line {earlier.Line}");
                duplicates++;
                if (warnedDuplicates++ < 5)
                    warn?.Invoke($"{path}:{lineNo}: duplicate judgment of query '{f[0]}', item '{f[1]}' (grade {score}, as at line {earlier.Line}); counted once");
                continue;
            }
            first[(f[0], f[1])] = (lineNo, score);
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
        if (first.Count == 0) throw Empty(lines, "judgments");
        if (warned > 5) warn?.Invoke($"{path}: {warned} rows skipped in all ({unknownQuery} unknown query ids, {unknownDoc} unknown corpus ids)");
        if (warnedDuplicates > 5) warn?.Invoke($"{path}: {duplicates} duplicate judgments in all, each counted once");
        return new QrelsReadResult(qrels, unknownQuery, unknownDoc, duplicates);
    }

    /// <summary>Opens a file's lines; errors are <see cref="DataFormatException"/>s.</summary>
    internal static Utf8Lines Open(string path) => new(path, (file, line, problem) => new DataFormatException(file, line, problem));

    /// <summary>The error for a file without a single record, reported at line 1 (where the first record belongs).</summary>
    internal static DataFormatException Empty(Utf8Lines lines, string what) =>
        new(lines.Name, 1, lines.LineNumber == 0 ? $"the file is empty (no {what})" : $"no {what} in the file");

    private static DataFormatException Duplicate(Utf8Lines lines, string id, long firstLine) =>
        new(lines.Name, lines.LineNumber, $"duplicate _id '{id}' (first at line {firstLine})");

    private static bool NextDocument(Utf8Lines lines, out Document doc)
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
        catch (InvalidOperationException e) { throw Malformed(lines, e); }
        if (id == null) throw new DataFormatException(lines.Name, lines.LineNumber, "missing \"_id\"");
        doc = new Document(id, title ?? "", text ?? "") { Features = features, Vector = vector };
        return true;
    }

    private static bool NextQuery(Utf8Lines lines, out Query query)
    {
        query = null!;
        if (!lines.Next(out var span)) return false;
        string? id = null, text = null, user = null;
        double? ts = null;
        try
        {
            var r = new Utf8JsonReader(span);
            StartObject(ref r, lines);
            while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
            {
                if (r.ValueTextEquals("_id"u8)) id = ReadId(ref r, lines);
                else if (r.ValueTextEquals("text"u8)) text = ReadText(ref r, lines, "text");
                else if (r.ValueTextEquals("user"u8)) user = ReadText(ref r, lines, "user");
                else if (r.ValueTextEquals("ts"u8)) ts = ReadTimestamp(ref r, lines);
                else { r.Read(); r.Skip(); }
            }
            EndObject(ref r, lines);
        }
        catch (JsonException e) { throw Malformed(lines, e); }
        catch (InvalidOperationException e) { throw Malformed(lines, e); }
        if (id == null) throw new DataFormatException(lines.Name, lines.LineNumber, "missing \"_id\"");
        if (text == null) throw new DataFormatException(lines.Name, lines.LineNumber, "missing \"text\"");
        query = new Query(id, text) { User = string.IsNullOrEmpty(user) ? null : user, Timestamp = ts };
        return true;
    }

    internal static void StartObject(ref Utf8JsonReader r, Utf8Lines lines)
    {
        if (!r.Read() || r.TokenType != JsonTokenType.StartObject)
            throw new DataFormatException(lines.Name, lines.LineNumber, "expected a JSON object");
    }

    internal static void EndObject(ref Utf8JsonReader r, Utf8Lines lines)
    {
        if (r.TokenType != JsonTokenType.EndObject || r.Read())
            throw new DataFormatException(lines.Name, lines.LineNumber, "malformed JSON: extra content after the object");
    }

    internal static DataFormatException Malformed(Utf8Lines lines, Exception e) =>
        new(lines.Name, lines.LineNumber, $"malformed JSON ({FirstSentence(e.Message)})");

    /// <summary>
    /// The string value (or property name) at the reader, unescaped. An escape that is a lone UTF-16
    /// surrogate (<c>\ud800</c> without its pair) throws <see cref="DataFormatException"/> naming the field.
    /// </summary>
    internal static string GetString(ref Utf8JsonReader r, Utf8Lines lines, string field)
    {
        try { return r.GetString()!; }
        catch (InvalidOperationException)
        {
            throw new DataFormatException(lines.Name, lines.LineNumber, $"\"{field}\": invalid string (a \\u escape that is a lone UTF-16 surrogate names no character)");
        }
    }

    private static string FirstSentence(string message)
    {
        int cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return (cut > 0 ? message[..cut] : message).TrimEnd('.', ' ');
    }

    /// <summary>An id is a non-empty string; a JSON number is accepted and kept as written.</summary>
    internal static string ReadId(ref Utf8JsonReader r, Utf8Lines lines)
    {
        r.Read();
        string id = r.TokenType switch
        {
            JsonTokenType.String => GetString(ref r, lines, "_id"),
            JsonTokenType.Number => Encoding.UTF8.GetString(r.ValueSpan),
            _ => throw new DataFormatException(lines.Name, lines.LineNumber, $"\"_id\" must be a string, found {r.TokenType}"),
        };
        if (id.Length == 0 || id.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
            throw new DataFormatException(lines.Name, lines.LineNumber, $"\"_id\" must be non-empty without whitespace, found '{id}'");
        return id;
    }

    /// <summary>A <c>"ts"</c>: seconds since the Unix epoch, or an ISO-8601 string (UTC unless it says otherwise).</summary>
    internal static double ReadTimestamp(ref Utf8JsonReader r, Utf8Lines lines)
    {
        r.Read();
        if (r.TokenType == JsonTokenType.Number && r.TryGetDouble(out double seconds) && double.IsFinite(seconds)) return seconds;
        if (r.TokenType == JsonTokenType.String &&
            DateTimeOffset.TryParse(GetString(ref r, lines, "ts"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var when))
            return when.ToUnixTimeMilliseconds() / 1000.0;
        throw new DataFormatException(lines.Name, lines.LineNumber, "\"ts\" must be epoch seconds or an ISO-8601 time");
    }

    /// <summary>A text field is a string; null reads as empty.</summary>
    internal static string ReadText(ref Utf8JsonReader r, Utf8Lines lines, string field)
    {
        r.Read();
        return r.TokenType switch
        {
            JsonTokenType.String => GetString(ref r, lines, field),
            JsonTokenType.Null => "",
            JsonTokenType.Number => Encoding.UTF8.GetString(r.ValueSpan),
            _ => throw new DataFormatException(lines.Name, lines.LineNumber, $"\"{field}\" must be a string, found {r.TokenType}"),
        };
    }

    internal static Dictionary<string, double> ReadFeatures(ref Utf8JsonReader r, Utf8Lines lines, string field = "features")
    {
        r.Read();
        if (r.TokenType != JsonTokenType.StartObject)
            throw new DataFormatException(lines.Name, lines.LineNumber, $"\"{field}\" must be an object of numbers");
        var result = new Dictionary<string, double>(StringComparer.Ordinal);
        while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
        {
            string name = GetString(ref r, lines, field);
            r.Read();
            if (r.TokenType == JsonTokenType.True || r.TokenType == JsonTokenType.False) { result[name] = r.GetBoolean() ? 1 : 0; continue; }
            if (r.TokenType != JsonTokenType.Number || !r.TryGetDouble(out double v) || !double.IsFinite(v))
                throw new DataFormatException(lines.Name, lines.LineNumber, $"\"{field}\".\"{name}\" must be a finite number");
            result[name] = v;
        }
        return result;
    }

    private static float[] ReadVector(ref Utf8JsonReader r, Utf8Lines lines)
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
/// <summary>
/// Judgments read from a qrels file, with the rows skipped because they named unknown ids and the rows
/// that repeated an earlier judgment with the same grade.
/// </summary>
public sealed record QrelsReadResult(Qrels Qrels, int UnknownQueryRows, int UnknownDocRows, int DuplicateRows = 0);
