using System.Text.Json;
using GenSearch.Evaluation;

namespace GenSearch.Evaluation.Tests;

public class EvaluatorTests
{
    private static Qrels SampleQrels()
    {
        var q = new Qrels();
        q.Set("q1", "d2", 3); q.Set("q1", "d4", 1); q.Set("q1", "d5", 4);
        q.Set("q2", "d1", 4);
        q.Set("q3", "d9", 1);          // nothing at or above 3: left out
        q.Set("q4", "d7", 3);          // not in the run: scores 0
        return q;
    }

    private static Run SampleRun()
    {
        var r = new Run();
        r.Set("q1", [new("d1", 4), new("d2", 3), new("d3", 2), new("d4", 1)]);
        r.Set("q2", [new("d1", 9)]);
        r.Set("q3", [new("d9", 1)]);
        return r;
    }

    [Fact]
    public void Means_over_queries_with_a_relevant_item()
    {
        var result = Evaluator.Evaluate(SampleQrels(), SampleRun(), new EvaluationOptions { RelevanceThreshold = 3 });
        Assert.Equal(3, result.Queries);
        Assert.Equal(1, result.SkippedNoRelevant);
        Assert.Equal(1, result.MissingFromRun);
        Assert.Equal((0.5 + 1 + 0) / 3, result["Recall@10"], 12);
        Assert.Equal((0.5 + 1 + 0) / 3, result["MRR@10"], 12);
        Assert.Equal((0.24337523255308394 + 1 + 0) / 3, result["NDCG@10"], 12);
        Assert.Equal(2.0 / 3, result["HitRate@10"], 12);
        Assert.Equal(["Recall@10", "Recall@100", "MRR@10", "MRR@100", "NDCG@10", "NDCG@100", "HitRate@10", "HitRate@100", "Judged@10", "Judged@100",
                      "CondensedNDCG@10", "CondensedNDCG@100"],
            result.Metrics.Select(m => m.Key));
    }

    [Fact]
    public void Breakdowns_average_within_buckets()
    {
        var seg = new QuerySegmentation("parity", q => q is "q1" ? "odd" : "other");
        var result = Evaluator.Evaluate(SampleQrels(), SampleRun(), new EvaluationOptions { RelevanceThreshold = 3 }, [seg]);
        var buckets = result.Breakdowns.Single().Buckets.ToDictionary(b => b.Bucket);
        Assert.Equal(1, buckets["odd"].Queries);
        Assert.Equal(0.5, buckets["odd"].Metrics["Recall@10"]);
        Assert.Equal(2, buckets["other"].Queries);
        Assert.Equal(0.5, buckets["other"].Metrics["Recall@10"]);
    }

    [Fact]
    public void Json_report_has_top_level_metrics_and_query_count()
    {
        var result = Evaluator.Evaluate(SampleQrels(), SampleRun(), new EvaluationOptions { RelevanceThreshold = 3 });
        using var doc = JsonDocument.Parse(Report.Json(result, new Dictionary<string, string> { ["retriever"] = "test" }));
        var root = doc.RootElement;
        Assert.Equal(0.5, root.GetProperty("Recall@10").GetDouble(), 6);
        Assert.True(root.TryGetProperty("Recall@100", out _));
        Assert.True(root.TryGetProperty("MRR@10", out _));
        Assert.True(root.TryGetProperty("NDCG@10", out _));
        Assert.Equal(3, root.GetProperty("queries").GetInt32());
        Assert.Equal("test", root.GetProperty("retriever").GetString());
        Assert.Equal(3, root.GetProperty("per_query").GetArrayLength());
        var md = Report.Markdown(result, "t");
        Assert.Contains("| Recall@10 | 0.5000 |", md);
    }

    [Fact]
    public void RunsAreCutToEqualDepthQueryByQueryAndAMissingListIsLeftAlone()
    {
        static Run Of(params (string Query, string[] Docs)[] lists)
        {
            var run = new Run();
            foreach (var (q, docs) in lists) run.Set(q, [.. docs.Select((d, i) => new RankedDoc(d, -i))]);
            return run;
        }
        var a = Of(("q1", ["a1", "a2", "a3", "a4"]), ("q2", []), ("q3", ["a5"]));
        var b = Of(("q1", ["b1", "b2"]), ("q2", ["b3", "b4", "b5"]), ("q3", ["b6", "b7"]), ("q4", ["b8"]));
        var (ca, cb) = Run.AtEqualDepth(a, b);
        Assert.Equal(["a1", "a2"], ca.For("q1").Select(d => d.DocId));
        Assert.Equal(["b1", "b2"], cb.For("q1").Select(d => d.DocId));
        Assert.Empty(ca.For("q2"));
        Assert.Equal(3, cb.For("q2").Count); // A has nothing there: it scores 0, B keeps its list
        Assert.Equal(["b6"], cb.For("q3").Select(d => d.DocId));
        Assert.Single(cb.For("q4"));
        Assert.Equal(1.0, ca.MeanDepth, 12);  // (2 + 0 + 1) / 3
        var excluded = a.Without(new HashSet<string> { "a1", "a3" });
        Assert.Equal(["a2", "a4"], excluded.For("q1").Select(d => d.DocId));
    }
}
