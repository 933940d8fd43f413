using GenSearch.Models;
using GenSearch.Models.Generative;
using GenSearch.Models.TwoTower;
using GenSearch.Nn;
using GenSearch.Retrieval.Dense;
using GenSearch.Retrieval.Generative;
using GenSearch.Tensors;
using GenSearch.Text;

namespace GenSearch.Retrieval.Tests;

/// <summary>The retrievers that wrap models, on a tiny catalog: contracts, not quality.</summary>
public class ModelRetrieverTests
{
    private static readonly string[] Titles =
    [
        "red cordless drill", "blue garden hose 50 ft", "white ceiling fan", "black deck screws",
        "oak wood stain 1 gal.", "steel angle bracket", "led light bulb 60w", "copper pipe fitting",
    ];

    private static readonly WordPieceTokenizer Tokenizer = WordPieceTrainer.Train(Titles);

    private static Query[] Queries(params string[] texts) => texts.Select((t, i) => new Query($"q{i}", t)).ToArray();

    [Fact]
    public void GenerativeRetrieverReturnsOnlyCatalogItemsInScoreOrder()
    {
        var vocabulary = new SidVocabulary([3, 3, 2]);
        var codes = Enumerable.Range(0, Titles.Length).Select(i => new[] { i % 3, (i / 3) % 3, i % 2 }).ToList();
        codes.Add([0, 0, 0]); // a collision with item 0: both share one leaf
        var ids = Enumerable.Range(0, codes.Count).Select(i => $"d{i}").ToArray();
        var generator = new SidGenerator(vocabulary, new EncoderDecoderConfig
        {
            SourceVocabulary = Tokenizer.VocabularySize, Dim = 16, Heads = 2, EncoderLayers = 1, DecoderLayers = 1, FfnDim = 32,
            MaxSourceLength = 16, MaxTargetLength = 3,
        }, new Rng(1));
        var retriever = new GenerativeRetriever(generator, Tokenizer, codes, ids, new GenerativeSearchOptions { BeamSize = 20, QueryBatch = 2 },
            itemPrior: Enumerable.Range(0, codes.Count).Select(i => i == 8 ? 1f : 0f).ToArray());
        var results = retriever.Search(Queries("drill", "hose", "a very long query " + string.Concat(Enumerable.Repeat("word ", 200))), 100);
        Assert.Equal(3, results.Length);
        foreach (var hits in results)
        {
            Assert.Equal(codes.Count, hits.Count); // beam 20 covers every ID
            Assert.Equal(codes.Count, hits.Select(h => h.Id).Distinct().Count());
            for (int i = 1; i < hits.Count; i++) Assert.True(hits[i - 1].Score >= hits[i].Score);
            // d8 shares d0's ID and has the higher prior: it comes right before d0 with the same score.
            int at8 = hits.ToList().FindIndex(h => h.Id == "d8"), at0 = hits.ToList().FindIndex(h => h.Id == "d0");
            Assert.Equal(at8 + 1, at0);
            Assert.Equal(hits[at8].Score, hits[at0].Score);
        }
        Assert.True(retriever.Trie.Bytes > 0);
    }

    [Fact]
    public void ExplainGivesEachHitsSidPathWhoseLevelScoresSumToItsSearchScore()
    {
        var vocabulary = new SidVocabulary([3, 3, 2]);
        var codes = Enumerable.Range(0, Titles.Length).Select(i => new[] { i % 3, (i / 3) % 3, i % 2 }).ToList();
        var ids = Enumerable.Range(0, codes.Count).Select(i => $"d{i}").ToArray();
        var generator = new SidGenerator(vocabulary, new EncoderDecoderConfig
        {
            SourceVocabulary = Tokenizer.VocabularySize, Dim = 16, Heads = 2, EncoderLayers = 1, DecoderLayers = 1, FfnDim = 32,
            MaxSourceLength = 16, MaxTargetLength = 3,
        }, new Rng(3));
        var retriever = new GenerativeRetriever(generator, Tokenizer, codes, ids, new GenerativeSearchOptions { BeamSize = 20 });
        var query = new Query("q", "garden hose");
        var hits = retriever.Search([query], 5)[0];
        var paths = retriever.Explain(query, [.. hits.Select(h => h.Id), "not-an-item"]);
        Assert.Null(paths[^1]);
        for (int i = 0; i < hits.Count; i++)
        {
            var path = paths[i]!;
            Assert.Equal(hits[i].Id, path.ItemId);
            Assert.Equal(codes[Array.IndexOf(ids, hits[i].Id)], path.Codes);
            Assert.Equal(3, path.LevelScores.Length);
            Assert.All(path.LevelScores, s => Assert.True(s <= 0 && float.IsFinite(s)));
            Assert.Equal(hits[i].Score, path.Score, 1e-4f);
            Assert.Equal(path.Codes, retriever.SidOf(hits[i].Id));
        }
        Assert.Null(retriever.SidOf("not-an-item"));
    }

    [Fact]
    public void DenseRetrieverRanksByCosineOfTheTowers()
    {
        var model = new TwoTowerModel(new TwoTowerConfig
        {
            Encoder = new TextEncoderConfig { Vocabulary = Tokenizer.VocabularySize, Dim = 16, Heads = 2, Layers = 1, FfnDim = 32, MaxLength = 16, OutputDim = 8 },
        }, new Rng(2));
        var itemVectors = model.ItemTower.Encode(Tokenizer, Titles, 16);
        var index = new FlatIndex(8);
        index.Add(itemVectors);
        var retriever = new DenseRetriever(model, Tokenizer, index, Titles.Select((_, i) => $"d{i}").ToArray());
        var queries = Queries("cordless drill", "fan");
        var results = retriever.Search(queries, 3);
        var queryVectors = model.QueryTower.Encode(Tokenizer, queries.Select(q => q.Text).ToList(), 16);
        for (int q = 0; q < 2; q++)
        {
            var expected = Enumerable.Range(0, Titles.Length)
                .Select(i => (Id: $"d{i}", Score: Enumerable.Range(0, 8).Sum(j => queryVectors[q * 8 + j] * itemVectors[i * 8 + j])))
                .OrderByDescending(x => x.Score).Take(3).ToList();
            Assert.Equal(expected.Select(x => x.Id), results[q].Select(h => h.Id));
            for (int i = 0; i < 3; i++) Assert.Equal(expected[i].Score, results[q][i].Score, 4);
        }
    }

    [Fact]
    public void NgramDenseRetrieverRanksByCosineAndReturnsNothingForAQueryItCannotRead()
    {
        var vocabulary = NgramVocabulary.Build(Titles);
        var model = new NgramTowerModel(new NgramTowerConfig { Features = vocabulary.Count, Dim = 8 }, new Rng(3));
        var itemVectors = model.Encode(vocabulary, Titles);
        var index = new FlatIndex(8);
        index.Add(itemVectors);
        var retriever = new DenseRetriever(model, vocabulary, index, Titles.Select((_, i) => $"d{i}").ToArray());
        var results = retriever.Search(Queries("cordless drill", "zzzz qqqq", "", string.Concat(Enumerable.Repeat("hose ", 20_000))), 3);
        var drill = model.Encode(vocabulary, ["cordless drill"]);
        var expected = Enumerable.Range(0, Titles.Length)
            .Select(i => (Id: $"d{i}", Score: Enumerable.Range(0, 8).Sum(j => drill[j] * itemVectors[i * 8 + j])))
            .OrderByDescending(x => x.Score).Take(3).ToList();
        Assert.Equal(expected.Select(x => x.Id), results[0].Select(h => h.Id));
        Assert.Equal("d0", results[0][0].Id); // the identical words are the nearest point even untrained
        Assert.Empty(results[1]); // no known feature (unknown trigrams too): nothing, not ties in index order
        Assert.Empty(results[2]);
        Assert.Equal("d1", results[3][0].Id); // a 100 KB query is just a long bag
    }

    private sealed class FixedRetriever(string name, params string[][] lists) : IRetriever
    {
        public string Name => name;
        public int Count => 10;
        public IReadOnlyList<SearchHit>[] Search(IReadOnlyList<Query> queries, int k)
            => queries.Select((_, q) => (IReadOnlyList<SearchHit>)lists[q].Take(k).Select((id, r) => new SearchHit(id, 1f - r)).ToArray()).ToArray();
    }

    [Fact]
    public void FusionSumsReciprocalRanks()
    {
        var fused = new FusionRetriever([new FixedRetriever("a", ["x", "y", "z"]), new FixedRetriever("b", ["z", "x"])], method: FusionMethod.ReciprocalRank);
        var hits = fused.Search(Queries("q"), 3)[0];
        Assert.Equal("a+b", fused.Name);
        // x: 1/61 + 1/62; z: 1/63 + 1/61; y: 1/62.
        Assert.Equal(["x", "z", "y"], hits.Select(h => h.Id).ToArray());
        Assert.Equal(1f / 61 + 1f / 62, hits[0].Score, 6);
    }

    private sealed class ScoredRetriever(params (string Id, float Score)[] list) : IRetriever
    {
        public string Name => "scored";
        public int Count => 10;
        public IReadOnlyList<SearchHit>[] Search(IReadOnlyList<Query> queries, int k)
            => queries.Select(_ => (IReadOnlyList<SearchHit>)list.Take(k).Select(x => new SearchHit(x.Id, x.Score)).ToArray()).ToArray();
    }

    /// <summary>
    /// By hand: list a (x 3, y 2.9, z 0) has mean 1.9667 and standard deviation 1.3912, so z-scores
    /// x 0.7428, y 0.6709, z -1.4137; list b (z 1, y 0) has z 1, y -1, and x, missing, takes b's lowest, -1.
    /// Sums: x -0.2572, y -0.3291, z -0.4137. Reciprocal rank orders them the other way (z 1/63 + 1/61,
    /// y 2/62, x 1/61): it cannot see that a's x and y are nearly tied and z far below.
    /// </summary>
    [Fact]
    public void ZScoreFusionSumsStandardisedScoresAndAMissingItemTakesTheListsLowest()
    {
        IRetriever[] parts = [new ScoredRetriever(("x", 3f), ("y", 2.9f), ("z", 0f)), new ScoredRetriever(("z", 1f), ("y", 0f))];
        var hits = new FusionRetriever(parts).Search(Queries("q"), 3)[0];
        Assert.Equal(["x", "y", "z"], hits.Select(h => h.Id).ToArray());
        Assert.Equal(-0.2572f, hits[0].Score, 3);
        Assert.Equal(-0.3291f, hits[1].Score, 3);
        Assert.Equal(-0.4137f, hits[2].Score, 3);
        var byRank = new FusionRetriever(parts, method: FusionMethod.ReciprocalRank).Search(Queries("q"), 3)[0];
        Assert.Equal(["z", "y", "x"], byRank.Select(h => h.Id).ToArray());
    }

    [Fact]
    public void ZScoresOfATiedListAreZeroAndNonFiniteScoresAreClamped()
    {
        // A list without spread orders nothing: its items 0, an item it left out -1 (below them).
        AssertZ([0.0, 0.0], -1.0, FusionRetriever.Standardised([new SearchHit("a", 2f), new SearchHit("b", 2f)]));
        AssertZ([0.0], -1.0, FusionRetriever.Standardised([new SearchHit("a", 5f)]));
        // 1, NaN -> 1, 1: tied. 3, -inf, 1 -> 3, 1, 1: z sqrt(2), -sqrt(1/2), -sqrt(1/2), missing the lowest.
        AssertZ([0.0, 0.0], -1.0, FusionRetriever.Standardised([new SearchHit("a", 1f), new SearchHit("b", float.NaN)]));
        var (z, missing) = FusionRetriever.Standardised([new SearchHit("a", 3f), new SearchHit("b", float.NegativeInfinity), new SearchHit("c", 1f)]);
        Assert.Equal(Math.Sqrt(2), z[0], 9);
        Assert.Equal(-Math.Sqrt(0.5), z[1], 9);
        Assert.Equal(-Math.Sqrt(0.5), z[2], 9);
        Assert.Equal(-Math.Sqrt(0.5), missing, 9);
        // +inf counts as the highest finite score, not the lowest.
        (z, _) = FusionRetriever.Standardised([new SearchHit("a", float.PositiveInfinity), new SearchHit("b", 3f), new SearchHit("c", 1f)]);
        Assert.Equal(z[1], z[0]);
        Assert.True(z[0] > z[2]);
    }

    private static void AssertZ(double[] z, double missing, (double[] Z, double Missing) actual)
    {
        Assert.Equal(z, actual.Z);
        Assert.Equal(missing, actual.Missing);
    }

    /// <summary>
    /// A list with one hit (a rare query's one BM25 match) still counts: its hit 0, the items it left out -1.
    /// With those at 0 too, x would win the second case (0.7428 against only's 0.6709).
    /// </summary>
    [Fact]
    public void ZScoreFusionCountsAListWithOneHit()
    {
        IRetriever[] parts = [new ScoredRetriever(("only", 7f)), new ScoredRetriever(("x", 3f), ("y", 2f), ("only", 1f))];
        var hits = new FusionRetriever(parts).Search(Queries("q"), 3)[0];
        // only: 0 - 1.2247 = -1.2247; x: -1 + 1.2247 = 0.2247; y: -1 + 0 = -1.
        Assert.Equal(["x", "y", "only"], hits.Select(h => h.Id).ToArray());
        parts = [new ScoredRetriever(("only", 7f)), new ScoredRetriever(("x", 3f), ("only", 2.9f), ("y", 0f))];
        Assert.Equal("only", new FusionRetriever(parts).Search(Queries("q"), 1)[0][0].Id);
    }

    /// <summary>More results than the fusion depth: each list is read to k, and an id twice in a list counts once.</summary>
    [Theory]
    [InlineData(FusionMethod.ZScore)]
    [InlineData(FusionMethod.ReciprocalRank)]
    public void FusionReadsEachListToKAndCountsAnIdOncePerList(FusionMethod method)
    {
        var many = Enumerable.Range(0, 30).Select(i => ($"a{i}", 30f - i)).ToArray();
        var other = Enumerable.Range(0, 30).Select(i => ($"b{i}", 30f - i)).ToArray();
        var hits = new FusionRetriever([new ScoredRetriever(many), new ScoredRetriever(other)], depth: 10, method).Search(Queries("q"), 50)[0];
        Assert.Equal(50, hits.Count);
        var twice = new FusionRetriever([new ScoredRetriever(("x", 3f), ("x", 2f), ("y", 1f)), new ScoredRetriever(("y", 3f), ("x", 1f))], method: method)
            .Search(Queries("q"), 5)[0];
        Assert.Equal(2, twice.Count);
        Assert.Equal(twice[0].Score, twice[1].Score, 5); // x and y: first in one list, second in the other
    }
}
