using System.Text.Json;
using GenSearch.Evaluation;

namespace GenSearch.Data;

/// <summary>
/// Where a BEIR directory's relevance scale comes from, first match wins:
/// <list type="number">
/// <item><c>dataset.json</c> in the directory: <c>{"relevance_threshold": 3, "grades": [0, 4]}</c>
/// (both keys optional, defaults as below; any other key except <c>"description"</c> is an error, so a
/// misspelt key cannot fall back to a default unnoticed).</item>
/// <item>The built-in table <see cref="Known"/>, keyed by the directory's name, for data sets that
/// ship without the file in a place we cannot write (homedepot: threshold 3, grades 0..4, as its
/// README states).</item>
/// <item>The BEIR convention: a grade of 1 or more is relevant, grades 0..4.</item>
/// </list>
/// </summary>
public sealed record DatasetManifest(int RelevanceThreshold, GradeRange Grades, string Source)
{
    /// <summary>BM25's k1 for this data set (<c>"bm25": {"k1": .., "b": ..}</c> in dataset.json, or the built-in table); null = not known.</summary>
    public float? Bm25K1 { get; init; }
    /// <summary>BM25's b for this data set; null = not known.</summary>
    public float? Bm25B { get; init; }

    /// <summary>The name of the optional file in a BEIR directory.</summary>
    public const string FileName = "dataset.json";

    /// <summary>The BEIR convention, used when nothing else applies: grade >= 1 is relevant, grades 0..4.</summary>
    public static DatasetManifest Default { get; } = new(1, GradeRange.Default, "default (BEIR: grade >= 1 is relevant, grades 0..4)");

    /// <summary>Data sets whose scale is known without a <c>dataset.json</c>, by directory name.</summary>
    public static IReadOnlyDictionary<string, DatasetManifest> Known { get; } = new Dictionary<string, DatasetManifest>(StringComparer.Ordinal)
    {
        // README: score = round(2 * (mean rating - 1)) on the raters' 1..3 scale, so 0..4; relevant: score >= 3.
        // BM25: k1 and b tuned on its train split (README, "BM25 parameters per data set").
        ["homedepot"] = new(3, new GradeRange(0, 4), "built-in table (homedepot: grades 0..4, relevant from 3, per its README)") { Bm25K1 = 0.3f, Bm25B = 0.85f },
    };

    /// <summary>The scale of the BEIR directory <paramref name="directory"/>; a bad <c>dataset.json</c> throws <see cref="DataFormatException"/>.</summary>
    public static DatasetManifest For(string directory)
    {
        string path = Path.Combine(directory, FileName);
        if (File.Exists(path)) return Read(path);
        string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory)));
        return Known.TryGetValue(name, out var known) ? known : Default;
    }

    /// <summary>Reads and checks a <c>dataset.json</c>; errors name the file and line.</summary>
    public static DatasetManifest Read(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.AsSpan().StartsWith("\uFEFF"u8)) bytes = bytes[3..];
        int? threshold = null;
        GradeRange? grades = null;
        float? bm25K1 = null, bm25B = null;
        var r = new Utf8JsonReader(bytes, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip });
        try
        {
            if (!r.Read() || r.TokenType != JsonTokenType.StartObject) throw Error(path, bytes, r, "expected a JSON object");
            while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
            {
                if (r.ValueTextEquals("relevance_threshold"u8))
                {
                    r.Read();
                    if (r.TokenType != JsonTokenType.Number || !r.TryGetInt32(out int t)) throw Error(path, bytes, r, "\"relevance_threshold\" must be an integer");
                    threshold = t;
                }
                else if (r.ValueTextEquals("grades"u8))
                {
                    r.Read();
                    var g = new List<int>();
                    if (r.TokenType == JsonTokenType.StartArray)
                        while (r.Read() && r.TokenType == JsonTokenType.Number && r.TryGetInt32(out int v)) g.Add(v);
                    if (r.TokenType != JsonTokenType.EndArray || g.Count != 2 || g[0] > g[1] || g[0] < -GradeRange.Limit || g[1] > GradeRange.Limit)
                        throw Error(path, bytes, r, $"\"grades\" must be [lowest, highest], two integers with {-GradeRange.Limit} <= lowest <= highest <= {GradeRange.Limit}");
                    grades = new GradeRange(g[0], g[1]);
                }
                else if (r.ValueTextEquals("bm25"u8))
                {
                    r.Read();
                    if (r.TokenType != JsonTokenType.StartObject) throw Error(path, bytes, r, "\"bm25\" must be an object {\"k1\": number, \"b\": number}");
                    while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
                    {
                        bool isK1 = r.ValueTextEquals("k1"u8), isB = r.ValueTextEquals("b"u8);
                        if (!isK1 && !isB) throw Error(path, bytes, r, $"unknown key \"bm25.{r.GetString()}\" (known: k1, b)");
                        r.Read();
                        if (r.TokenType != JsonTokenType.Number || !r.TryGetSingle(out float v) || !float.IsFinite(v)
                            || v < 0 || isK1 && v > 100 || isB && v > 1)
                            throw Error(path, bytes, r, isK1 ? "\"bm25.k1\" must be a number in [0, 100]" : "\"bm25.b\" must be a number in [0, 1]");
                        if (isK1) bm25K1 = v; else bm25B = v;
                    }
                    if (r.TokenType != JsonTokenType.EndObject) throw Error(path, bytes, r, "malformed \"bm25\" object");
                    if (bm25K1 is null != bm25B is null) throw Error(path, bytes, r, "\"bm25\" needs both k1 and b");
                }
                else if (r.ValueTextEquals("description"u8))
                {
                    r.Read();
                    if (r.TokenType != JsonTokenType.String) throw Error(path, bytes, r, "\"description\" must be a string");
                    r.GetString();
                }
                else throw Error(path, bytes, r, $"unknown key \"{r.GetString()}\" (known: relevance_threshold, grades, bm25, description)");
            }
            if (r.TokenType != JsonTokenType.EndObject || r.Read()) throw Error(path, bytes, r, "malformed JSON: expected one object");
        }
        catch (JsonException e) { throw new DataFormatException(path, (e.LineNumber ?? 0) + 1, "malformed JSON"); }
        catch (InvalidOperationException) { throw Error(path, bytes, r, "invalid JSON string (a lone UTF-16 surrogate escape?)"); }
        var range = grades ?? Default.Grades;
        int threshold1 = threshold ?? Default.RelevanceThreshold;
        if (!range.Contains(threshold1))
            throw new DataFormatException(path, 1, $"relevance_threshold {threshold1} is outside the grades {range}");
        return new DatasetManifest(threshold1, range, path) { Bm25K1 = bm25K1, Bm25B = bm25B };
    }

    private static DataFormatException Error(string path, byte[] bytes, Utf8JsonReader r, string problem)
    {
        long at = Math.Min(r.TokenStartIndex, bytes.Length);
        return new DataFormatException(path, 1 + bytes.AsSpan(0, (int)at).Count((byte)'\n'), problem);
    }
}
