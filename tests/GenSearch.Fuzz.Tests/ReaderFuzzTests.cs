using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using GenSearch.Data;
using GenSearch.Evaluation;
using Xunit.Abstractions;

namespace GenSearch.Fuzz.Tests;

/// <summary>
/// Mutation fuzzing of every reader and of the evaluation end to end, over a small slice of homedepot
/// (Data/homedepot-sample, made by Data/make-sample.py). Each case mutates one file of a fresh copy
/// with a seeded generator and checks the outcome against what the mutation must do (see
/// <see cref="Expect"/>): the same records as the clean file for harmless changes, a
/// <see cref="DataFormatException"/> or <see cref="EvaluationFormatException"/> whose message starts
/// "path:line: " for detectable ones, never another exception and never a silently different result.
/// A failure names the seed and mutation; set GENSEARCH_FUZZ_CASES to run more cases per reader.
/// </summary>
public sealed class ReaderFuzzTests(ITestOutputHelper output) : IDisposable
{
    private const int Seed = 20261130;
    private static readonly int Cases = int.TryParse(Environment.GetEnvironmentVariable("GENSEARCH_FUZZ_CASES"), out int n) ? n : 600;
    private static readonly string Sample = Path.Combine(AppContext.BaseDirectory, "Data", "homedepot-sample");

    private readonly string _dir = Path.Combine(Directory.CreateTempSubdirectory("gensearch-fuzz-").FullName, "homedepot-sample");

    public void Dispose() => Directory.Delete(Path.GetDirectoryName(_dir)!, recursive: true);

    /// <summary>The case counts of every run, for the RESULTS line.</summary>
    private static int _total;

    private void CopySample()
    {
        foreach (var file in Directory.GetFiles(Sample, "*", SearchOption.AllDirectories))
        {
            var to = Path.Combine(_dir, Path.GetRelativePath(Sample, file));
            Directory.CreateDirectory(Path.GetDirectoryName(to)!);
            File.Copy(file, to, overwrite: true);
        }
    }

    private string PathOf(FileKind kind) => kind switch
    {
        FileKind.Corpus => Path.Combine(_dir, "corpus.jsonl"),
        FileKind.Queries => Path.Combine(_dir, "queries.jsonl"),
        FileKind.Qrels => Path.Combine(_dir, "qrels", "dev.tsv"),
        FileKind.Interactions => Path.Combine(_dir, "interactions.jsonl"),
        FileKind.Run => Path.Combine(_dir, "run.trec"),
        _ => Path.Combine(_dir, DatasetManifest.FileName),
    };

    private sealed record Outcome(IReadOnlyList<string>? Records, Exception? Error, IReadOnlyList<string> Warnings);

    // ---- canonical records: every field that a reader returns, in order ----

    private static string Canon(Document d) => string.Join('\u0001', d.Id, d.Title, d.Text,
        d.Features == null ? "-" : string.Join(',', d.Features.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}={kv.Value:R}")),
        d.Vector == null ? "-" : string.Join(',', d.Vector.Select(v => v.ToString("R", CultureInfo.InvariantCulture))));

    private static string Canon(Query q) => string.Join('\u0001', q.Id, q.Text, q.User ?? "-");

    private static string Canon(Interaction i) => string.Join('\u0001', i.User, i.Query, i.Item ?? "-", i.Timestamp.ToString("R", CultureInfo.InvariantCulture),
        string.Join(',', i.Signals.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}={kv.Value:R}")));

    private static IReadOnlyList<string> Canon(Qrels qrels) =>
        qrels.QueryIds.SelectMany(q => qrels.For(q).Select(kv => $"{q}\t{kv.Key}\t{kv.Value}")).ToList();

    private static IReadOnlyList<string> Canon(Run run) =>
        run.QueryIds.SelectMany(q => run.For(q).Select(d => $"{q}\t{d.DocId}\t{d.Score:R}")).ToList();

    /// <summary>Reads one kind of file (or, for <paramref name="endToEnd"/>, the whole evaluation) into canonical records.</summary>
    private Outcome Read(FileKind kind, bool endToEnd)
    {
        var warnings = new List<string>();
        try
        {
            IReadOnlyList<string> records = endToEnd ? [Evaluate(warnings)] : kind switch
            {
                FileKind.Corpus => BeirReader.ReadCorpus(PathOf(kind)).Select(Canon).ToList(),
                FileKind.Queries => BeirReader.ReadQueries(PathOf(kind)).Select(Canon).ToList(),
                FileKind.Interactions => InteractionReader.Read(PathOf(kind)).Select(Canon).ToList(),
                FileKind.Qrels => Canon(BeirReader.ReadQrels(PathOf(kind), warn: warnings.Add, grades: new GradeRange(0, 4)).Qrels),
                FileKind.Run => Canon(TrecRun.Read(PathOf(kind))),
                _ => [DatasetManifest.Read(PathOf(kind)) is var m ? $"{m.RelevanceThreshold} {m.Grades}" : ""],
            };
            return new Outcome(records, null, warnings);
        }
        catch (Exception e) { return new Outcome(null, e, warnings); }
    }

    /// <summary>What the CLI does: open the data set, read qrels and the run, check, score, write the JSON report.</summary>
    private string Evaluate(List<string> warnings)
    {
        var set = BeirDataset.Open(_dir);
        // Corpus and queries are not mutated end to end: their ids are read once.
        var queryIds = _queryIds ??= set.Queries().Select(q => q.Id).ToHashSet(StringComparer.Ordinal);
        var docIds = _docIds ??= set.Corpus().Select(d => d.Id).ToHashSet(StringComparer.Ordinal);
        var qrels = set.Qrels("dev", queryIds, docIds, warnings.Add).Qrels;
        var run = TrecRun.Read(PathOf(FileKind.Run));
        warnings.AddRange(RunCheck.Check(qrels, run, docIds.Contains).Warnings);
        var result = Evaluator.Evaluate(qrels, run, set.EvaluationOptions());
        string json = Report.Json(result, new Dictionary<string, string> { ["split"] = "dev" });
        using var doc = JsonDocument.Parse(json);
        foreach (var p in doc.RootElement.EnumerateObject())
            if (p.Value.ValueKind == JsonValueKind.Null) throw new FuzzInvariantException($"report field {p.Name} is null (a non-finite metric)");
        if (Report.Markdown(result, "t").Contains("NaN")) throw new FuzzInvariantException("NaN in the Markdown report");
        return json;
    }

    private HashSet<string>? _queryIds, _docIds;

    private sealed class FuzzInvariantException(string message) : Exception(message);

    /// <summary>Null when <paramref name="o"/> meets <paramref name="expect"/>, else why not.</summary>
    private string? Check(Expect expect, Outcome o, Outcome clean, string path, Func<byte[], Outcome> readBytes)
    {
        if (o.Error != null)
        {
            if (o.Error is not (DataFormatException or EvaluationFormatException))
                return $"unexpected exception {o.Error}";
            if (!Regex.IsMatch(o.Error.Message, "^" + Regex.Escape(path) + ":[1-9][0-9]*: "))
                return $"error message does not start with '{path}:<line>: ': {o.Error.Message}";
        }
        switch (expect)
        {
            case Expect.Same same:
                if (o.Error != null) return $"harmless mutation rejected: {o.Error.Message}";
                if (!o.Records!.SequenceEqual(clean.Records!)) return "harmless mutation changed the result";
                foreach (var w in same.Warnings)
                    if (!o.Warnings.Any(x => x.Contains(w, StringComparison.Ordinal)))
                        return $"no warning with '{w}' among [{string.Join(" | ", o.Warnings)}]";
                return null;
            case Expect.Throws t:
                if (o.Error == null) return $"mutation not detected (expected an error at line {t.Line})";
                if (!o.Error.Message.StartsWith($"{path}:{t.Line}: ", StringComparison.Ordinal)) return $"error at the wrong line (expected {t.Line}): {o.Error.Message}";
                if (t.Contains != null && !o.Error.Message.Contains(t.Contains, StringComparison.Ordinal)) return $"error without '{t.Contains}': {o.Error.Message}";
                return null;
            case Expect.Located:
                return o.Error == null ? "mutation not detected" : null;
            case Expect.Equal eq:
                if (o.Error != null) return $"valid change rejected: {o.Error.Message}";
                return o.Records!.SequenceEqual(eq.Records) ? null : "valid change read wrongly";
            case Expect.Like like:
            {
                var reference = readBytes(like.Reference);
                if (reference.Error != null)
                    return o.Error?.Message == reference.Error.Message ? null : $"expected the error '{reference.Error.Message}', got {(o.Error?.Message ?? "a result")}";
                if (o.Error != null) return $"expected what the clean prefix gives, got {o.Error.Message}";
                return o.Records!.SequenceEqual(reference.Records!) ? null : "result differs from the clean prefix's";
            }
            case Expect.AnyOf any:
            {
                var reasons = any.Options.Select(e => Check(e, o, clean, path, readBytes)).ToList();
                return reasons.Any(r => r == null) ? null : string.Join(" / ", reasons);
            }
            case Expect.Confined c:
            {
                if (o.Error != null) return null;
                var before = clean.Records!.GroupBy(r => r).ToDictionary(g => g.Key, g => g.Count());
                var after = o.Records!.GroupBy(r => r).ToDictionary(g => g.Key, g => g.Count());
                int removed = before.Sum(kv => Math.Max(0, kv.Value - after.GetValueOrDefault(kv.Key)));
                int added = after.Sum(kv => Math.Max(0, kv.Value - before.GetValueOrDefault(kv.Key)));
                return removed <= c.Lines && added <= c.Lines ? null : $"a {c.Lines}-line change altered {removed} records and added {added}";
            }
            case Expect.Anything:
                return null;
        }
        return "unknown expectation";
    }

    [Theory]
    [InlineData(FileKind.Corpus, false)]
    [InlineData(FileKind.Queries, false)]
    [InlineData(FileKind.Qrels, false)]
    [InlineData(FileKind.Interactions, false)]
    [InlineData(FileKind.Run, false)]
    [InlineData(FileKind.Manifest, false)]
    [InlineData(FileKind.Qrels, true)]
    [InlineData(FileKind.Run, true)]
    public void Mutated_files_are_read_identically_or_rejected_with_file_and_line(FileKind kind, bool endToEnd)
    {
        CopySample();
        string path = PathOf(kind);
        byte[] original = File.ReadAllBytes(path);
        var clean = Read(kind, endToEnd);
        Assert.Null(clean.Error);
        Assert.Empty(clean.Warnings);

        // Every case writes its own bytes over the file, so nothing needs restoring between cases.
        Outcome ReadBytes(byte[] bytes)
        {
            File.WriteAllBytes(path, bytes);
            return Read(kind, endToEnd);
        }

        // Expected records for a 1 MB text field in record i (JSON files only).
        IReadOnlyList<string>? WithHuge(int i, string huge) => kind switch
        {
            FileKind.Corpus => BeirReader.ReadCorpus(Path.Combine(Sample, "corpus.jsonl")).Select((d, j) => Canon(j == i ? d with { Title = huge } : d)).ToList(),
            FileKind.Queries => BeirReader.ReadQueries(Path.Combine(Sample, "queries.jsonl")).Select((q, j) => Canon(j == i ? q with { Text = huge } : q)).ToList(),
            FileKind.Interactions => InteractionReader.Read(Path.Combine(Sample, "interactions.jsonl")).Select((e, j) => Canon(j == i ? e with { Query = huge } : e)).ToList(),
            _ => null,
        };

        var mutator = new Mutator(kind, original, () => clean.Records!, WithHuge);
        int seed = Seed + (int)kind * 1000 + (endToEnd ? 100_000 : 0);
        var failures = new List<string>();
        var tried = new Dictionary<string, int>(StringComparer.Ordinal);
        var spent = new Dictionary<string, double>(StringComparer.Ordinal);
        var sw = Stopwatch.StartNew();
        for (int c = 0; c < Cases; c++)
        {
            long started = Stopwatch.GetTimestamp();
            var rng = new Random(seed + c);
            var mutation = mutator.Next(rng);
            var expect = endToEnd ? ForEndToEnd(mutation.Expect) : mutation.Expect;
            tried[mutation.Name] = tried.GetValueOrDefault(mutation.Name) + 1;
            var outcome = ReadBytes(mutation.Bytes);
            if (Check(expect, outcome, clean, path, ReadBytes) is { } why)
                failures.Add($"seed {seed + c}, {kind}{(endToEnd ? " end to end" : "")}, {mutation.Name}: {why}");
            spent[mutation.Name] = spent.GetValueOrDefault(mutation.Name) + Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        }
        Interlocked.Add(ref _total, Cases);
        output.WriteLine($"{kind}{(endToEnd ? " end to end" : "")}: {Cases} cases in {sw.Elapsed.TotalSeconds:F1} s, {failures.Count} failed " +
                         $"({string.Join(", ", tried.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key} {kv.Value} ({spent[kv.Key]:F0} ms)"))}); {_total} cases so far in this run");
        Assert.True(failures.Count == 0, $"{failures.Count} of {Cases} cases failed:\n" + string.Join("\n", failures.Take(20)));
    }

    /// <summary>End to end the result is the report: records-level oracles become "a report or a located error".</summary>
    private static Expect ForEndToEnd(Expect e) => e switch
    {
        Expect.Equal or Expect.Confined => new Expect.Anything(),
        Expect.AnyOf any => new Expect.AnyOf(any.Options.Select(ForEndToEnd).ToArray()),
        _ => e,
    };
}
