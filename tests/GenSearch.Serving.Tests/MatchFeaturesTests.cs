using GenSearch.Models.Ranking;
using GenSearch.Retrieval;
using GenSearch.Serving.Ranking;
using Xunit;

namespace GenSearch.Serving.Tests;

public class MatchFeaturesTests
{
    private static readonly Document[] Items =
    [
        new("a", "36 inch white bathroom vanity", "solid wood"),
        new("b", "white vanity mirror", ""),
        new("c", "oak stair tread", "36 inch"),
    ];

    private static (MatchFeatures Features, Bm25 Bm25) Make()
    {
        var bm25 = Bm25.Build(Items);
        var byId = Items.ToDictionary(d => d.Id);
        return (new MatchFeatures(bm25, id => byId.GetValueOrDefault(id), null), bm25);
    }

    private static float Feature(float[] x, int candidate, string name) => x[candidate * MatchFeatures.Count + MatchFeatures.Names.ToList().IndexOf(name)];

    [Fact]
    public void FeaturesOfEachCandidateInOrder()
    {
        var (features, bm25) = Make();
        var query = new Query("q", "white vanity 36 inch");
        var hits = new SearchHit[] { new("b", 0.5f), new("a", 0.4f), new("c", 0.1f), new("gone", 0f) };
        var x = features.Extract(query, hits);
        Assert.Equal(4 * MatchFeatures.Count, x.Length);
        for (int i = 0; i < 3; i++)
            Assert.Equal(bm25.Explain(query.Text, hits[i].Id)!.Score, Feature(x, i, "bm25"), 4); // the fast path against Explain
        float best = new[] { 0, 1, 2 }.Max(i => Feature(x, i, "bm25"));
        Assert.Equal(0f, new[] { 0, 1, 2 }.Max(i => Feature(x, i, "bm25_gap")));
        Assert.Equal(Feature(x, 2, "bm25") - best, Feature(x, 2, "bm25_gap"), 5);
        Assert.Equal(0.5f, Feature(x, 0, "title_coverage"));   // white, vanity of white, vanity, 36, inch (item b)
        Assert.Equal(1f, Feature(x, 1, "title_coverage"));
        Assert.Equal(0.5f, Feature(x, 2, "text_coverage"));    // 36 inch in the text, not the title
        Assert.Equal(0f, Feature(x, 2, "title_coverage"));
        Assert.Equal(0f, Feature(x, 1, "exact_phrase"));
        Assert.Equal(4f, Feature(x, 0, "query_terms"));
        Assert.Equal(3f, Feature(x, 0, "title_terms"));        // white vanity mirror
        Assert.Equal(MathF.Log(3), Feature(x, 2, "log_rank"), 5);
        Assert.Equal(0.4f, Feature(x, 1, "retriever_score"));
        Assert.Equal(0f, Feature(x, 3, "bm25"));               // an item the catalog no longer holds: zeros, no throw
        Assert.Equal(0f, Feature(x, 0, "dense"));              // no dense model
        Assert.Equal(1f, features.Extract(new Query("q", "white bathroom vanity"), [new("a", 1f)])[MatchFeatures.Names.ToList().IndexOf("exact_phrase")]);
    }

    [Fact]
    public void PhraseAndCoverageOnHandMadeTerms()
    {
        Assert.True(MatchFeatures.ContainsPhrase(["a", "b", "c"], ["b", "c"]));
        Assert.False(MatchFeatures.ContainsPhrase(["a", "b", "c"], ["a", "c"]));
        Assert.False(MatchFeatures.ContainsPhrase(["a"], []));
        Assert.Equal(2f / 3, MatchFeatures.Coverage(["a", "b", "z"], ["b", "a"]), 5);
        Assert.Equal(0f, MatchFeatures.Coverage([], ["a"]));
    }

    [Fact]
    public void RerankerReordersTheTopAndKeepsTheTail()
    {
        var (features, _) = Make();
        // One tree on title_coverage: full coverage scores 1, less scores 0.
        int coverage = MatchFeatures.Names.ToList().IndexOf("title_coverage");
        var trees = new TreeEnsemble([0, 1], [0, 2], [~0], [~1], [coverage], [0.99f], [0f, 1f], [1f], 0f).Validate("test", MatchFeatures.Count);
        var reranker = new Reranker(new LambdaMartRanker(trees), features, new RankerHeader("lambdamart", [.. MatchFeatures.Names], null, null, "bm25", 2));
        var hits = new SearchHit[] { new("a", 3f), new("b", 2f), new("c", 1f) };
        var result = reranker.Rerank(new Query("q", "white vanity mirror"), hits, 2);
        Assert.Equal(["b", "a", "c"], result.Select(h => h.Id));
        Assert.Equal([1f, 0f, -1f], result.Select(h => h.Score));
        Assert.Empty(reranker.Rerank(new Query("q", "x"), [], 2));
    }

    [Fact]
    public void AlignmentIsTheShareOfHistorySharingEachPrefix()
    {
        int[][] history = [[1, 2, 3], [1, 2, 0], [1, 0, 0], [2, 2, 3]];
        var result = new float[3];
        ItemSids.AlignmentOf(history, [1, 2, 3], result);
        Assert.Equal([0.75f, 0.5f, 0.25f], result);
        ItemSids.AlignmentOf([], [1, 2, 3], result);
        Assert.Equal([0f, 0f, 0f], result);
        ItemSids.AlignmentOf(history, null, result);
        Assert.Equal([0f, 0f, 0f], result);
    }

    /// <summary>The batch carries the alignment of each candidate with the query's history; the ablation zeroes it.</summary>
    [Fact]
    public void TheBatchAlignsCandidatesWithTheHistoryUnlessTheAblationIsOn()
    {
        var sids = ItemSids.Of(new() { ["h1"] = [1, 2, 3], ["h2"] = [1, 0, 0], ["a"] = [1, 2, 0], ["b"] = [2, 2, 3] }, 3, 4);
        var query = new Query("q", "vanity") { Context = ["q:earlier query", "i:h1", "i:h2", "i:unknown"] };
        var config = new SidCoordConfig { Features = 1, Levels = 3, Codes = 5 };
        var batch = SidCoordRanker.Batch(config, sids, [0f], [1f], [(query, ["a", "b"], [0f, 0f])]);
        Assert.Equal([1f, 0.5f, 0f, 0f, 0f, 0f], batch.Alignment); // a shares level 1 with both, level 2 with h1; b with none
        var ablated = SidCoordRanker.Batch(config with { UserAlignment = false }, sids, [0f], [1f], [(query, ["a", "b"], [0f, 0f])]);
        Assert.All(ablated.Alignment, x => Assert.Equal(0f, x));
    }
}
