using System.Text.Json;

namespace GenSearch.Cli.Tests;

/// <summary><c>gensearch compare</c> over the homedepot-shaped sample: the queries and means of eval, the tests, clean errors.</summary>
public sealed class CompareCommandTests : IDisposable
{
    private static readonly string Sample = Path.Combine(AppContext.BaseDirectory, "Data", "homedepot-sample");
    private static readonly string SampleRun = Path.Combine(Sample, "run.trec");
    private readonly string _dir = Directory.CreateTempSubdirectory("gensearch-compare").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>
    /// A run that answers the sample run's queries with items of no catalog (so every query scores 0),
    /// and leaves its first five queries out.
    /// </summary>
    private string WorseRun()
    {
        var queries = File.ReadLines(SampleRun).Select(l => l.Split(' ')[0]).Distinct().ToArray();
        string path = Path.Combine(_dir, "worse.trec");
        File.WriteAllLines(path, queries.Skip(5).SelectMany(q => Enumerable.Range(1, 10).Select(r => $"{q} Q0 nowhere{r} {r} {100 - r} worse")));
        return path;
    }

    private static string Row(string stdout, string metric) => stdout.Split('\n').Single(l => l.StartsWith($"| {metric} |", StringComparison.Ordinal));

    [Fact]
    public void ARunComparedWithItselfDiffersByNothingAndScoresAsEvalDoes()
    {
        var (code, stdout, stderr) = CliTests.Run("compare", SampleRun, SampleRun, "--data", Sample, "--split", "dev", "--trials", "500");
        Assert.True(code == 0, stderr);
        Assert.Contains("25 queries with a relevant item (grade >= 3); 0 have no results in A and 0 none in B", stdout);
        var cells = Row(stdout, "NDCG@10").Split('|', StringSplitOptions.TrimEntries);
        Assert.Equal(["0.0000", "0.00%", "1.0000", "1.0000", "0", "25", "0"], cells[4..11]);
        Assert.Equal(12, stdout.Split('\n').Count(l => l.StartsWith("| ", StringComparison.Ordinal) && !l.StartsWith("| metric", StringComparison.Ordinal)));

        var (evalCode, evalOut, _) = CliTests.Run("eval", "--data", Sample, "--split", "dev", "--from-run", SampleRun);
        Assert.Equal(0, evalCode);
        string evalNdcg = Row(evalOut, "NDCG@10").Split('|', StringSplitOptions.TrimEntries)[2];
        Assert.Equal(evalNdcg, cells[2]);
        Assert.Equal(evalNdcg, cells[3]);
    }

    [Fact]
    public void ExcludingTheItemsAnotherSplitJudgedScoresOnlyTheRest()
    {
        // Dev: q1 judges d1 and d2 relevant, q2 judges d3. Train judges d1 and d3 (for other queries).
        string data = Path.Combine(_dir, "leak");
        Directory.CreateDirectory(Path.Combine(data, "qrels"));
        File.WriteAllLines(Path.Combine(data, "corpus.jsonl"), Enumerable.Range(1, 4).Select(i => $"{{\"_id\": \"d{i}\", \"title\": \"query item {i}\", \"text\": \"\"}}"));
        File.WriteAllLines(Path.Combine(data, "queries.jsonl"), new[] { "q1", "q2", "t1", "t2" }.Select(q => $"{{\"_id\": \"{q}\", \"text\": \"query {q}\"}}"));
        File.WriteAllLines(Path.Combine(data, "qrels", "dev.tsv"), ["query-id\tcorpus-id\tscore", "q1\td1\t1", "q1\td2\t1", "q2\td3\t1"]);
        File.WriteAllLines(Path.Combine(data, "qrels", "train.tsv"), ["query-id\tcorpus-id\tscore", "t1\td1\t1", "t2\td3\t0"]);
        string run = Path.Combine(_dir, "leak.trec"), written = Path.Combine(_dir, "written.trec"), report = Path.Combine(_dir, "leak.json");
        // q1: d1 then d2; q2: d4 then d3.
        File.WriteAllLines(run, ["q1 Q0 d1 1 2 r", "q1 Q0 d2 2 1 r", "q2 Q0 d4 1 2 r", "q2 Q0 d3 2 1 r"]);

        var (code, stdout, stderr) = CliTests.Run("eval", "--data", data, "--split", "dev", "--from-run", run, "--report", report);
        Assert.True(code == 0, stderr);
        Assert.Contains("| MRR@10 | 0.7500 |", stdout); // (1 + 1/2) / 2
        Assert.DoesNotContain("no text", stderr);
        // A judged query without text is scored, with a warning naming it (search refuses one outright).
        File.WriteAllLines(Path.Combine(data, "queries.jsonl"), new[] { "q1", "q2", "t1", "t2" }.Select(q => $"{{\"_id\": \"{q}\", \"text\": \"{(q == "q2" ? " " : "query " + q)}\"}}"));
        (code, _, stderr) = CliTests.Run("eval", "--data", data, "--split", "dev", "--from-run", run);
        Assert.True(code == 0, stderr);
        Assert.Contains($"warning: 1 judged query has no text in {Path.Combine(data, "queries.jsonl")} (first: 'q2')", stderr);
        (code, stdout, stderr) = CliTests.Run("eval", "--data", data, "--split", "dev", "--from-run", run, "--exclude-judged-in", "train", "--report", report, "--run", written);
        Assert.True(code == 0, stderr);
        // d1 and d3 (any grade) leave the judgments and the run: q1 keeps d2, now first; q2 has nothing left to find and drops out.
        Assert.Contains("1 queries with a relevant item", stdout);
        Assert.Contains("| MRR@10 | 1.0000 |", stdout);
        Assert.Contains("items judged in train excluded", stdout);
        Assert.Contains("2 items removed", stderr);
        using (var json = JsonDocument.Parse(File.ReadAllText(report))) Assert.Equal("train", json.RootElement.GetProperty("excluded_judged_in").GetString());
        Assert.Contains(File.ReadLines(written), l => l.StartsWith("q1 Q0 d1 ", StringComparison.Ordinal)); // the run written is the run as it came

        (code, stdout, stderr) = CliTests.Run("compare", run, run, "--data", data, "--split", "dev", "--exclude-judged-in", "train", "--metric", "MRR@10", "--trials", "100");
        Assert.True(code == 0, stderr);
        Assert.Contains("1 queries with a relevant item", stdout);
        Assert.Contains("| MRR@10 | 1.0000 | 1.0000 |", stdout);
        // Runs that keep lists of different lengths are compared at equal depth: B finds d2 at its 3rd place, which
        // A's one remaining result does not reach, so Recall@10 ties at 0 rather than crediting B's longer list.
        string deeper = Path.Combine(_dir, "deeper.trec"), shallow = Path.Combine(_dir, "shallow.trec");
        File.WriteAllLines(shallow, ["q1 Q0 d4 1 2 s", "q1 Q0 d1 2 1 s"]);
        File.WriteAllLines(deeper, ["q1 Q0 d4 1 3 s", "q1 Q0 d3 2 2 s", "q1 Q0 d2 3 1 s"]);
        (code, stdout, stderr) = CliTests.Run("compare", shallow, deeper, "--data", data, "--split", "dev", "--exclude-judged-in", "train", "--metric", "Recall@10", "--trials", "100");
        Assert.True(code == 0, stderr);
        Assert.Contains("run A keeps 1.0 results a query and run B 2.0 (means); both are cut, query by query, to the shorter list (1.0)", stderr);
        Assert.Contains("| Recall@10 | 0.0000 | 0.0000 |", stdout);
        // eval searches every judged query, the excluded ones too, so the run it writes is whole.
        File.WriteAllLines(Path.Combine(data, "queries.jsonl"), new[] { "q1", "q2", "t1", "t2" }.Select(q => $"{{\"_id\": \"{q}\", \"text\": \"query {q}\"}}"));
        (code, _, stderr) = CliTests.Run("eval", "--data", data, "--split", "dev", "--retriever", "bm25", "--exclude-judged-in", "train", "--run", written);
        Assert.True(code == 0, stderr);
        Assert.Contains(File.ReadLines(written), l => l.StartsWith("q2 Q0 ", StringComparison.Ordinal));
        Assert.Contains("fewer than the cut-off 100", stderr);
        (code, _, stderr) = CliTests.Run("eval", "--data", data, "--split", "dev", "--from-run", run, "--exclude-judged-in", "dev");
        Assert.Equal(1, code);
        Assert.Contains("--exclude-judged-in dev: that is the split scored", stderr);
        (code, _, stderr) = CliTests.Run("compare", run, run, "--data", data, "--exclude-judged-in", "test");
        Assert.Contains($"--exclude-judged-in test: {Path.Combine(data, "qrels", "test.tsv")} does not exist", stderr);
    }

    [Fact]
    public void AWorseRunIsComparedAndReported()
    {
        string report = Path.Combine(_dir, "compare.json");
        var (code, stdout, stderr) = CliTests.Run("compare", SampleRun, WorseRun(), "--data", Sample, "--split", "dev",
            "--metric", "NDCG@10,mrr@10", "--metric", "Recall@5", "--trials", "2000", "--seed", "3", "--report", report);
        Assert.True(code == 0, stderr);
        Assert.Contains("0 have no results in A and 5 none in B (they score 0 there)", stdout);
        Assert.Contains("| MRR@10 |", stdout);
        Assert.Contains("| Recall@5 |", stdout); // a cut-off eval does not report by default

        using var json = JsonDocument.Parse(File.ReadAllText(report));
        var root = json.RootElement;
        Assert.Equal((25, 5, 2000, 3), (root.GetProperty("queries").GetInt32(), root.GetProperty("missing_from_b").GetInt32(),
            root.GetProperty("trials").GetInt32(), root.GetProperty("seed").GetInt32()));
        var metrics = root.GetProperty("metrics").EnumerateArray().ToArray();
        Assert.Equal(["NDCG@10", "MRR@10", "Recall@5"], metrics.Select(m => m.GetProperty("metric").GetString()));
        foreach (var m in metrics)
        {
            Assert.Equal(25, m.GetProperty("b_wins").GetInt32() + m.GetProperty("ties").GetInt32() + m.GetProperty("a_wins").GetInt32());
            Assert.Equal(m.GetProperty("mean_b").GetDouble() - m.GetProperty("mean_a").GetDouble(), m.GetProperty("difference").GetDouble(), 5);
            Assert.InRange(m.GetProperty("p_randomization").GetDouble(), 1.0 / 2001, 1);
        }
        var ndcg = metrics[0]; // A finds a relevant item for every query, B for none: A wins all 25
        Assert.Equal((0, 0, 25), (ndcg.GetProperty("b_wins").GetInt32(), ndcg.GetProperty("ties").GetInt32(), ndcg.GetProperty("a_wins").GetInt32()));
        Assert.Equal(-ndcg.GetProperty("mean_a").GetDouble(), ndcg.GetProperty("difference").GetDouble(), 5);
        Assert.Equal(1.0 / 2001, ndcg.GetProperty("p_randomization").GetDouble()); // exact p 2 / 2^25: no shuffle reaches it
        Assert.True(ndcg.GetProperty("p_paired_t").GetDouble() < 1e-6);
        Assert.Equal(24, ndcg.GetProperty("t_degrees_of_freedom").GetInt32());
        Assert.Contains("warning: run B:", stderr); // its items are in no catalog

        // The same seed gives the same table.
        var (_, again, _) = CliTests.Run("compare", SampleRun, WorseRun(), "--data", Sample, "--split", "dev",
            "--metric", "NDCG@10,mrr@10", "--metric", "Recall@5", "--trials", "2000", "--seed", "3");
        Assert.Equal(stdout, again);
    }

    [Fact]
    public void ABadRunFileIsOneLineWithFileAndLine()
    {
        string bad = Path.Combine(_dir, "bad.trec");
        File.WriteAllLines(bad, ["q00013 Q0 101063 1 9.3 t", "q00013 Q0 137988 2 8.5 t", "q00013 Q0 101911 3 t"]);
        var (code, stdout, stderr) = CliTests.Run("compare", SampleRun, bad, "--data", Sample);
        Assert.Equal(1, code);
        Assert.Equal("", stdout);
        Assert.Contains($"gensearch: error: {bad}:3: expected 6 fields", stderr);
        Assert.DoesNotContain("   at ", stderr);

        (code, _, stderr) = CliTests.Run("compare", SampleRun, Path.Combine(_dir, "missing.trec"), "--data", Sample);
        Assert.Equal(1, code);
        Assert.Contains("missing.trec: file not found", stderr);
    }

    [Theory]
    [InlineData("--metric", "MAP@10", "metric 'MAP@10': expected FAMILY@K")]
    [InlineData("--metric", "NDCG@0", "metric 'NDCG@0'")]
    [InlineData("--trials", "0", "--trials 0 is out of range")]
    [InlineData("--report", "out.txt", "the extension picks the format")]
    [InlineData("--threshold", "9", "relevance threshold 9 is outside the grades")]
    public void BadOptionsAreOneLine(string option, string value, string message)
    {
        var (code, stdout, stderr) = CliTests.Run("compare", SampleRun, SampleRun, "--data", Sample, option, value);
        Assert.Equal(1, code);
        Assert.Equal("", stdout);
        Assert.StartsWith("gensearch: error: ", stderr.Split('\n').Last(l => l.Length > 0));
        Assert.Contains(message, stderr);
    }
}
