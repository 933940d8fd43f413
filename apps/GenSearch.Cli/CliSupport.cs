using System.Diagnostics;
using GenSearch.Data;
using GenSearch.Evaluation;
using GenSearch.Retrieval;
using Spectre.Console;

namespace GenSearch.Cli;

/// <summary>A problem with the user's input: printed as one line, no stack trace.</summary>
internal sealed class CliException(string message) : Exception(message);

/// <summary>What the commands share: clean errors, progress on stderr, loading a BM25 index.</summary>
internal static class CliSupport
{
    /// <summary>Progress and messages go to stderr so that stdout stays parseable.</summary>
    public static readonly IAnsiConsole Err = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });

    /// <summary>Runs a command body, turning input errors into one "gensearch: error: ..." line and exit code 1.</summary>
    public static int Guard(Func<int> body)
    {
        try { return body(); }
        catch (Exception e) when (e is CliException or DataFormatException or EvaluationFormatException or FormatException or InvalidDataException
                                      or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"gensearch: error: {e.Message}");
            return 1;
        }
    }

    /// <summary>Writes a line to stderr.</summary>
    public static void Note(string message) => Console.Error.WriteLine(message);

    /// <summary>Runs <paramref name="work"/> under a progress bar of <paramref name="total"/> steps (stderr; silent when not a terminal).</summary>
    public static T WithProgress<T>(string label, double total, Func<Action<double>, T> work)
    {
        T result = default!;
        Err.Progress().AutoClear(true).HideCompleted(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(label, maxValue: Math.Max(total, 1));
                result = work(v => task.Value = v);
                task.Value = task.MaxValue;
            });
        return result;
    }

    /// <summary>Opens a BEIR directory, with the message a user needs when it is not one.</summary>
    public static BeirDataset OpenData(string? dir)
    {
        if (string.IsNullOrWhiteSpace(dir)) throw new CliException("--data DIR is required (a BEIR directory with corpus.jsonl, queries.jsonl and qrels/)");
        return BeirDataset.Open(dir);
    }

    /// <summary>Builds the BM25 index of a dataset's corpus under a progress bar; returns it with the build time in seconds.</summary>
    public static (Bm25 Index, double Seconds) BuildBm25(BeirDataset data, Bm25Options options, Dictionary<string, string>? titles = null)
    {
        long bytes = new FileInfo(data.CorpusPath).Length;
        var sw = Stopwatch.StartNew();
        var index = WithProgress("indexing corpus", bytes, set =>
        {
            IEnumerable<Document> docs = data.Corpus();
            if (titles != null) docs = docs.Select(d => { titles[d.Id] = d.Title; return d; });
            long approx = 0;
            docs = docs.Select(d => { approx += d.Title.Length + d.Text.Length + 40; return d; });
            return Bm25.Build(docs, options, _ => set(Math.Min(approx, bytes)));
        });
        return (index, sw.Elapsed.TotalSeconds);
    }
}
