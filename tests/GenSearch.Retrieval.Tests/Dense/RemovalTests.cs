using GenSearch.Retrieval.Dense;

namespace GenSearch.Retrieval.Tests.Dense;

/// <summary>Tombstones, frozen views and compaction of both vector indexes.</summary>
public class RemovalTests
{
    private const int Dim = 16;

    /// <summary>Exact answers over the rows of <paramref name="items"/> not in <paramref name="removed"/>, with the original row ids.</summary>
    private static VectorHit[][] ExactOverLive(float[] items, float[] queries, VectorMetric metric, int k, HashSet<int> removed, int dim = Dim)
    {
        int n = items.Length / dim;
        var live = Enumerable.Range(0, n).Where(i => !removed.Contains(i)).ToArray();
        var rows = live.SelectMany(i => items.AsSpan(i * dim, dim).ToArray()).ToArray();
        return ExactSearchReference.Search(rows, queries, dim, metric, k)
            .Select(hits => hits.Select(h => new VectorHit(live[h.Id], h.Score)).ToArray()).ToArray();
    }

    [Theory]
    [InlineData(VectorMetric.InnerProduct)]
    [InlineData(VectorMetric.L2)]
    public void Flat_removed_rows_are_never_returned_and_the_rest_rank_exactly(VectorMetric metric)
    {
        var items = SyntheticVectors.Clustered(3000, Dim, 20, 0.3f, seed: 1);
        var queries = SyntheticVectors.Clustered(70, Dim, 20, 0.3f, seed: 2);
        var index = new FlatIndex(Dim, metric);
        index.Add(items);
        var removed = Enumerable.Range(0, 3000).Where(i => i % 3 == 0 || i < 2100).ToHashSet(); // whole item blocks too
        Assert.Equal(removed.Count, index.Remove(removed.ToArray()));
        Assert.Equal(0, index.Remove([0, 3])); // already removed
        Assert.Equal(removed.Count, index.RemovedCount);
        Assert.Throws<ArgumentOutOfRangeException>(() => index.Remove([3000]));
        foreach (int k in new[] { 1, 10, 700 }) // 700: more than are live in some item ranges
        {
            var expected = ExactOverLive(items, queries, metric, k, removed);
            var actual = index.Search(queries, k);
            for (int q = 0; q < queries.Length / Dim; q++)
            {
                Assert.Equal(expected[q].Select(h => h.Id), actual[q].Select(h => h.Id));
                for (int i = 0; i < actual[q].Length; i++) LiveCatalogTests.AssertClose(expected[q][i].Score, actual[q][i].Score);
            }
        }
        // Fewer live rows than k: only live ones come back.
        index.Remove(Enumerable.Range(0, 3000).Where(i => !removed.Contains(i) && i % 2 == 0).ToArray());
        Assert.All(index.Search(queries, 3000), hits => Assert.All(hits, h => Assert.True(h.Id % 2 == 1 && !removed.Contains(h.Id))));
    }

    [Theory]
    [InlineData(VectorMetric.InnerProduct)]
    [InlineData(VectorMetric.Cosine)]
    public void Hnsw_skips_tombstones_in_results_but_walks_through_them(VectorMetric metric)
    {
        // The data of HnswIndexTests' recall test: 5,000 items and 200 queries of 32 dimensions in 50 clusters.
        const int dim = 32;
        var data = SyntheticVectors.Clustered(5200, dim, clusters: 50, spread: 0.35f, seed: 2024);
        var items = data[..(5000 * dim)];
        var queries = data[(5000 * dim)..];
        var hnsw = new HnswIndex(dim, new HnswOptions { Metric = metric });
        hnsw.Add(items);
        // A third of the rows, the entry point among them: searches start from a tombstone.
        var removed = Enumerable.Range(0, 5000).Where(i => i % 3 == 1).Append(hnsw.EntryPoint).ToHashSet();
        hnsw.Remove(removed.ToArray());
        Assert.True(hnsw.IsRemoved(hnsw.EntryPoint));
        var found = hnsw.Search(queries, 10);
        Assert.All(found, hits => Assert.All(hits, h => Assert.DoesNotContain(h.Id, removed)));
        Assert.All(found, hits => Assert.Equal(10, hits.Length));
        double recall = HnswIndexTests.RecallAtK(ExactOverLive(items, queries, metric, 10, removed, dim), found, 10);
        Assert.True(recall >= 0.95, $"recall@10 {recall:F3} over the live rows");

        // Compaction: the live rows, renumbered in order, as a fresh build of them.
        var compact = (HnswIndex)hnsw.Compact();
        var live = Enumerable.Range(0, 5000).Where(i => !removed.Contains(i)).ToArray();
        Assert.Equal(live.Length, compact.Count);
        Assert.Equal(0, compact.RemovedCount);
        var fresh = new HnswIndex(dim, new HnswOptions { Metric = metric });
        fresh.Add(live.SelectMany(i => hnsw.Vector(i).ToArray()).ToArray());
        var fromCompact = compact.Search(queries, 10);
        var fromFresh = fresh.Search(queries, 10);
        for (int q = 0; q < fromCompact.Length; q++) Assert.Equal(fromFresh[q].Select(h => h.Id), fromCompact[q].Select(h => h.Id));
    }

    [Fact]
    public void A_view_keeps_its_rows_while_the_index_changes()
    {
        // Exact search over a view gives the same answer later; HNSW returns only the view's rows
        // (links rewritten by later inserts may steer it to other approximate neighbours among them).
        var items = SyntheticVectors.Clustered(600, Dim, 10, 0.3f, seed: 5);
        var queries = SyntheticVectors.Clustered(20, Dim, 10, 0.3f, seed: 6);
        foreach (IVectorIndex index in new IVectorIndex[] { new FlatIndex(Dim), new HnswIndex(Dim, new HnswOptions { EfSearch = 600 }) })
        {
            index.Add(items.AsSpan(0, 300 * Dim));
            var view = index.View;
            var before = index.Search(queries, 20, view);
            index.Add(items.AsSpan(300 * Dim));          // may grow (copy) the arrays
            index.Remove(before.SelectMany(h => h.Select(x => x.Id)).Distinct().ToArray());
            var later = index.Search(queries, 20, view);
            if (index is FlatIndex)
                for (int q = 0; q < before.Length; q++) Assert.Equal(before[q].Select(h => h.Id), later[q].Select(h => h.Id));
            Assert.All(later, hits => Assert.Equal(20, hits.Length));
            Assert.All(later, hits => Assert.All(hits, h => Assert.True(h.Id < 300)));
            Assert.Equal(300, view.Rows);
            Assert.Equal(0, view.RemovedCount);
            Assert.All(index.Search(queries, 20), hits => Assert.All(hits, h => Assert.True(h.Id >= 300 || !before.Any(b => b.Any(x => x.Id == h.Id)))));
            Assert.Throws<ArgumentException>(() => new FlatIndex(Dim).Search(queries, 1, view));
        }
    }
}
