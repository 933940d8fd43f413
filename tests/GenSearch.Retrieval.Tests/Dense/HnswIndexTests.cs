using GenSearch.Retrieval.Dense;
using Xunit.Abstractions;

namespace GenSearch.Retrieval.Tests.Dense;

public class HnswIndexTests(ITestOutputHelper output)
{
    private const int Dim = 32;

    /// <summary>Mean share of the exact top-k ids that the approximate lists contain.</summary>
    public static double RecallAtK(VectorHit[][] exact, VectorHit[][] approximate, int k)
    {
        double sum = 0;
        for (int i = 0; i < exact.Length; i++)
        {
            var truth = exact[i].Take(k).Select(h => h.Id).ToHashSet();
            sum += approximate[i].Take(k).Count(h => truth.Contains(h.Id)) / (double)truth.Count;
        }
        return sum / exact.Length;
    }

    private static void AssertIdentical(VectorHit[][] expected, VectorHit[][] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual[i]);
    }

    private static void AssertSameGraph(HnswIndex a, HnswIndex b)
    {
        Assert.Equal(a.Count, b.Count);
        Assert.Equal(a.EntryPoint, b.EntryPoint);
        Assert.Equal(a.MaxLevel, b.MaxLevel);
        for (int node = 0; node < a.Count; node++)
        {
            Assert.Equal(a.LevelOf(node), b.LevelOf(node));
            for (int layer = 0; layer <= a.LevelOf(node); layer++)
                Assert.True(a.Neighbours(node, layer).SequenceEqual(b.Neighbours(node, layer)), $"node {node} layer {layer}");
        }
    }

    // 5,000 items and 200 queries from 50 clusters; one set shared by the tests below.
    private static readonly float[] s_data = SyntheticVectors.Clustered(5200, Dim, clusters: 50, spread: 0.35f, seed: 2024);
    private static float[] Items => s_data[..(5000 * Dim)];
    private static float[] Queries => s_data[(5000 * Dim)..];

    [Theory]
    [InlineData(VectorMetric.InnerProduct)]
    [InlineData(VectorMetric.Cosine)]
    [InlineData(VectorMetric.L2)]
    public void Recall_at_10_against_exact_search_is_at_least_0_95_with_default_options(VectorMetric metric)
    {
        var hnsw = new HnswIndex(Dim, new HnswOptions { Metric = metric });
        hnsw.Add(Items);
        var flat = new FlatIndex(Dim, metric);
        flat.Add(Items);
        double recall = RecallAtK(flat.Search(Queries, 10), hnsw.Search(Queries, 10), 10);
        output.WriteLine($"{metric}: recall@10 = {recall:F4}, max level {hnsw.MaxLevel}");
        Assert.True(recall >= 0.95, $"{metric}: recall@10 {recall:F4} < 0.95");
    }

    [Fact]
    public void Graph_respects_link_capacities_and_has_no_self_or_duplicate_links()
    {
        var options = new HnswOptions { M = 6, EfConstruction = 40 };
        var hnsw = new HnswIndex(Dim, options);
        hnsw.Add(Items.AsSpan(0, 2000 * Dim));
        var nodesOnLayer = Enumerable.Range(0, hnsw.MaxLevel + 1).Select(l => Enumerable.Range(0, hnsw.Count).Count(n => hnsw.LevelOf(n) >= l)).ToArray();
        for (int node = 0; node < hnsw.Count; node++)
        {
            for (int layer = 0; layer <= hnsw.LevelOf(node); layer++)
            {
                var links = hnsw.Neighbours(node, layer).ToArray();
                // Only a node alone on its layer has no links.
                Assert.InRange(links.Length, nodesOnLayer[layer] > 1 ? 1 : 0, layer == 0 ? 12 : 6);
                Assert.DoesNotContain(node, links);
                Assert.Equal(links.Length, links.Distinct().Count());
                Assert.All(links, n => Assert.True(hnsw.LevelOf(n) >= layer));
            }
            Assert.Empty(hnsw.Neighbours(node, hnsw.LevelOf(node) + 1).ToArray());
        }
        // About 1 node in M lives on layer 1 or above.
        double upper = Enumerable.Range(0, hnsw.Count).Count(n => hnsw.LevelOf(n) > 0) / (double)hnsw.Count;
        Assert.InRange(upper, 1.0 / 6 * 0.7, 1.0 / 6 * 1.3);
    }

    [Fact]
    public void Build_is_deterministic_given_seed_and_order_and_incremental_adds_match_one_add()
    {
        var data = Items.AsSpan(0, 1500 * Dim);
        var once = new HnswIndex(Dim);
        once.Add(data);
        var inParts = new HnswIndex(Dim);
        inParts.Add(data[..(1 * Dim)]);
        inParts.Add(data[(1 * Dim)..(700 * Dim)]);
        inParts.Add(data[(700 * Dim)..]);
        AssertSameGraph(once, inParts);
        AssertIdentical(once.Search(Queries, 10), inParts.Search(Queries, 10));

        var otherSeed = new HnswIndex(Dim, new HnswOptions { Seed = 43 });
        otherSeed.Add(data);
        Assert.Contains(Enumerable.Range(0, once.Count), n => once.LevelOf(n) != otherSeed.LevelOf(n));
    }

    [Fact]
    public void Small_sets_return_every_item_in_exact_order()
    {
        for (int count = 0; count <= 33; count++)
        {
            var items = Items.AsSpan(0, count * Dim).ToArray();
            var hnsw = new HnswIndex(Dim, new HnswOptions { Metric = VectorMetric.L2 });
            hnsw.Add(items);
            var exact = ExactSearchReference.Search(items, Queries.AsSpan(0, 5 * Dim), Dim, VectorMetric.L2, 40);
            var actual = hnsw.Search(Queries.AsSpan(0, 5 * Dim), 40);
            for (int i = 0; i < 5; i++)
            {
                Assert.Equal(exact[i].Select(h => h.Id), actual[i].Select(h => h.Id));
                for (int r = 0; r < count; r++)
                    Assert.InRange(actual[i][r].Score, exact[i][r].Score * (1 + 1e-5) - 1e-5, exact[i][r].Score * (1 - 1e-5) + 1e-5);
            }
        }
    }

    [Theory]
    [InlineData(VectorMetric.InnerProduct)]
    [InlineData(VectorMetric.Cosine)]
    public void Save_and_load_give_identical_results_and_identical_later_inserts(VectorMetric metric)
    {
        var options = new HnswOptions { M = 8, EfConstruction = 50, EfSearch = 30, Seed = 9, Metric = metric };
        var hnsw = new HnswIndex(Dim, options);
        hnsw.Add(Items.AsSpan(0, 1500 * Dim));
        string path = Path.Combine(Path.GetTempPath(), $"hnsw-{Guid.NewGuid():N}.safetensors");
        try
        {
            hnsw.Save(path);
            var loaded = HnswIndex.Load(path);
            Assert.Equal(options, loaded.Options);
            AssertSameGraph(hnsw, loaded);
            AssertIdentical(hnsw.Search(Queries, 10), loaded.Search(Queries, 10));

            // The generator's state travels with the file: adding more draws the same levels on both.
            hnsw.Add(Items.AsSpan(1500 * Dim, 300 * Dim));
            loaded.Add(Items.AsSpan(1500 * Dim, 300 * Dim));
            AssertSameGraph(hnsw, loaded);
            AssertIdentical(hnsw.Search(Queries, 10), loaded.Search(Queries, 10));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Load_rejects_a_file_that_is_not_an_hnsw_index()
    {
        var flat = new FlatIndex(4);
        flat.Add([1f, 2f, 3f, 4f]);
        string path = Path.Combine(Path.GetTempPath(), $"not-hnsw-{Guid.NewGuid():N}.safetensors");
        try
        {
            flat.Save(path);
            var error = Assert.Throws<InvalidDataException>(() => HnswIndex.Load(path));
            Assert.Contains(path, error.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Bad_input_gets_a_clear_error()
    {
        var hnsw = new HnswIndex(3);
        Assert.Contains("dimension 3", Assert.Throws<ArgumentException>(() => hnsw.Add([1f, 2f])).Message);
        hnsw.Add([1f, 2f, 3f]);
        Assert.Contains("dimension 3", Assert.Throws<ArgumentException>(() => hnsw.Search([1f, 2f, 3f, 4f], 1)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => hnsw.Search([1f, 2f, 3f], 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new HnswIndex(3, new HnswOptions { M = 1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new HnswIndex(3, new HnswOptions { EfConstruction = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => hnsw.EfSearch = 0);
        Assert.Empty(Assert.Single(new HnswIndex(3).Search([1f, 2f, 3f], 4)));
    }
}
