using GenSearch.Data;
using GenSearch.Storage;

namespace GenSearch.Cli.Tests;

/// <summary>serve's refusals before it listens, and export-log from a store to interactions.jsonl.</summary>
public sealed class ServeCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("gensearch-serve-cli").FullName;

    public ServeCommandTests()
    {
        File.WriteAllLines(Path.Combine(_dir, "corpus.jsonl"), ["{\"_id\": \"d0\", \"title\": \"red drill\", \"text\": \"\"}"]);
        File.WriteAllLines(Path.Combine(_dir, "queries.jsonl"), ["{\"_id\": \"q0\", \"text\": \"drill\"}"]);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("--urls", "http://0.0.0.0:7700", "needs --api-key")]
    [InlineData("--store", "mysql:x", "unknown kind")]
    [InlineData("--retriever", "model", "needs --model DIR")]
    [InlineData("--writes-per-second", "-1", "--writes-per-second -1 is out of range")]
    public void ServeRefusesBadOptionsInOneLineBeforeListening(string option, string value, string message)
    {
        string[] store = option == "--store" ? [] : ["--store", $"sqlite:{Path.Combine(_dir, "s.db")}"];
        var (code, _, stderr) = CliTests.Run(["serve", "--data", _dir, .. store, option, value]);
        Assert.Equal(1, code);
        Assert.StartsWith("gensearch: error: ", stderr.Split('\n').Last(l => l.Length > 0));
        Assert.Contains(message, stderr);
        Assert.DoesNotContain("   at ", stderr);
    }

    [Fact]
    public async Task ExportLogWritesTheStoredFeedbackAsTheInteractionReaderReadsIt()
    {
        string db = Path.Combine(_dir, "store.db"), output = Path.Combine(_dir, "interactions.jsonl");
        await using (var store = await SearchStores.OpenAsync($"sqlite:{db}"))
        {
            var (empty, _, emptyErr) = CliTests.Run("export-log", "--store", $"sqlite:{db}", "--out", output);
            Assert.Equal(1, empty);
            Assert.Contains("holds no feedback yet", emptyErr);
            Assert.False(File.Exists(output));
            await store.AppendFeedbackAsync(new Interaction("u1", "red drill", "d0", 1_700_000_000.25, new Dictionary<string, double> { ["click"] = 1 }));
            await store.AppendFeedbackAsync(new Interaction("u2", "blue hose", null, 1_700_000_001, new Dictionary<string, double>()));
        }
        var (code, _, stderr) = CliTests.Run("export-log", "--store", $"sqlite:{db}", "--out", output);
        Assert.True(code == 0, stderr);
        var log = InteractionReader.Read(output).ToList();
        Assert.Equal(["u1", "u2"], log.Select(e => e.User));
        Assert.Equal("d0", log[0].Item);
        Assert.Null(log[1].Item);
        Assert.Equal(1_700_000_000.25, log[0].Timestamp);
        Assert.Equal(1.0, log[0].Signals["click"]);

        var (missing, _, missingErr) = CliTests.Run("export-log", "--store", $"sqlite:{Path.Combine(_dir, "nope.db")}", "--out", output);
        Assert.Equal(1, missing);
        Assert.Contains("no such file", missingErr);
    }
}
