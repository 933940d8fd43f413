using System.Diagnostics;
using GenSearch.Data;
using GenSearch.Evaluation;
using System.CommandLine;
using GenSearch.Retrieval;
using GenSearch.Serving;
using Spectre.Console;

namespace GenSearch.Cli;

/// <summary>A problem with the user's input: printed as one line, no stack trace.</summary>
internal sealed class CliException(string message) : Exception(message);

/// <summary>What the commands share: clean errors, progress on stderr, loading a BM25 index.</summary>
internal static class CliSupport
{
    /// <summary>Progress and messages go to stderr so that stdout stays parseable.</summary>
    public static readonly IAnsiConsole Err = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });

    /// <summary>
    /// The one error path of every command: a problem with the user's input (bad data, a missing file,
    /// an option out of range, a run that conflicts with what is on disk) is one line
    /// "gensearch: error: ..." and exit code 1; anything else is a bug in GenSearch, said to be one,
    /// with where it happened and where to report it, and exit code 70 (set GENSEARCH_DEBUG=1 for the
    /// whole stack trace). No stack trace reaches a user for bad input.
    /// </summary>
    public static int Guard(Func<int> body)
    {
        try { return body(); }
        catch (Exception e) when (IsInputError(e))
        {
            Console.Error.WriteLine($"gensearch: error: {e.Message}");
            return 1;
        }
        catch (Exception e)
        {
            var frame = new StackTrace(e, fNeedFileInfo: false).GetFrames().FirstOrDefault(f => f.GetMethod()?.DeclaringType?.Namespace?.StartsWith("GenSearch", StringComparison.Ordinal) == true);
            string where = frame?.GetMethod() is { } m ? $" in {m.DeclaringType?.Name}.{m.Name}" : "";
            Console.Error.WriteLine($"gensearch: internal error{where}: {e.GetType().Name}: {e.Message}");
            Console.Error.WriteLine("This is a bug in GenSearch, not in your input: please report it as an issue in the GenSearch repository, with the command line and this message.");
            if (Environment.GetEnvironmentVariable("GENSEARCH_DEBUG") == "1") Console.Error.WriteLine(e);
            return 70;
        }
    }

    /// <summary>Exceptions that mean bad input or a state on disk the user must resolve, not a bug.</summary>
    public static bool IsInputError(Exception e) => e is CliException or DataFormatException or EvaluationFormatException or FormatException
        or InvalidDataException or IOException or UnauthorizedAccessException or GenSearch.Training.TrainingConflictException;

    /// <summary>Checks that <paramref name="value"/> of option <paramref name="name"/> lies in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static void Range(string name, double value, double min, double max = double.PositiveInfinity, bool minExclusive = false)
    {
        bool below = minExclusive ? !(value > min) : !(value >= min);
        if (below || value > max || double.IsNaN(value))
            throw new CliException($"{name} {value.ToString(System.Globalization.CultureInfo.InvariantCulture)} is out of range: " +
                                   (double.IsPositiveInfinity(max) ? (minExclusive ? $"it must be above {min}" : $"it must be at least {min}") : $"it must lie in {(minExclusive ? "(" : "[")}{min}, {max}]"));
    }

    /// <summary>Checks, before any work, that an output file can be written where <paramref name="option"/> says: its folder exists and it is no folder itself.</summary>
    public static void CheckOutputPath(string option, string? path)
    {
        if (path is null) return;
        if (Directory.Exists(path)) throw new CliException($"{option} {path}: is a directory; give a file name");
        string dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (!Directory.Exists(dir)) throw new CliException($"{option} {path}: the folder {dir} does not exist");
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

    /// <summary>--model DIR: a model directory from gensearch train, of any registered kind.</summary>
    public static Option<string?> ModelOption() => new("--model")
    {
        Description = "Model directory from gensearch train; its config.json says its kind (" + string.Join(", ", ModelFormats.All.Select(f => f.Kind)) + ").",
    };

    /// <summary>--rerank DIR: a ranker directory whose ranker reorders the retriever's top --rerank-depth.</summary>
    public static Option<string?> RerankOption() => new("--rerank")
    {
        Description = "Rerank the retriever's top --rerank-depth with this ranker (a directory from gensearch train --model sid-coord or lambdamart); the search must have the shape of the retriever the ranker trained on (by default bm25+model: pass --retriever bm25+model).",
    };

    /// <summary>--fusion NAME: how a retriever expression of several terms fuses their lists.</summary>
    public static Option<string?> FusionOption() => new("--fusion")
    {
        Description = "How retrievers joined by '+' are fused: zscore (the default: each list's scores standardised per query, summed) " +
                      "or rrf (reciprocal rank, 1 / (60 + rank); the default before 2026-12-01). With --rerank: the ranker's own, as it was trained.",
    };

    /// <summary>The method --fusion names (null when not given: the default, or a ranker's own); an unknown name is a one-line error.</summary>
    public static FusionMethod? Fusion(string? name)
    {
        if (name is null) return null;
        try { return RetrieverSpec.ParseFusion(name); }
        catch (ArgumentException e) { throw new CliException(e.Message); }
    }

    /// <summary>--exclude-judged-in SPLIT: score only the items SPLIT's judgments never name.</summary>
    public static Option<string?> ExcludeJudgedOption() => new("--exclude-judged-in")
    {
        Description = "Score only the items this split's judgments never name (any grade): they are removed from the results and from the judgments " +
                      "before scoring, and a query left without a relevant item drops out. On homedepot an item judged in train is 4.8x less likely " +
                      "to be judged in dev, a leak of the split models can learn: --exclude-judged-in train takes it out.",
    };

    /// <summary>
    /// The items <paramref name="split"/>'s judgments name, for --exclude-judged-in (null when not given); it may
    /// not be the split scored, which would leave nothing.
    /// </summary>
    public static HashSet<string>? JudgedIn(BeirDataset data, string? split, string scoredSplit)
    {
        if (split is null) return null;
        if (split == scoredSplit) throw new CliException($"--exclude-judged-in {split}: that is the split scored; every judged item would be removed");
        if (!File.Exists(data.QrelsPath(split))) throw new CliException($"--exclude-judged-in {split}: {data.QrelsPath(split)} does not exist");
        var judged = data.Qrels(split).Qrels.JudgedDocuments();
        Note($"scoring only items {data.QrelsPath(split)} never judges: {judged.Count:N0} items removed from the results and the judgments");
        return judged;
    }

    /// <summary>--rerank-depth N.</summary>
    public static Option<int> RerankDepthOption() => new("--rerank-depth")
    {
        Description = "Candidates per query the ranker reorders (with --rerank).", DefaultValueFactory = _ => 100,
    };

    /// <summary>Refuses a --rerank-depth given without --rerank (it would be ignored, and the user think the search reranked).</summary>
    public static void RerankDepthNeedsRerank(Command command, Option<string?> rerank, Option<int> depth) => command.Validators.Add(result =>
    {
        if (result.GetResult(depth) is { Implicit: false } && result.GetValue(rerank) is null)
            result.AddError("--rerank-depth is given without --rerank: nothing would rerank the candidates");
    });

    /// <summary>--retriever EXPR: what to search with (<see cref="RetrieverSpec"/>); default "model" when --model is given, else "bm25".</summary>
    public static Option<string?> RetrieverOption() => new("--retriever")
    {
        Description = $"What to search with: {string.Join(", ", RetrieverSpec.KnownTerms)} ('model' is the model's own mode; " +
                      "join with '+' to fuse, e.g. bm25+model; see --fusion). Default: model when --model is given, else bm25.",
    };

    /// <summary>
    /// The retriever an expression names over <paramref name="data"/>'s catalog and the model in
    /// <paramref name="modelDir"/> (<see cref="RetrieverOpener"/>), and the BM25 index and its k1 and b when the expression uses one.
    /// </summary>
    public static (IRetriever Retriever, Bm25? Index, GenSearch.Training.Bm25Choice? Bm25Parameters) OpenRetriever(BeirDataset data, string? expression, string? modelDir,
        Bm25Options bm25Options, ModelOpenOptions modelOptions, float? k1 = null, float? b = null, string? rerank = null, int rerankDepth = 100,
        string? fusion = null)
    {
        if (rerank is not null) Range("--rerank-depth", rerankDepth, 1, 10_000);
        RetrieverSpec spec;
        try { spec = RetrieverOpener.Resolve(expression, modelDir); }
        catch (ArgumentException e) { throw new CliException(e.Message); }
        var fusionMethod = Fusion(fusion);
        GenSearch.Training.Bm25Choice? parameters = null;
        var opened = RetrieverOpener.Open(data, spec, modelDir, new RetrieverOpenOptions
        {
            Bm25 = bm25Options,
            Model = modelOptions,
            BuildBm25 = (set, options) => BuildBm25(set, options).Index,
            ChooseBm25Scoring = index =>
            {
                parameters = ChooseBm25(data, bm25Options, index, k1, b, Note);
                return index.WithScoring(parameters.K1, parameters.B);
            },
            Note = Note,
            Rerank = rerank,
            RerankDepth = rerankDepth,
            Fusion = fusionMethod,
        });
        return (opened.Retriever, opened.Bm25, parameters);
    }

    /// <summary>
    /// BM25's k1 and b for a data set: those given (either may be), else the data set's (known, or tuned on
    /// its train split), never another's unannounced; the choice is noted with its source.
    /// </summary>
    public static GenSearch.Training.Bm25Choice ChooseBm25(BeirDataset data, Bm25Options options, Bm25 index, float? k1, float? b, Action<string> note)
    {
        var chosen = k1 is not null && b is not null
            ? new GenSearch.Training.Bm25Choice(k1.Value, b.Value, "given")
            : GenSearch.Training.Bm25Parameters.Choose(data, options, index, note);
        if (k1 is not null && b is null) chosen = new(k1.Value, chosen.B, $"k1 given, b {chosen.Source}");
        if (b is not null && k1 is null) chosen = new(chosen.K1, b.Value, $"b given, k1 {chosen.Source}");
        note($"BM25 k1={chosen.K1.ToString(System.Globalization.CultureInfo.InvariantCulture)}, b={chosen.B.ToString(System.Globalization.CultureInfo.InvariantCulture)}: {chosen.Source}");
        return chosen;
    }
}
