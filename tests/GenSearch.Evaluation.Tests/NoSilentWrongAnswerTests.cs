using System.Text;
using System.Text.Json;
using GenSearch.Evaluation;

namespace GenSearch.Evaluation.Tests;

/// <summary>Scores that cannot be trusted are refused or flagged: grades, NaN, runs that do not fit the data.</summary>
public class NoSilentWrongAnswerTests
{
    private static Qrels Judged(params (string Q, string D, int G)[] rows)
    {
        var q = new Qrels();
        foreach (var (query, doc, grade) in rows) q.Set(query, doc, grade);
        return q;
    }

    private static Run Ranked(params (string Q, string[] Docs)[] rows)
    {
        var r = new Run();
        foreach (var (q, docs) in rows) r.Set(q, docs.Select((d, i) => new RankedDoc(d, docs.Length - i)).ToArray());
        return r;
    }

    [Fact]
    public void A_huge_grade_is_refused_instead_of_scoring_NaN()
    {
        var qrels = Judged(("q1", "d1", 2000), ("q1", "d2", 3), ("q2", "d3", 3));
        var run = Ranked(("q1", ["d2", "d1"]), ("q2", ["d3"]));
        var e = Assert.Throws<InvalidDataException>(() => Evaluator.Evaluate(qrels, run));
        Assert.Contains("grade 2000 is outside", e.Message);
    }

    [Fact]
    public void Grades_and_threshold_outside_the_options_range_are_refused()
    {
        var qrels = Judged(("q1", "d1", 5), ("q2", "d2", 3));
        var run = Ranked(("q1", ["d1"]));
        var options = new EvaluationOptions { RelevanceThreshold = 3, Grades = new GradeRange(0, 4) };
        Assert.Contains("query 'q1', item 'd1': grade 5 is outside the grades 0..4",
            Assert.Throws<InvalidDataException>(() => Evaluator.Evaluate(qrels, run, options)).Message);
        var ok = Judged(("q1", "d1", 4));
        Assert.Contains("relevance threshold 9 is outside the grades 0..4",
            Assert.Throws<InvalidDataException>(() => Evaluator.Evaluate(ok, run, options with { RelevanceThreshold = 9 })).Message);
        Assert.Equal(1.0, Evaluator.Evaluate(ok, run, options)["Recall@10"]);
    }

    [Fact]
    public void Grade_ranges_beyond_the_limit_cannot_be_made()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new GradeRange(0, 1000));
        Assert.Throws<ArgumentOutOfRangeException>(() => new GradeRange(4, 0));
        Assert.True(new GradeRange(-2, 2).Contains(-2));
        Assert.Equal("0..4", GradeRange.Default.ToString());
    }

    [Fact]
    public void The_json_report_writes_a_non_finite_metric_as_null_and_the_markdown_as_NaN()
    {
        var result = new EvaluationResult
        {
            Metrics = [new("Recall@10", double.NaN), new("NDCG@10", double.PositiveInfinity), new("MRR@10", 0.5)],
            Queries = 1, SkippedNoRelevant = 0, MissingFromRun = 0, Options = new EvaluationOptions(),
            PerQuery = [new QueryResult("q1", 1, 1, new Dictionary<string, double> { ["Recall@10"] = double.NaN })],
            Breakdowns = [new Breakdown("all", [new BucketResult("all", 1,
                new Dictionary<string, double> { ["Recall@10"] = double.NaN, ["NDCG@10"] = double.NegativeInfinity, ["MRR@10"] = 0.5 })])],
        };
        using var doc = JsonDocument.Parse(Report.Json(result));
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("Recall@10").ValueKind);
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("NDCG@10").ValueKind);
        Assert.Equal(0.5, doc.RootElement.GetProperty("MRR@10").GetDouble());
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("per_query")[0].GetProperty("Recall@10").ValueKind);
        var md = Report.Markdown(result, "t");
        Assert.Contains("| Recall@10 | NaN |", md);
        Assert.Contains("| NDCG@10 | Infinity |", md);
        Assert.Contains("| all | 1 | NaN | -Infinity | 0.5000 |", md);
    }

    [Fact]
    public void RunCheck_is_quiet_for_a_run_that_fits()
    {
        var check = RunCheck.Check(Judged(("q1", "d1", 3)), Ranked(("q1", ["d1", "d2"])), d => d is "d1" or "d2");
        Assert.True(check.Ok);
        Assert.Equal(2, check.Results);
        Assert.Equal(1, check.JudgedQueriesWithResults);
    }

    [Fact]
    public void RunCheck_warns_about_an_empty_run()
    {
        var check = RunCheck.Check(Judged(("q1", "d1", 3)), new Run(), _ => true);
        Assert.Equal("the run is empty: it has no results for any query", Assert.Single(check.Warnings));
    }

    [Fact]
    public void RunCheck_warns_when_most_results_are_not_in_the_catalog()
    {
        var run = Ranked(("q1", ["d1", "x1", "x2"]));
        var check = RunCheck.Check(Judged(("q1", "d1", 3)), run, d => d.StartsWith('d'));
        Assert.Equal(2, check.UnknownResults);
        Assert.StartsWith("2 of the run's 3 results (66.7%) name items that are not in the catalog", Assert.Single(check.Warnings));
        // Exactly half unknown is tolerated; null catalog skips the check.
        Assert.True(RunCheck.Check(Judged(("q1", "d1", 3)), Ranked(("q1", ["d1", "x1"])), d => d.StartsWith('d')).Ok);
        Assert.True(RunCheck.Check(Judged(("q1", "d1", 3)), run).Ok);
    }

    [Fact]
    public void RunCheck_warns_when_no_judged_query_has_a_result()
    {
        var check = RunCheck.Check(Judged(("q1", "d1", 3), ("q2", "d2", 3)), Ranked(("Q1", ["d1"])), _ => true);
        Assert.Equal(0, check.JudgedQueriesWithResults);
        Assert.StartsWith("none of the 2 judged queries has a result in the run", Assert.Single(check.Warnings));
    }

    [Fact]
    public void Reports_are_written_all_or_nothing()
    {
        var dir = Directory.CreateTempSubdirectory("gensearch-report ").FullName;
        try
        {
            var result = Evaluator.Evaluate(Judged(("q1", "d1", 3)), Ranked(("q1", ["d1"])), new EvaluationOptions { RelevanceThreshold = 3 });
            string json = Path.Combine(dir, "out.json"), md = Path.Combine(dir, "out.md");
            Report.Write(result, json, "t", new Dictionary<string, string> { ["split"] = "dev" });
            Report.Write(result, md, "t");
            Assert.Equal(1.0, JsonDocument.Parse(File.ReadAllText(json)).RootElement.GetProperty("Recall@10").GetDouble());
            Assert.StartsWith("## t", File.ReadAllText(md));
            Assert.Throws<IOException>(() => AtomicFile.Write(md, w => { w.Write("partial"); throw new IOException("disk full"); }));
            Assert.StartsWith("## t", File.ReadAllText(md));
            Assert.Equal(2, Directory.GetFiles(dir).Length);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
