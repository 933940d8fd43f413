using System.Text;
using System.Text.Json.Nodes;

namespace GenSearch.Fuzz.Tests;

/// <summary>The files of the sample that the fuzz tests mutate, one per reader.</summary>
public enum FileKind { Corpus, Queries, Qrels, Interactions, Run, Manifest }

/// <summary>
/// What a mutated file must do when read. A reader passes when its outcome matches; any exception other
/// than a located <c>DataFormatException</c> / <c>EvaluationFormatException</c> fails every expectation.
/// </summary>
internal abstract record Expect
{
    /// <summary>Harmless: the same records as the unmutated file; each of <paramref name="Warnings"/> must be in some warning.</summary>
    public sealed record Same(params string[] Warnings) : Expect;
    /// <summary>Must be detected: a format error at exactly this line, its message holding <paramref name="Contains"/>.</summary>
    public sealed record Throws(long Line, string? Contains = null) : Expect;
    /// <summary>Must be detected, at whichever line the reader finds it.</summary>
    public sealed record Located : Expect;
    /// <summary>Exactly these canonical records (a change the reader must accept and reflect).</summary>
    public sealed record Equal(IReadOnlyList<string> Records) : Expect;
    /// <summary>The same outcome, records or error message, as reading this clean reference content.</summary>
    public sealed record Like(byte[] Reference) : Expect;
    /// <summary>One of several.</summary>
    public sealed record AnyOf(params Expect[] Options) : Expect;
    /// <summary>
    /// An undetectable change may be accepted, but only within the lines touched: at most
    /// <paramref name="Lines"/> records gone and as many new; or a located error.
    /// </summary>
    public sealed record Confined(int Lines) : Expect;
    /// <summary>Records of any content, or a located error (used where no finer oracle applies).</summary>
    public sealed record Anything : Expect;
}

/// <summary>One mutation of one file: a name for the failure message, the bytes, what they must do.</summary>
internal sealed record Mutation(string Name, byte[] Bytes, Expect Expect);

/// <summary>
/// Seeded mutations of the sample's files: truncation, byte flips, invalid UTF-8, lone surrogate
/// escapes, 1 MB fields, duplicate and conflicting rows, wrong JSON types, missing fields, extra fields
/// and columns, CRLF, BOM, blank lines, empty files. Each comes with the outcome it must have.
/// </summary>
internal sealed class Mutator(FileKind kind, byte[] original, Func<IReadOnlyList<string>> baseline, Func<int, string, IReadOnlyList<string>?> withHugeField)
{
    private static readonly UTF8Encoding Utf8 = new(false);
    private readonly List<byte[]> _lines = SplitLines(original);
    private bool Json => kind is FileKind.Corpus or FileKind.Queries or FileKind.Interactions;
    private int FirstData => kind == FileKind.Qrels ? 1 : 0;

    private static List<byte[]> SplitLines(byte[] bytes)
    {
        var lines = new List<byte[]>();
        int start = 0;
        for (int i = 0; i < bytes.Length; i++)
            if (bytes[i] == (byte)'\n') { lines.Add(bytes[start..i]); start = i + 1; }
        if (start < bytes.Length) lines.Add(bytes[start..]);
        return lines;
    }

    private static byte[] Join(IEnumerable<byte[]> lines, string eol = "\n", bool finalEol = true)
    {
        var ms = new MemoryStream();
        var e = Encoding.ASCII.GetBytes(eol);
        var all = lines.ToList();
        for (int i = 0; i < all.Count; i++)
        {
            ms.Write(all[i]);
            if (i < all.Count - 1 || finalEol) ms.Write(e);
        }
        return ms.ToArray();
    }

    private List<byte[]> Copy() => _lines.Select(l => l).ToList();
    private static string Text(byte[] line) => Encoding.UTF8.GetString(line);
    private static byte[] Bytes(string text) => Utf8.GetBytes(text);

    /// <summary>The names of the mutations that apply to this kind of file.</summary>
    public string[] Names => kind switch
    {
        FileKind.Manifest => ["truncate", "flip", "crlf", "bom", "empty", "manifest-bad-value"],
        FileKind.Qrels => [.. Common, "grade-range", "bad-number"],
        FileKind.Run => [.. Common, "bad-number"],
        _ => [.. Common, .. JsonOnly],
    };

    private static readonly string[] Common =
    [
        "truncate", "flip", "invalid-utf8", "crlf", "bom", "empty", "blank-only", "blank-lines", "no-final-newline",
        "duplicate-row", "conflicting-row", "huge-field", "wrong-type", "missing-field", "extra-field",
    ];

    private static readonly string[] JsonOnly = ["lone-surrogate", "reserialize", "escape-ascii"];

    /// <summary>A random applicable mutation.</summary>
    public Mutation Next(Random rng)
    {
        var names = Names;
        string name = names[rng.Next(names.Length)];
        // A 1 MB field costs as much as a hundred small cases: one draw in eight keeps it.
        while (name == "huge-field" && rng.Next(8) != 0) name = names[rng.Next(names.Length)];
        return Make(name, rng);
    }

    public Mutation Make(string name, Random rng)
    {
        int line = rng.Next(FirstData, _lines.Count);
        switch (name)
        {
            case "truncate":
            {
                int cut = rng.Next(0, original.Length);
                var kept = original[..cut];
                int complete = kept.Count(b => b == (byte)'\n');
                if (kind == FileKind.Manifest)
                    return new(name, kept, cut >= Array.LastIndexOf(original, (byte)'}') + 1 ? new Expect.Same() : new Expect.Throws(1));
                if (cut == 0 || original[cut - 1] == (byte)'\n') return new(name, kept, new Expect.Like(kept));
                // Cut just before a newline: every record kept is whole, the last one without its newline.
                if (original[cut] == (byte)'\n') return new(name, kept, new Expect.Like(Join(_lines.Take(complete + 1))));
                var wholeLine = Join(_lines.Take(complete + 1));
                return new(name, kept, Json
                    ? new Expect.Throws(complete + 1)
                    : new Expect.AnyOf(new Expect.Throws(complete + 1), new Expect.Like(wholeLine)));
            }
            case "flip":
            {
                var bytes = (byte[])original.Clone();
                int at = rng.Next(bytes.Length);
                byte old = bytes[at];
                do bytes[at] = (byte)rng.Next(256); while (bytes[at] == old);
                if (kind == FileKind.Manifest) return new(name, bytes, new Expect.Anything());
                // A changed byte touches one record; a newline made or unmade touches two.
                return new(name, bytes, new Expect.Confined(old == (byte)'\n' || bytes[at] == (byte)'\n' ? 2 : 1));
            }
            case "invalid-utf8":
            {
                byte[][] bad = [[0xFF], [0x80], [0xC3, (byte)'('], [0xED, 0xA0, 0x80], [0xC0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82]];
                var lines = Copy();
                var l = lines[line];
                var asciiAt = Enumerable.Range(0, l.Length + 1).Where(i => i == l.Length || l[i] < 0x80).ToArray();
                int p = asciiAt[rng.Next(asciiAt.Length)];
                lines[line] = [.. l[..p], .. bad[rng.Next(bad.Length)], .. l[p..]];
                return new(name, Join(lines), new Expect.Throws(line + 1, "invalid UTF-8"));
            }
            case "crlf":
                return new(name, Join(_lines, "\r\n"), new Expect.Same());
            case "bom":
                return new(name, [0xEF, 0xBB, 0xBF, .. original], new Expect.Same());
            case "empty":
                return new(name, [], new Expect.Throws(1));
            case "blank-only":
            {
                int n = rng.Next(1, 4);
                return new(name, Join(Enumerable.Range(0, n).Select(i => i % 2 == 0 ? Array.Empty<byte>() : " \t "u8.ToArray())), new Expect.Throws(1));
            }
            case "blank-lines":
            {
                var lines = Copy();
                for (int i = rng.Next(1, 4); i > 0; i--)
                    lines.Insert(rng.Next(lines.Count + 1), rng.Next(3) switch { 0 => [], 1 => "  "u8.ToArray(), _ => "\t"u8.ToArray() });
                return new(name, Join(lines), new Expect.Same());
            }
            case "no-final-newline":
                return new(name, Join(_lines, finalEol: false), new Expect.Same());
            case "duplicate-row":
            {
                int at = rng.Next(line + 1, _lines.Count + 1);
                var lines = Copy();
                lines.Insert(at, _lines[line]);
                var bytes = Join(lines);
                return new(name, bytes, kind switch
                {
                    FileKind.Qrels => new Expect.Same($":{at + 1}: duplicate judgment", $"as at line {line + 1}"),
                    FileKind.Interactions => new Expect.Equal(Inserted(baseline(), line, at)),
                    FileKind.Run => new Expect.Throws(at + 1, $"first at line {line + 1}"),
                    _ => new Expect.Throws(at + 1, $"duplicate _id"),
                });
            }
            case "conflicting-row":
            {
                if (kind == FileKind.Interactions) goto case "duplicate-row";
                int at = rng.Next(line + 1, _lines.Count + 1);
                var lines = Copy();
                lines.Insert(at, Conflicting(_lines[line], rng));
                return new(name, Join(lines), new Expect.Throws(at + 1, kind is FileKind.Corpus or FileKind.Queries ? $"first at line {line + 1}" : $"line {line + 1}"));
            }
            case "huge-field":
            {
                string huge = new string('x', 1 << 19) + "é" + new string('y', (1 << 19) - 2);
                var lines = Copy();
                if (Json)
                {
                    string field = kind switch { FileKind.Corpus => "title", FileKind.Queries => "text", _ => "query" };
                    var obj = JsonNode.Parse(Text(lines[line]))!.AsObject();
                    obj[field] = huge;
                    lines[line] = Bytes(obj.ToJsonString());
                    return new(name, Join(lines), new Expect.Equal(withHugeField(line, huge)!));
                }
                if (kind == FileKind.Run)
                {
                    var f = Text(lines[line]).Split(' ');
                    f[5] = huge;
                    lines[line] = Bytes(string.Join(' ', f));
                    return new(name, Join(lines), new Expect.Same());
                }
                lines.Add(Bytes($"qhuge\t{huge}\t2"));
                return new(name, Join(lines), new Expect.Equal([.. baseline(), $"qhuge\t{huge}\t2"]));
            }
            case "wrong-type":
            {
                var lines = Copy();
                if (Json)
                {
                    string[] fields = kind switch
                    {
                        FileKind.Corpus => ["_id", "title", "text"],
                        FileKind.Queries => ["_id", "text"],
                        _ => ["user", "query", "item", "ts", "signals"],
                    };
                    string field = fields[rng.Next(fields.Length)];
                    string[] values = field switch
                    {
                        "_id" => ["[1, 2]", "{\"a\": 1}", "true", "null", "\"\"", "\"a b\""],
                        "signals" => ["\"x\"", "[1]", "true", "{\"click\": \"yes\"}"],
                        "ts" => ["true", "[1]", "{\"a\": 1}", "\"yesterday\"", "null"],
                        _ => ["[1, 2]", "{\"a\": 1}", "true", "false"],
                    };
                    lines[line] = WithRaw(lines[line], field, values[rng.Next(values.Length)]);
                    return new(name, Join(lines), new Expect.Throws(line + 1));
                }
                var cols = Fields(lines[line]);
                int col = kind == FileKind.Qrels ? 2 : 3 + rng.Next(2);
                cols[col] = new[] { "x", "3.5", "1e3", "0x3", "", "nan", "Infinity", "1e999", "--1" }[rng.Next(9)];
                if (kind == FileKind.Run && col == 4 && cols[col] == "3.5") cols[col] = "x";
                if (kind == FileKind.Run && col == 4 && cols[col] == "1e3") cols[col] = "1e3x";
                lines[line] = Bytes(string.Join(Sep, cols));
                return new(name, Join(lines), new Expect.Throws(line + 1));
            }
            case "missing-field":
            {
                var lines = Copy();
                if (Json)
                {
                    string[] required = kind switch
                    {
                        FileKind.Corpus => ["_id"],
                        FileKind.Queries => ["_id", "text"],
                        _ => ["user", "query", "ts"],
                    };
                    var obj = JsonNode.Parse(Text(lines[line]))!.AsObject();
                    obj.Remove(required[rng.Next(required.Length)]);
                    lines[line] = Bytes(obj.ToJsonString());
                    return new(name, Join(lines), new Expect.Throws(line + 1, "missing"));
                }
                var cols = Fields(lines[line]).ToList();
                cols.RemoveAt(rng.Next(cols.Count));
                lines[line] = Bytes(string.Join(Sep, cols));
                return new(name, Join(lines), new Expect.Throws(line + 1, "expected"));
            }
            case "extra-field":
            {
                var lines = Copy();
                if (Json)
                {
                    var obj = JsonNode.Parse(Text(lines[line]))!.AsObject();
                    obj["zz_extra"] = JsonNode.Parse("[1, {\"a\": null, \"b\": \"\\ud83d\\ude00\"}, \"x\"]");
                    lines[line] = Bytes(obj.ToJsonString());
                    return new(name, Join(lines), new Expect.Same());
                }
                lines[line] = [.. lines[line], .. Bytes(Sep + "extra")];
                return new(name, Join(lines), new Expect.Throws(line + 1, "expected"));
            }
            case "lone-surrogate":
            {
                string[] fields = kind switch
                {
                    FileKind.Corpus => ["_id", "title", "text"],
                    FileKind.Queries => ["_id", "text"],
                    _ => ["user", "query", "item"],
                };
                string[] values = ["\"\\ud800\"", "\"ab\\udfffcd\"", "\"x\\ud83d\"", "\"\\ude00\\ud83d\"", "\"\\uD800\\u0041\""];
                var lines = Copy();
                lines[line] = WithRaw(lines[line], fields[rng.Next(fields.Length)], values[rng.Next(values.Length)]);
                return new(name, Join(lines), new Expect.Throws(line + 1, "surrogate"));
            }
            case "reserialize":
            {
                // Same values, other spelling: every non-ASCII character and some ASCII ones as \u escapes, spaces dropped.
                var lines = Copy();
                for (int i = 0; i < lines.Count; i++) lines[i] = Bytes(JsonNode.Parse(Text(lines[i]))!.ToJsonString());
                return new(name, Join(lines), new Expect.Same());
            }
            case "escape-ascii":
            {
                // One letter inside a string written as \u00XX: the same text.
                var lines = Copy();
                string text = Text(lines[line]);
                var letters = Enumerable.Range(0, text.Length).Where(i => char.IsAsciiLetter(text[i]) && InsideStringValue(text, i)).ToArray();
                if (letters.Length == 0) return new(name, original, new Expect.Same());
                int p = letters[rng.Next(letters.Length)];
                lines[line] = Bytes(text[..p] + $"\\u{(int)text[p]:x4}" + text[(p + 1)..]);
                return new(name, Join(lines), new Expect.Same());
            }
            case "grade-range":
            {
                var lines = Copy();
                var cols = Fields(lines[line]);
                cols[2] = new[] { "5", "40", "-1", "2147483647", "99999999999", "1000000" }[rng.Next(6)];
                lines[line] = Bytes(string.Join(Sep, cols));
                return new(name, Join(lines), new Expect.Throws(line + 1));
            }
            case "bad-number":
                return Make("wrong-type", rng) with { Name = name };
            case "manifest-bad-value":
            {
                string[] bad =
                [
                    "{\"relevance_threshold\": \"3\", \"grades\": [0, 4]}", "{\"relevance_threshold\": 7, \"grades\": [0, 4]}",
                    "{\"relevance_threshold\": 3, \"grades\": [4, 0]}", "{\"relevance_threshold\": 3, \"grades\": [0]}",
                    "{\"relevance_threshold\": 3, \"grades\": [0, 1000]}", "{\"relevance_treshold\": 3}", "[3, [0, 4]]",
                    "{\"relevance_threshold\": 3.5}", "{\"relevance_threshold\": 3} {}", "{\"grades\": [0, 4], \"relevance_threshold\": 3,}",
                    "{\"description\": \"\\ud800\", \"relevance_threshold\": 3}",
                ];
                return new(name, Bytes(bad[rng.Next(bad.Length)] + "\n"), new Expect.Throws(1));
            }
            default:
                throw new ArgumentException(name);
        }
    }

    private string Sep => kind == FileKind.Qrels ? "\t" : " ";
    private string[] Fields(byte[] line) => Text(line).Split(Sep[0]);

    /// <summary>The line with <paramref name="field"/> set to raw JSON text (added when absent).</summary>
    private static byte[] WithRaw(byte[] line, string field, string raw)
    {
        var obj = JsonNode.Parse(Text(line))!.AsObject();
        obj[field] = "@@FUZZ@@";
        return Bytes(obj.ToJsonString().Replace("\"@@FUZZ@@\"", raw));
    }

    /// <summary>The line changed so that it judges or describes the same key differently.</summary>
    private byte[] Conflicting(byte[] line, Random rng)
    {
        switch (kind)
        {
            case FileKind.Corpus or FileKind.Queries:
            {
                var obj = JsonNode.Parse(Text(line))!.AsObject();
                string field = kind == FileKind.Corpus ? "title" : "text";
                obj[field] = (string?)obj[field] + " (other)";
                return Bytes(obj.ToJsonString());
            }
            case FileKind.Qrels:
            {
                var f = Fields(line);
                f[2] = ((int.Parse(f[2]) + 1 + rng.Next(4)) % 5).ToString();
                return Bytes(string.Join('\t', f));
            }
            default:
            {
                var f = Fields(line);
                f[4] = (double.Parse(f[4], System.Globalization.CultureInfo.InvariantCulture) + 1).ToString("R", System.Globalization.CultureInfo.InvariantCulture);
                return Bytes(string.Join(' ', f));
            }
        }
    }

    private static bool InsideStringValue(string json, int at)
    {
        // Within a string that follows ": ", counting quotes from the start (the sample has no escaped quotes before letters that matter).
        bool inString = false, isValue = false;
        for (int i = 0; i < at; i++)
        {
            if (json[i] == '\\') { i++; continue; }
            if (json[i] == '"')
            {
                if (!inString) isValue = json[..i].TrimEnd().EndsWith(':');
                inString = !inString;
            }
        }
        return inString && isValue;
    }

    private static List<string> Inserted(IReadOnlyList<string> records, int from, int at)
    {
        var list = records.ToList();
        list.Insert(at, records[from]);
        return list;
    }
}
