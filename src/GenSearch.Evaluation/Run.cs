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

    /// <summary>
    /// This run without the documents in <paramref name="excluded"/>: the rest keep their order and scores, moving
    /// up into the places freed (see <see cref="Qrels.Without"/>). The lists get shorter, by as much as each run
    /// placed excluded documents: compare two such runs at equal depth (<see cref="AtEqualDepth"/>).
    /// </summary>
    public Run Without(IReadOnlySet<string> excluded)
    {
        var result = new Run();
        foreach (var (query, ranked) in _byQuery) result.Set(query, [.. ranked.Where(d => !excluded.Contains(d.DocId))]);
        return result;
    }

    /// <summary>Mean list length over the runs' queries (0 for an empty run).</summary>
    public double MeanDepth => _byQuery.Count == 0 ? 0 : _byQuery.Values.Average(r => r.Count);

    /// <summary>
    /// Both runs cut, query by query, to the shorter of their two lists. A query that one run has no results for is
    /// left as it is: that run scores 0 there, as always. After <see cref="Without"/>, two runs searched to the same
    /// depth keep lists of different lengths (on homedepot dev, BM25's top 100 keeps 31 items on average and a
    /// generative model's 42), and deep metrics such as Recall@100 would then measure the lengths.
    /// </summary>
    public static (Run A, Run B) AtEqualDepth(Run a, Run b) => (a.CutTo(b), b.CutTo(a));

    /// <summary>This run with each query's list cut to <paramref name="other"/>'s length there, when both have one.</summary>
    private Run CutTo(Run other)
    {
        var result = new Run();
        foreach (var (query, ranked) in _byQuery)
        {
            int theirs = other.For(query).Count;
            result.Set(query, ranked.Count > theirs && theirs > 0 ? [.. ranked.Take(theirs)] : ranked);
        }
        return result;
    }
}

/// <summary>Thrown for a malformed TREC run or qrels file. The message reads "file:line: what is wrong".</summary>
public sealed class EvaluationFormatException(string file, long line, string problem)
    : Exception(line > 0 ? $"{file}:{line}: {problem}" : $"{file}: {problem}")
{
    /// <summary>The file that holds the bad line.</summary>
    public string File { get; } = file;
    /// <summary>1-based line number, or 0 when the problem is the file as a whole.</summary>
    public long Line { get; } = line;
    /// <summary>What is wrong, without the location.</summary>
    public string Problem { get; } = problem;
}

/// <summary>
/// TREC run files, one line per result: <c>qid Q0 docid rank score tag</c>, whitespace-separated, so
/// trec_eval and any other tool can score GenSearch and GenSearch can score their runs. Every field is
/// one word: ids and tags with whitespace cannot be written (use <see cref="Tag"/> to make a tag from
/// a file name), and a line with other than six fields is an error naming file and line.
/// </summary>
public static class TrecRun
{
    /// <summary>
    /// A valid run tag made from any name (say a run file's name without extension): whitespace and
    /// control characters become '_', and an empty name gives "run".
    /// </summary>
    public static string Tag(string name)
    {
        var chars = name.Select(c => char.IsWhiteSpace(c) || char.IsControl(c) ? '_' : c).ToArray();
        return chars.Length == 0 ? "run" : new string(chars);
    }

    /// <summary>
    /// Writes <paramref name="run"/> in TREC format with ranks from 1, queries in run order. Throws
    /// <see cref="ArgumentException"/> before writing anything when the tag, a query id or a document id
    /// is empty or holds whitespace, or a score is not finite (such a line could not be read back).
    /// </summary>
    public static void Write(Run run, TextWriter writer, string tag)
    {
        Check(run, tag);
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

    /// <summary>
    /// Writes <paramref name="run"/> to the file at <paramref name="path"/> atomically: to a temporary file
    /// beside it, then renamed over it. On any failure the temporary file is removed and an existing file
    /// at <paramref name="path"/> is left as it was, so a failed write never leaves an empty or partial run.
    /// </summary>
    public static void Write(Run run, string path, string tag)
    {
        Check(run, tag);
        AtomicFile.Write(path, writer => Write(run, writer, tag));
    }

    private static void Check(Run run, string tag)
    {
        if (!IsWord(tag)) throw new ArgumentException($"the run tag '{tag}' must be one non-empty word (TrecRun.Tag makes one from any name)", nameof(tag));
        foreach (var qid in run.QueryIds)
        {
            if (!IsWord(qid)) throw new ArgumentException($"query id '{qid}' must be one non-empty word to be written in a TREC run", nameof(run));
            foreach (var d in run.For(qid))
            {
                if (!IsWord(d.DocId)) throw new ArgumentException($"document id '{d.DocId}' of query '{qid}' must be one non-empty word to be written in a TREC run", nameof(run));
                if (!double.IsFinite(d.Score)) throw new ArgumentException($"score {d.Score} of document '{d.DocId}' of query '{qid}' is not finite", nameof(run));
            }
        }
    }

    private static bool IsWord(string s) => s.Length > 0 && !s.Any(c => char.IsWhiteSpace(c) || char.IsControl(c));

    /// <summary>
    /// Reads a TREC run file. Each query's documents are ordered by score, highest first, ties by the
    /// file's rank column; a document listed twice for one query is an error, as are malformed lines,
    /// invalid UTF-8 and a file without a single result (a run that is empty says something went wrong
    /// where it was written). Every error is an <see cref="EvaluationFormatException"/> naming file and line.
    /// </summary>
    public static Run Read(string path) => Parse(Lines(path), path);

    /// <summary>Reads a TREC run from <paramref name="reader"/>; <paramref name="name"/> names it in errors.</summary>
    public static Run Read(TextReader reader, string name) => Parse(Lines(reader, name), name);

    private static IEnumerable<(long Line, string Text)> Lines(string path)
    {
        using var lines = new Utf8Lines(path, (file, line, problem) => new EvaluationFormatException(file, line, problem));
        while (lines.Next(out var span)) yield return (lines.LineNumber, Utf8Lines.Text(span));
    }

    private static IEnumerable<(long Line, string Text)> Lines(TextReader reader, string name)
    {
        long lineNo = 0;
        string? line;
        while ((line = ReadLine(reader, name, lineNo + 1)) != null)
        {
            lineNo++;
            if (lineNo == 1 && line.StartsWith('\uFEFF')) line = line[1..];
            yield return (lineNo, line);
        }
    }

    private static Run Parse(IEnumerable<(long Line, string Text)> lines, string name)
    {
        var rows = new Dictionary<string, List<(string Doc, double Score, int Rank)>>(StringComparer.Ordinal);
        var seen = new Dictionary<(string, string), long>();
        foreach (var (lineNo, line) in lines)
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            var f = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (f.Length != 6) throw new EvaluationFormatException(name, lineNo, $"expected 6 fields 'qid Q0 docid rank score tag', found {f.Length}");
            if (!int.TryParse(f[3], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int rank))
                throw new EvaluationFormatException(name, lineNo, $"rank '{f[3]}' is not an integer");
            if (!double.TryParse(f[4], NumberStyles.Float, CultureInfo.InvariantCulture, out double score) || !double.IsFinite(score))
                throw new EvaluationFormatException(name, lineNo, $"score '{f[4]}' is not a finite number");
            if (f.Any(field => field.Any(char.IsControl)))
                throw new EvaluationFormatException(name, lineNo, "control character in a field");
            if (seen.TryGetValue((f[0], f[2]), out long first))
                throw new EvaluationFormatException(name, lineNo, $"document '{f[2]}' is listed twice for query '{f[0]}' (first at line {first})");
            seen[(f[0], f[2])] = lineNo;
            if (!rows.TryGetValue(f[0], out var list)) rows[f[0]] = list = [];
            list.Add((f[2], score, rank));
        }
        if (rows.Count == 0) throw new EvaluationFormatException(name, 1, "no results: the run is empty");
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
