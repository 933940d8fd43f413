using System.Text.Json;

namespace GenSearch.Evaluation.Tests;

public class RunComparisonTests
{
    private static readonly EvaluationOptions Options = new() { Cutoffs = [1, 10], RelevanceThreshold = 1 };

    /// <summary>40 queries, each with one relevant item "r{i}".</summary>
    private static Qrels Judgments()
    {
        var q = new Qrels();
        for (int i = 0; i < 40; i++) { q.Set($"q{i}", $"r{i}", 1); q.Set($"q{i}", $"n{i}", 0); }
        return q;
    }

    /// <summary>A run that puts query i's relevant item at rank <paramref name="rankOf"/>(i) (0: leaves the query out).</summary>
    private static Run RunWith(Func<int, int> rankOf)
    {
        var run = new Run();
        for (int i = 0; i < 40; i++)
        {
            int rank = rankOf(i);
            if (rank == 0) continue;
            var docs = Enumerable.Range(1, 10).Select(r => new RankedDoc(r == rank ? $"r{i}" : $"x{i}_{r}", 10 - r)).ToArray();
            run.Set($"q{i}", docs);
        }
        return run;
    }

    private static RunComparisonResult Compare(Run a, Run b, params string[] metrics) =>
        RunComparison.Compare(Evaluator.Evaluate(Judgments(), a, Options), Evaluator.Evaluate(Judgments(), b, Options), metrics, 5_000, 1);

    [Fact]
    public void IdenticalRunsDifferByNothing()
    {
        var run = RunWith(i => 1 + i % 7);
        var result = Compare(run, run, "MRR@10", "NDCG@10");
        foreach (var m in result.Metrics)
        {
            Assert.Equal((0.0, 0.0, 1.0, 1.0), (m.Difference, m.RelativeDifference, m.RandomizationP, m.TTest.P));
            Assert.Equal((0, 40, 0), (m.BWins, m.Ties, m.AWins));
        }
    }

    [Fact]
    public void ABetterRunWinsItsQueriesAndIsSignificant()
    {
        // B ranks the relevant item first everywhere; A ranks it 2nd..4th and misses five queries.
        var a = RunWith(i => i < 5 ? 0 : 2 + i % 3);
        var b = RunWith(_ => 1);
        var result = Compare(a, b, "MRR@10", "HitRate@10", "Recall@1");
        Assert.Equal((40, 5, 0), (result.Queries, result.MissingFromA, result.MissingFromB));
        var mrr = result.Metrics[0];
        double meanA = Enumerable.Range(5, 35).Sum(i => 1.0 / (2 + i % 3)) / 40;
        Assert.Equal(meanA, mrr.MeanA, 12);
        Assert.Equal(1.0, mrr.MeanB);
        Assert.Equal(1 - meanA, mrr.Difference, 12);
        Assert.Equal((1 - meanA) / meanA, mrr.RelativeDifference, 12);
        Assert.Equal((40, 0, 0), (mrr.BWins, mrr.Ties, mrr.AWins));
        Assert.Equal(1.0 / 5_001, mrr.RandomizationP);
        Assert.True(mrr.TTest.T > 0 && mrr.TTest.P < 1e-10);

        var hits = result.Metrics[1]; // HitRate@10: B wins only the five queries A misses
        Assert.Equal((5, 35, 0), (hits.BWins, hits.Ties, hits.AWins));
        Assert.True(double.IsNaN(result.Metrics[2].RelativeDifference)); // Recall@1 of A is 0
    }

    [Fact]
    public void ReportsShowEveryMetricAndWriteNullForWhatIsNotANumber()
    {
        var result = Compare(RunWith(i => 2 + i % 3), RunWith(_ => 1), "Recall@1", "MRR@10");
        string md = RunComparison.Markdown(result, "t", "a.trec", "b.trec");
        Assert.Contains("A = a.trec, B = b.trec. 40 queries", md);
        Assert.True(md.Contains("| Recall@1 | 0.0000 | 1.0000 | +1.0000 | n/a | 0.0002 | 0.0000 | 40 | 0 | 0 |"), md);
        using var json = JsonDocument.Parse(RunComparison.Json(result, new Dictionary<string, string> { ["run_a"] = "a.trec" }));
        Assert.Equal("a.trec", json.RootElement.GetProperty("run_a").GetString());
        var recall = json.RootElement.GetProperty("metrics")[0];
        Assert.Equal(JsonValueKind.Null, recall.GetProperty("relative_difference").ValueKind);
        Assert.Equal(JsonValueKind.Null, recall.GetProperty("t").ValueKind); // every difference is 1: t is infinite
        Assert.Equal(40, recall.GetProperty("b_wins").GetInt32());
    }

    [Fact]
    public void ResultsOverOtherQueriesOrWithoutTheMetricAreRefused()
    {
        var a = Evaluator.Evaluate(Judgments(), RunWith(_ => 1), Options);
        var fewer = new Qrels();
        fewer.Set("q0", "r0", 1);
        var b = Evaluator.Evaluate(fewer, RunWith(_ => 1), Options);
        Assert.Throws<ArgumentException>(() => RunComparison.Compare(a, b, ["MRR@10"]));
        Assert.Throws<ArgumentException>(() => RunComparison.Compare(a, a, ["NDCG@5"]));
    }

    [Theory]
    [InlineData("NDCG@10", "NDCG@10", 10)]
    [InlineData("ndcg@5", "NDCG@5", 5)]
    [InlineData("hitrate@100", "HitRate@100", 100)]
    public void MetricNamesAreRead(string text, string name, int cutoff) =>
        Assert.Equal((name, cutoff), Evaluator.ParseMetric(text));

    [Theory]
    [InlineData("NDCG")]
    [InlineData("MAP@10")]
    [InlineData("NDCG@0")]
    [InlineData("NDCG@-3")]
    [InlineData("NDCG@ten")]
    public void BadMetricNamesAreRefused(string text) =>
        Assert.Contains("expected FAMILY@K", Assert.Throws<FormatException>(() => Evaluator.ParseMetric(text)).Message);
}
