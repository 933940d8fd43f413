using GenSearch.Evaluation;
using GenSearch.Retrieval;

namespace GenSearch.Serving.Tests;

public class RetrieverSpecTests
{
    /// <summary>A retriever that returns fixed ids, and records the batches it was asked.</summary>
    private sealed class Fixed(string name, params string[] ids) : IRetriever
    {
        public List<int> Batches { get; } = [];
        public string Name => name;
        public int Count => ids.Length;
        public IReadOnlyList<SearchHit>[] Search(IReadOnlyList<Query> queries, int k)
        {
            Batches.Add(queries.Count);
            return queries.Select(q => (IReadOnlyList<SearchHit>)ids.Take(k).Select((id, r) => new SearchHit(id + q.Id, 1f / (r + 1))).ToArray()).ToArray();
        }
    }

    [Fact]
    public void ParsesTermsAndFusesSeveral()
    {
        var spec = RetrieverSpec.Parse("bm25+model");
        Assert.Equal(["bm25", "model"], spec.Terms);
        Assert.True(spec.NeedsBm25);
        Assert.True(spec.NeedsModel);
        Assert.False(RetrieverSpec.Parse("bm25").NeedsModel);
        Assert.Null(RetrieverSpec.ModeOf("model"));
        Assert.Equal("dense", RetrieverSpec.ModeOf("dense"));

        var fused = spec.Build(term => new Fixed(term, "a", "b"));
        Assert.IsType<FusionRetriever>(fused);
        Assert.Equal("bm25+model", fused.Name);
        Assert.IsType<Fixed>(RetrieverSpec.Parse("dense").Build(term => new Fixed(term, "a")));
    }

    [Theory]
    [InlineData("bm26", "unknown retriever 'bm26'")]
    [InlineData("bm25+bm25", "named twice")]
    [InlineData("bm25+", "unknown retriever ''")]
    public void RejectsUnknownAndRepeatedTerms(string text, string message)
    {
        var error = Assert.Throws<ArgumentException>(() => RetrieverSpec.Parse(text));
        Assert.Contains(message, error.Message);
        if (message.StartsWith("unknown")) Assert.Contains("known: bm25, model, dense, generative", error.Message);
    }

    [Fact]
    public void RunsSearchInChunksAndKeepsQueryOrder()
    {
        var retriever = new Fixed("f", "x", "y", "z");
        var queries = Enumerable.Range(0, 7).Select(i => new Query($"q{i}", "t")).ToArray();
        var done = new List<int>();
        Run run = RetrieverRuns.Search(retriever, queries, k: 2, chunk: 3, progress: done.Add);
        Assert.Equal([3, 3, 1], retriever.Batches);
        Assert.Equal([3, 6, 7], done);
        Assert.Equal(7, run.Count);
        Assert.Equal(["xq4", "yq4"], run.For("q4").Select(d => d.DocId));
        Assert.Throws<ArgumentOutOfRangeException>(() => RetrieverRuns.Search(retriever, queries, k: 0));
    }
}
