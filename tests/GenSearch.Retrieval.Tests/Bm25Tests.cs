using GenSearch.Retrieval;

namespace GenSearch.Retrieval.Tests;

public class Bm25Tests
{
    private static readonly Document[] Docs =
    [
        new("a", "shower faucet chrome", ""),
        new("b", "kitchen faucet", ""),
        new("c", "shower head", "rain shower head with chrome finish"),
        new("d", "deck paint", ""),
        new("e", "36 in. vanity", ""),
    ];

    [Fact]
    public void Score_matches_a_hand_computed_value()
    {
        var index = Bm25.Build(Docs, new Bm25Options { K1 = 1.2f, B = 0.75f });
        // "faucet": df = 2, N = 5 -> idf = ln(1 + 3.5/2.5). Doc b: tf 1, dl 2, avgdl = (3+2+8+2+3)/5 = 3.6.
        double idf = Math.Log(1 + 3.5 / 2.5);
        double expected = idf * 1 * 2.2 / (1 + 1.2 * (1 - 0.75 + 0.75 * 2 / 3.6));
        var hits = index.Search("faucets", 10);
        Assert.Equal(["b", "a"], hits.Select(h => h.Id));
        Assert.Equal(expected, hits[0].Score, 5);
    }

    [Fact]
    public void Fast_search_matches_the_reference_score_of_every_document()
    {
        var index = Bm25.Build(Docs);
        foreach (var q in new[] { "shower", "chrome shower head", "faucet faucet", "36 inch vanity", "nothing here", "deck" })
        {
            var hits = index.Search(q, 10);
            var expected = Enumerable.Range(0, Docs.Length)
                .Select(d => (Id: Docs[d].Id, Score: index.ReferenceScore(q, d)))
                .Where(x => x.Score > 0).OrderByDescending(x => x.Score).ToArray();
            Assert.Equal(expected.Length, hits.Count);
            for (int i = 0; i < hits.Count; i++)
            {
                Assert.Equal(expected[i].Id, hits[i].Id);
                Assert.Equal(expected[i].Score, hits[i].Score, 4);
            }
        }
    }

    [Fact]
    public void Units_and_stems_let_queries_meet_titles() =>
        Assert.Equal("e", Bm25.Build(Docs).Search("36 inch vanities", 1)[0].Id);

    [Fact]
    public void Ties_keep_corpus_order_and_k_cuts()
    {
        var docs = Enumerable.Range(0, 20).Select(i => new Document($"d{i}", "same words", "")).ToArray();
        var index = Bm25.Build(docs);
        Assert.Equal(["d0", "d1", "d2"], index.Search("same", 3).Select(h => h.Id));
        Assert.Throws<ArgumentOutOfRangeException>(() => index.Search("same", 0));
    }

    [Fact]
    public void Batch_search_equals_one_at_a_time()
    {
        var index = Bm25.Build(Docs);
        var queries = Enumerable.Range(0, 50).Select(i => new Query($"q{i}", (i % 3) switch { 0 => "shower", 1 => "faucet chrome", _ => "paint" })).ToArray();
        var batch = index.Search(queries, 3);
        for (int i = 0; i < queries.Length; i++) Assert.Equal(index.Search(queries[i].Text, 3), batch[i]);
    }

    [Fact]
    public void Explain_sums_to_the_score_and_names_terms()
    {
        var index = Bm25.Build(Docs);
        var hit = index.Search("chrome shower head", 1)[0];
        var why = index.Explain("chrome shower head", hit.Id)!;
        Assert.Equal(hit.Score, why.Score, 4);
        Assert.Equal(["chrome", "shower", "head"], why.Terms.Select(t => t.Term));
        Assert.Contains("idf=", why.ToString());
        Assert.Null(index.Explain("x", "missing"));
    }

    [Fact]
    public void Empty_unknown_and_huge_queries_are_handled()
    {
        var index = Bm25.Build(Docs);
        Assert.Empty(index.Search("", 10));
        Assert.Empty(index.Search("zzz qqq", 10));
        var huge = string.Concat(Enumerable.Range(0, 12_000).Select(i => $"w{i} ")) + "deck"; // ~100 KB
        Assert.Equal("d", index.Search(huge, 10)[0].Id);
    }

    [Fact]
    public void Options_are_checked() =>
        Assert.Throws<ArgumentException>(() => Bm25.Build(Docs, new Bm25Options { B = 1.5f }));

    [Fact]
    public void Stop_words_are_optional()
    {
        var analyzer = new Bm25Analyzer(stem: true, removeStopWords: true);
        Assert.Equal(["faucet", "chrome"], analyzer.Analyze("faucets in the chrome"));
        Assert.Equal(["faucet", "in", "the", "chrome"], new Bm25Analyzer().Analyze("faucets in the chrome"));
    }
}
