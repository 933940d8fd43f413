using System.Globalization;
using System.Text;

namespace GenSearch.Evaluation;

/// <summary>One ranked result: a document id and the score that placed it.</summary>
public readonly record struct RankedDoc(string DocId, double Score);

/// <summary>Ranked results of many queries: query id -> documents, best first. What every retriever produces.</summary>
public sealed class Run
{
    private readonly Dictionary<string, IReadOnlyList<RankedDoc>> _byQuery = new(StringComparer.Ordinal);

    /// <summary>The query ids, in the order they were added.</summary>
    public IEnumerable<string> QueryIds => _byQuery.Keys;

    /// <summary>Number of queries in the run.</summary>
    public int Count => _byQuery.Count;

    /// <summary>Sets the ranked list of one query (best first).</summary>
    public void Set(string queryId, IReadOnlyList<RankedDoc> ranked) => _byQuery[queryId] = ranked;

    /// <summary>The ranked list of a query; empty when the run has none for it.</summary>
    public IReadOnlyList<RankedDoc> For(string queryId) => _byQuery.TryGetValue(queryId, out var r) ? r : [];
}

/// <summary>Thrown for a malformed TREC run or qrels file: the message names the file and line.</summary>
public sealed class EvaluationFormatException(string file, long line, string problem)
    : Exception($"{file}:{line}: {problem}")
{
    /// <summary>The file that holds the bad line.</summary>
    public string File { get; } = file;
    /// <summary>1-based line number.</summary>
    public long Line { get; } = line;
}

/// <summary>
/// TREC run files, one line per result: <c>qid Q0 docid rank score tag</c>, whitespace-separated, so
/// trec_eval and any other tool can score GenSearch and GenSearch can score their runs.
/// </summary>
public static class TrecRun
{
    /// <summary>Writes <paramref name="run"/> in TREC format with ranks from 1, queries in run order.</summary>
    public static void Write(Run run, TextWriter writer, string tag)
    {
        if (tag.Length == 0 || tag.Any(char.IsWhiteSpace)) throw new ArgumentException("the run tag must be one non-empty word", nameof(tag));
        var line = new StringBuilder();
        foreach (var qid in run.QueryIds)
        {
            var docs = run.For(qid);
            for (int i = 0; i < docs.Count; i++)
            {
                line.Clear();
                line.Append(qid).Append(" Q0 ").Append(docs[i].DocId).Append(' ').Append(i + 1).Append(' ')
                    .Append(docs[i].Score.ToString("R", CultureInfo.InvariantCulture)).Append(' ').Append(tag);
                writer.WriteLine(line);
            }
        }
    }

    /// <summary>Writes <paramref name="run"/> to the file at <paramref name="path"/>.</summary>
    public static void Write(Run run, string path, string tag)
    {
        using var writer = new StreamWriter(path, false, new UTF8Encoding(false));
        Write(run, writer, tag);
    }

    /// <summary>
    /// Reads a TREC run file. Each query's documents are ordered by score, highest first, ties by the
    /// file's rank column; a document listed twice for one query is an error, as are malformed lines.
    /// </summary>
    public static Run Read(string path)
    {
        using var reader = new StreamReader(path, new UTF8Encoding(false, throwOnInvalidBytes: true));
        return Read(reader, path);
    }

    /// <summary>Reads a TREC run from <paramref name="reader"/>; <paramref name="name"/> names it in errors.</summary>
    public static Run Read(TextReader reader, string name)
    {
        var rows = new Dictionary<string, List<(string Doc, double Score, int Rank)>>(StringComparer.Ordinal);
        var seen = new HashSet<(string, string)>();
        long lineNo = 0;
        string? line;
        while ((line = ReadLine(reader, name, lineNo + 1)) != null)
        {
            lineNo++;
            if (line.Length == 0 || string.IsNullOrWhiteSpace(line)) continue;
            var f = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (f.Length != 6) throw new EvaluationFormatException(name, lineNo, $"expected 6 fields 'qid Q0 docid rank score tag', found {f.Length}");
            if (!int.TryParse(f[3], NumberStyles.Integer, CultureInfo.InvariantCulture, out int rank))
                throw new EvaluationFormatException(name, lineNo, $"rank '{f[3]}' is not an integer");
            if (!double.TryParse(f[4], NumberStyles.Float, CultureInfo.InvariantCulture, out double score) || !double.IsFinite(score))
                throw new EvaluationFormatException(name, lineNo, $"score '{f[4]}' is not a finite number");
            if (!seen.Add((f[0], f[2])))
                throw new EvaluationFormatException(name, lineNo, $"document '{f[2]}' is listed twice for query '{f[0]}'");
            if (!rows.TryGetValue(f[0], out var list)) rows[f[0]] = list = [];
            list.Add((f[2], score, rank));
        }
        var run = new Run();
        foreach (var (qid, list) in rows)
            run.Set(qid, list.OrderByDescending(r => r.Score).ThenBy(r => r.Rank)
                .Select(r => new RankedDoc(r.Doc, r.Score)).ToArray());
        return run;
    }

    private static string? ReadLine(TextReader reader, string name, long lineNo)
    {
        try { return reader.ReadLine(); }
        catch (DecoderFallbackException) { throw new EvaluationFormatException(name, lineNo, "invalid UTF-8"); }
    }
}
