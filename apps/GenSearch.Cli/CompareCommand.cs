using System.CommandLine;
using GenSearch.Evaluation;

namespace GenSearch.Cli;

/// <summary>
/// <c>gensearch compare RUN_A RUN_B --data DIR --split dev [--metric NDCG@10 ...] [--trials 10000] [--seed 1] [--report out.json]</c>:
/// scores two TREC runs on the queries <c>eval</c> scores and tests, query by query, whether they differ
/// (<see cref="RunComparison"/>).
/// </summary>
internal static class CompareCommand
{
    public static Command Create()
    {
        var runA = new Argument<string>("RUN_A") { Description = "TREC run file of system A (the baseline)." };
        var runB = new Argument<string>("RUN_B") { Description = "TREC run file of system B (compared with A: differences are B - A)." };
        var data = new Option<string>("--data") { Description = "BEIR directory (corpus.jsonl, queries.jsonl, qrels/<split>.tsv).", Required = true };
        var split = new Option<string>("--split") { Description = "Which qrels to compare on (qrels/<split>.tsv).", DefaultValueFactory = _ => "dev" };
        var metric = new Option<string[]>("--metric")
        {
            Description = "Metric to compare, FAMILY@K (Recall, MRR, NDCG, HitRate, Judged, CondensedNDCG); repeat it or separate with commas. Default: every metric eval reports.",
        };
        var trials = new Option<int>("--trials") { Description = "Randomization test: shuffles of the query pairs.", DefaultValueFactory = _ => 10_000 };
        var seed = new Option<int>("--seed") { Description = "Randomization test: seed of the shuffles (same seed, same p).", DefaultValueFactory = _ => 1 };
        var threshold = new Option<int?>("--threshold") { Description = "Lowest grade that counts as relevant (default: the data set's; homedepot: 3)." };
        var report = new Option<string?>("--report") { Description = "Write the comparison here: JSON for .json, Markdown for .md." };
        var excludeJudged = CliSupport.ExcludeJudgedOption();
        var command = new Command("compare", "Test whether two TREC runs differ: per metric the means, the difference, and the p-values of a paired randomization test and a paired t-test over queries.")
        {
            runA, runB, data, split, metric, trials, seed, threshold, report, excludeJudged,
        };
        command.SetAction(parse => CliSupport.Guard(() =>
        {
            int shuffles = parse.GetValue(trials);
            CliSupport.Range("--trials", shuffles, 1, 10_000_000);
            var metrics = Metrics(parse.GetValue(metric));
            string? reportPath = parse.GetValue(report);
            if (reportPath != null && !reportPath.EndsWith(".md", StringComparison.OrdinalIgnoreCase) && !reportPath.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
                throw new CliException($"--report '{reportPath}': the extension picks the format, .json or .md");
            CliSupport.CheckOutputPath("--report", reportPath);

            var set = CliSupport.OpenData(parse.GetValue(data));
            string splitName = parse.GetValue(split)!, pathA = parse.GetValue(runA)!, pathB = parse.GetValue(runB)!;
            var options = set.EvaluationOptions(parse.GetValue(threshold)) with { Cutoffs = metrics.Select(m => m.Cutoff).Distinct().Order().ToArray() };
            var a = TrecRun.Read(pathA);
            var b = TrecRun.Read(pathB);

            // The queries eval scores: judged ones of the split whose query and items the data set knows.
            var queryIds = set.Queries().Select(q => q.Id).ToHashSet(StringComparer.Ordinal);
            var docIds = set.Corpus().Select(d => d.Id).ToHashSet(StringComparer.Ordinal);
            string? excludeSplit = parse.GetValue(excludeJudged);
            var excluded = CliSupport.JudgedIn(set, excludeSplit, splitName);
            var qrels = set.Qrels(splitName, queryIds, docIds, CliSupport.Note).Qrels;
            if (excluded is not null)
            {
                (qrels, a, b) = (qrels.Without(excluded), a.Without(excluded), b.Without(excluded));
                double depthA = a.MeanDepth, depthB = b.MeanDepth;
                (a, b) = Run.AtEqualDepth(a, b);
                CliSupport.Note($"after the exclusion run A keeps {depthA:F1} results a query and run B {depthB:F1} (means); both are cut, query by query, " +
                                $"to the shorter list ({a.MeanDepth:F1}), so deep metrics compare equal depths; search deeper (eval --k) to compare deeper");
            }
            if (qrels.QueryCount == 0) throw new CliException($"{set.QrelsPath(splitName)}: no judgments left to evaluate");
            CliSupport.Note($"relevant: grade >= {options.RelevanceThreshold} of {set.Grades} ({set.Manifest.Source})");
            foreach (var (name, run) in new[] { ("A", a), ("B", b) })
                foreach (var warning in RunCheck.Check(qrels, run, docIds.Contains).Warnings) CliSupport.Note($"warning: run {name}: {warning}");

            var resultA = Evaluator.Evaluate(qrels, a, options);
            var resultB = Evaluator.Evaluate(qrels, b, options);
            if (resultA.Queries == 0)
                throw new CliException($"{set.QrelsPath(splitName)}: no judged query has an item graded {options.RelevanceThreshold} or more ({set.Manifest.Source}): nothing to compare");
            var comparison = RunComparison.Compare(resultA, resultB, metrics.Select(m => m.Name).ToArray(), shuffles, parse.GetValue(seed));

            string nameA = Path.GetFileName(pathA), nameB = Path.GetFileName(pathB);
            string title = $"{nameA} vs {nameB} on {Path.GetFileName(Path.GetFullPath(set.Directory).TrimEnd('/'))} {splitName}" +
                           (excludeSplit is null ? "" : $", items judged in {excludeSplit} excluded");
            Console.Write(RunComparison.Markdown(comparison, title, nameA, nameB));
            if (reportPath != null)
            {
                var meta = new Dictionary<string, string> { ["run_a"] = pathA, ["run_b"] = pathB, ["data"] = set.Directory, ["split"] = splitName };
                if (excludeSplit is not null) meta["excluded_judged_in"] = excludeSplit;
                RunComparison.Write(comparison, reportPath, title, nameA, nameB, meta);
                CliSupport.Note($"report written to {reportPath}");
            }
            return 0;
        }));
        return command;
    }

    /// <summary>The metrics asked for, in order, each once; every metric eval reports when none is.</summary>
    private static List<(string Name, int Cutoff)> Metrics(string[]? given)
    {
        var texts = (given ?? []).SelectMany(g => g.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToArray();
        if (texts.Length == 0) texts = Evaluator.MetricNames(new EvaluationOptions()).ToArray();
        var metrics = new List<(string Name, int Cutoff)>();
        foreach (var text in texts)
        {
            var parsed = Evaluator.ParseMetric(text); // FormatException: one line through Guard
            if (!metrics.Contains(parsed)) metrics.Add(parsed);
        }
        return metrics;
    }
}
