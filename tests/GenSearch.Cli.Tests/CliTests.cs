using System.Text.Json;

[assembly: CollectionBehavior(DisableTestParallelization = true)] // the tests swap Console.Out and Console.Error

namespace GenSearch.Cli.Tests;

/// <summary>The front door as a user meets it: bad input is one line and exit code 1, found before any work.</summary>
public sealed class CliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("gensearch-cli").FullName;

    public CliTests()
    {
        string[] things = ["drill", "hose", "fan", "screws"];
        File.WriteAllLines(Path.Combine(_dir, "corpus.jsonl"), things.Select((t, i) =>
            JsonSerializer.Serialize(new Dictionary<string, string> { ["_id"] = $"d{i}", ["title"] = $"red {t} for home", ["text"] = "" })));
        File.WriteAllLines(Path.Combine(_dir, "queries.jsonl"), things.Select((t, i) =>
            JsonSerializer.Serialize(new Dictionary<string, string> { ["_id"] = $"q{i}", ["text"] = $"red {t}" })));
        Directory.CreateDirectory(Path.Combine(_dir, "qrels"));
        File.WriteAllLines(Path.Combine(_dir, "qrels", "dev.tsv"), ["query-id\tcorpus-id\tscore", .. things.Select((_, i) => $"q{i}\td{i}\t1")]);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Runs the CLI in process with stdout and stderr captured.</summary>
    internal static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (oldOut, oldErr) = (Console.Out, Console.Error);
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        Console.SetOut(stdout); Console.SetError(stderr);
        try { return (Commands.Run(args), stdout.ToString(), stderr.ToString()); }
        finally { Console.SetOut(oldOut); Console.SetError(oldErr); }
    }

    [Fact]
    public void EvalScoresBm25AndWritesTheRun()
    {
        string run = Path.Combine(_dir, "out.trec");
        var (code, stdout, stderr) = Run("eval", "--data", _dir, "--run", run);
        Assert.True(code == 0, stderr);
        Assert.Contains("| NDCG@10 | 1.0000 |", stdout);
        Assert.Contains("Lucene's defaults", stderr); // no dataset.json, no table entry, no train split to tune on
        Assert.True(File.Exists(run));
    }

    [Theory]
    [InlineData("--k1", "-1", "--k1 -1 is out of range")]
    [InlineData("--b", "1.5", "--b 1.5 is out of range")]
    [InlineData("--k", "0", "--k 0 is out of range")]
    [InlineData("--beam", "0", "--beam 0 is out of range")]
    [InlineData("--steered-levels", "-1", "--steered-levels -1 is out of range")]
    [InlineData("--sketch-directions", "0", "--sketch-directions 0 is out of range")]
    [InlineData("--fusion", "max", "--fusion 'max': unknown fusion (known: zscore, rrf)")]
    [InlineData("--retriever", "bm25+nope", "unknown retriever 'nope'")]
    [InlineData("--threshold", "9", "relevance threshold 9 is outside the grades")]
    public void OutOfRangeOptionsAreOneLineNamingTheOption(string option, string value, string message)
    {
        var (code, stdout, stderr) = Run("eval", "--data", _dir, option, value);
        Assert.Equal(1, code);
        Assert.StartsWith("gensearch: error: ", stderr.Split('\n').Last(l => l.Length > 0));
        Assert.Contains(message, stderr);
        Assert.DoesNotContain("   at ", stderr); // no stack trace
        Assert.Equal("", stdout);
    }

    [Fact]
    public void ARerankDirectoryThatIsNoRankerIsOneLineNamingIt()
    {
        string missing = Path.Combine(_dir, "no-ranker");
        var (code, _, stderr) = Run("eval", "--data", _dir, "--rerank", missing);
        Assert.Equal(1, code);
        Assert.Contains($"{missing}/config.json: no model here", stderr);
        string retriever = Path.Combine(_dir, "towers");
        Directory.CreateDirectory(retriever);
        File.WriteAllText(Path.Combine(retriever, "config.json"), """{"kind": "two-tower", "tower": "ngram"}""");
        (code, _, stderr) = Run("search", "--data", _dir, "--rerank", retriever, "red drill");
        Assert.Equal(1, code);
        Assert.Contains("a two-tower model is not a ranker (ranker kinds: lambdamart, sid-coord", stderr);
        Assert.DoesNotContain("   at ", stderr);
        (code, _, stderr) = Run("eval", "--data", _dir, "--rerank", retriever, "--rerank-depth", "0");
        Assert.Equal(1, code);
        Assert.Contains("--rerank-depth 0 is out of range", stderr);
        // Without --rerank the depth would be ignored, and the figures taken for a reranked search's.
        foreach (var command in new[] { "eval", "search", "serve" })
        {
            (code, _, stderr) = Run(command == "search" ? [command, "--data", _dir, "--rerank-depth", "50", "red drill"] : [command, "--data", _dir, "--rerank-depth", "50"]);
            Assert.Equal(1, code);
            Assert.Contains("--rerank-depth is given without --rerank", stderr);
        }
    }

    [Fact]
    public void AThresholdNoJudgmentReachesIsAnErrorNotZeros()
    {
        File.WriteAllText(Path.Combine(_dir, "dataset.json"), """{"relevance_threshold": 3, "grades": [0, 4]}""");
        var (code, stdout, stderr) = Run("eval", "--data", _dir);
        Assert.Equal(1, code);
        Assert.Contains("no judged query has an item graded 3 or more", stderr);
        Assert.Equal("", stdout);
    }

    [Fact]
    public void AnOutputPathIsCheckedBeforeTheWork()
    {
        var (code, stdout, stderr) = Run("eval", "--data", _dir, "--run", Path.Combine(_dir, "missing", "out.trec"));
        Assert.Equal(1, code);
        Assert.Contains("does not exist", stderr);
        Assert.Equal("", stdout); // no metrics printed before the failure
        Assert.False(File.Exists(Path.Combine(_dir, "missing", "out.trec")));
    }

    [Fact]
    public void ARunWhoseFileNameHasASpaceIsScoredAndWritten()
    {
        string input = Path.Combine(_dir, "my run.trec"), output = Path.Combine(_dir, "again.trec");
        File.WriteAllLines(input, ["q0 Q0 d0 1 2.5 x", "q1 Q0 d1 1 2.5 x"]);
        var (code, _, stderr) = Run("eval", "--data", _dir, "--from-run", input, "--run", output);
        Assert.True(code == 0, stderr);
        Assert.Contains("my_run", File.ReadAllText(output));
    }

    /// <summary>A run file is scored as it is: an option that shapes a search is refused by name, not ignored.</summary>
    [Fact]
    public void SearchOptionsWithARunFileAreRefusedByName()
    {
        string input = Path.Combine(_dir, "given.trec");
        File.WriteAllLines(input, ["q0 Q0 d0 1 2.5 x", "q1 Q0 d1 1 2.5 x"]);
        var (code, stdout, stderr) = Run("eval", "--data", _dir, "--from-run", input, "--beam", "5", "--fusion", "rrf");
        Assert.Equal(1, code);
        Assert.Contains("--from-run scores the run file as it is; --beam, --fusion shape a search", stderr);
        Assert.Equal("", stdout);
        (code, _, stderr) = Run("eval", "--data", _dir, "--from-run", input, "--k", "50", "--split", "dev");
        Assert.True(code == 0, stderr); // options of the scoring itself stay
    }

    /// <summary>The steering overrides are for unified models: with BM25 or another kind they are refused, not ignored.</summary>
    [Fact]
    public void SteeringOptionsWithoutAUnifiedModelAreRefused()
    {
        var (code, _, stderr) = Run("eval", "--data", _dir, "--steered-levels", "1");
        Assert.Equal(1, code);
        Assert.Contains("--steered-levels: unified models only, and no --model is given", stderr);
        string towers = Path.Combine(_dir, "towers");
        Directory.CreateDirectory(towers);
        File.WriteAllText(Path.Combine(towers, "config.json"), """{"kind": "two-tower", "tower": "ngram"}""");
        (code, _, stderr) = Run("search", "--data", _dir, "--model", towers, "--sketch-directions", "8", "red drill");
        Assert.Equal(1, code);
        Assert.Contains($"--sketch-directions: unified models only; {towers} is a two-tower model", stderr);
        Assert.DoesNotContain("   at ", stderr);
    }

    [Fact]
    public void ARunOfAnotherCatalogIsWarnedAbout()
    {
        string input = Path.Combine(_dir, "foreign.trec");
        File.WriteAllLines(input, ["q0 Q0 x0 1 2.5 x", "q1 Q0 x1 1 2.5 x"]);
        var (code, _, stderr) = Run("eval", "--data", _dir, "--from-run", input);
        Assert.Equal(0, code);
        Assert.Contains("warning:", stderr);
    }

    [Fact]
    public void AModelOfAnotherCatalogIsRefused()
    {
        string model = Path.Combine(_dir, "model");
        Directory.CreateDirectory(model);
        File.WriteAllText(Path.Combine(model, "config.json"), """{"kind": "two-tower", "tower": "ngram"}""");
        File.WriteAllLines(Path.Combine(model, "items.txt"), ["x1", "x2", "x3"]);
        var (code, _, stderr) = Run("eval", "--data", _dir, "--model", model);
        Assert.Equal(1, code);
        Assert.Contains("only 0 of the model's 3 items are in", stderr);
    }

    [Fact]
    public void TrainRefusesBadSettingsBeforeReadingData()
    {
        var (code, _, stderr) = Run("train", "--data", "/nonexistent", "--model", "two-tower", "--out", Path.Combine(_dir, "m"), "--epochs", "0");
        Assert.Equal(1, code);
        Assert.Contains("trainer.epochs is 0; it must be at least 1", stderr);
        Assert.False(Directory.Exists(Path.Combine(_dir, "m")));
    }

    [Fact]
    public void TrainRefusesAnOutThatItReadsOrThatIsAFileOrOptionsWithADuplicateKey()
    {
        string from = Path.Combine(_dir, "gen");
        Directory.CreateDirectory(from);
        File.WriteAllText(Path.Combine(from, "config.json"), """{"kind": "unified"}""");
        var (code, _, stderr) = Run("train", "--data", "/nonexistent", "--model", "sid-coord", "--from", from, "--out", from + "/", "--restart");
        Assert.Equal(1, code);
        Assert.Contains("is the model that --from reads", stderr);
        string options = Path.Combine(_dir, "o.json");
        File.WriteAllText(options, $$"""{"sid_model": "{{from}}"}""");
        (code, _, stderr) = Run("train", "--data", "/nonexistent", "--model", "sid-coord", "--from", Path.Combine(_dir, "other"), "--options", options, "--out", from);
        Assert.Contains("is the model that sid_model reads", stderr);
        Assert.Equal("""{"kind": "unified"}""", File.ReadAllText(Path.Combine(from, "config.json")));
        string file = Path.Combine(_dir, "afile");
        File.WriteAllText(file, "x");
        (code, _, stderr) = Run("train", "--data", "/nonexistent", "--model", "two-tower", "--out", file);
        Assert.Equal(1, code);
        Assert.Contains($"--out {file}: is a file", stderr);
        File.WriteAllText(options, "{\"split\": \"a\",\n \"split\": \"b\"}");
        (code, _, stderr) = Run("train", "--data", "/nonexistent", "--model", "sid-coord", "--from", Path.Combine(_dir, "other"), "--options", options, "--out", Path.Combine(_dir, "m"));
        Assert.Equal(1, code);
        Assert.Contains("o.json: Duplicate property 'split'", stderr);
        Assert.DoesNotContain("internal error", stderr);
    }

    [Fact]
    public void TokenizeSharesTheOneErrorPath()
    {
        var (code, _, stderr) = Run("tokenize", "--vectors", Path.Combine(_dir, "v.npy"), "--out", Path.Combine(_dir, "sids"), "--levels", "0");
        Assert.Equal(1, code);
        Assert.Contains("gensearch: error: --levels 0 is out of range", stderr);
        (code, _, stderr) = Run("tokenize", "--vectors", Path.Combine(_dir, "v.npy"), "--out", Path.Combine(_dir, "sids"));
        Assert.Equal(1, code);
        Assert.Contains("gensearch: error:", stderr);
        Assert.Contains("v.npy", stderr);
    }

    [Fact]
    public void AnInternalErrorSaysItIsOneWithoutAStackTrace()
    {
        var (oldErr, err) = (Console.Error, new StringWriter());
        Console.SetError(err);
        int code;
        try { code = CliSupport.Guard(() => throw new NullReferenceException("boom")); }
        finally { Console.SetError(oldErr); }
        Assert.Equal(70, code);
        Assert.Contains("gensearch: internal error", err.ToString());
        Assert.Contains("NullReferenceException: boom", err.ToString());
        Assert.Contains("please report it", err.ToString());
        Assert.DoesNotContain("   at ", err.ToString());
    }

    [Fact]
    public void HelpListsTheKindsFromTheRegistry()
    {
        var (_, stdout, _) = Run("train", "--help");
        Assert.Contains("two-stage|two-tower|two-tower-transformer", stdout);
        (_, stdout, _) = Run("eval", "--help");
        Assert.Contains("bm25, model, dense, generative", stdout);
    }

    [Theory]
    [InlineData(new[] { "--min-brands", "1" }, "--min-brands 1 is out of range")]
    [InlineData(new[] { "--min-history", "3", "--max-history", "2" }, "--max-history 2 is out of range")]
    [InlineData(new[] { "--users", "0", "--dev-users", "0", "--heldout-users", "0" }, "nothing to generate")]
    [InlineData(new string[0], "no qrels for split 'train'")]
    public void MakeUserLogRefusesBadOptionsAndASourceWithoutTrainJudgments(string[] options, string message)
    {
        string outDir = Path.Combine(_dir, "generated");
        var (code, _, stderr) = Run(["make-user-log", "--data", _dir, "--out", outDir, .. options]);
        Assert.Equal(1, code);
        Assert.Contains(message, stderr);
        Assert.DoesNotContain("   at ", stderr);
        Assert.False(Directory.Exists(outDir));
    }

    [Fact]
    public void MakeUserLogRefusesToWriteOverItsSource()
    {
        var (code, _, stderr) = Run("make-user-log", "--data", _dir, "--out", _dir);
        Assert.Equal(1, code);
        Assert.Contains("is the source directory", stderr);
    }
}
