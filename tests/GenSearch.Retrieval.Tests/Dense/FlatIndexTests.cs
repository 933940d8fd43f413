using GenSearch.Retrieval.Dense;
using GenSearch.Tensors;
using GenSearch.Tensors.Kernels;

namespace GenSearch.Retrieval.Tests.Dense;

public class FlatIndexTests
{
    /// <summary>Small integers: every dot product and distance is exact in float and double, so ranks and ties must agree exactly.</summary>
    private static float[] SmallIntegers(Rng rng, int rows, int dimension)
    {
        var values = new float[rows * dimension];
        for (int i = 0; i < values.Length; i++) values[i] = rng.NextInt(7) - 3;
        return values;
    }

    private static void AssertIdentical(VectorHit[][] expected, VectorHit[][] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(expected[i].SequenceEqual(actual[i]),
                $"{what}, query {i}: expected [{string.Join(" ", expected[i])}] got [{string.Join(" ", actual[i])}]");
        }
    }

    [Theory]
    [InlineData(VectorMetric.InnerProduct)]
    [InlineData(VectorMetric.L2)]
    public void Matches_the_twin_exactly_on_integer_vectors_at_every_size(VectorMetric metric)
    {
        var rng = new Rng(7);
        // Each of items, queries and dimension walks 0..64 while the other two are drawn at random.
        for (int size = 0; size <= 64; size++)
        {
            foreach (var (count, n, d) in new[] { (size, rng.NextInt(65), 1 + rng.NextInt(64)), (rng.NextInt(65), size, 1 + rng.NextInt(64)), (rng.NextInt(65), rng.NextInt(65), Math.Max(1, size)) })
            {
                var items = SmallIntegers(rng, count, d);
                var queries = SmallIntegers(rng, n, d);
                var index = new FlatIndex(d, metric);
                index.Add(items);
                foreach (int k in new[] { 1, 1 + rng.NextInt(70), count + 5 })
                {
                    AssertIdentical(ExactSearchReference.Search(items, queries, d, metric, k), index.Search(queries, k),
                        $"{metric} count {count} n {n} d {d} k {k}");
                }
            }
        }
    }

    [Fact]
    public void Equal_scores_are_ordered_by_lower_row_id()
    {
        var index = new FlatIndex(2);
        for (int i = 0; i < 5000; i++) index.Add([1f, 0f]);
        var hits = index.Search([1f, 0f, 2f, 0f], 7);
        Assert.Equal([0, 1, 2, 3, 4, 5, 6], hits[0].Select(h => h.Id));
        Assert.Equal([0, 1, 2, 3, 4, 5, 6], hits[1].Select(h => h.Id));
        Assert.All(hits[1], h => Assert.Equal(2f, h.Score));
    }

    [Theory]
    [InlineData(3, 10)]    // few queries: item ranges split over threads, then merged
    [InlineData(130, 100)] // several query blocks: queries split over threads
    [InlineData(64, 2100)] // k larger than one item block
    public void Blocked_and_threaded_search_matches_the_twin(int n, int k)
    {
        var rng = new Rng(11);
        const int count = 5000, d = 24; // three item blocks, the last one partial
        var items = SmallIntegers(rng, count, d);
        var queries = SmallIntegers(rng, n, d);
        var index = new FlatIndex(d, VectorMetric.L2);
        index.Add(items.AsSpan(0, 1234 * d)); // added in two parts: ids continue
        index.Add(items.AsSpan(1234 * d));
        var expected = ExactSearchReference.Search(items, queries, d, VectorMetric.L2, k);
        int saved = KernelThreads.Count;
        try
        {
            foreach (int threads in new[] { 1, 2, 3 })
            {
                KernelThreads.Count = threads;
                AssertIdentical(expected, index.Search(queries, k), $"threads {threads}");
            }
        }
        finally
        {
            KernelThreads.Count = saved;
        }
    }

    [Theory]
    [InlineData(VectorMetric.InnerProduct)]
    [InlineData(VectorMetric.Cosine)]
    [InlineData(VectorMetric.L2)]
    public void Matches_the_twin_within_rounding_on_gaussian_vectors(VectorMetric metric)
    {
        var rng = new Rng(3);
        foreach (var (count, n, d) in new[] { (1, 1, 1), (17, 5, 3), (300, 33, 31), (2500, 70, 64) })
        {
            var items = new float[count * d];
            var queries = new float[n * d];
            rng.FillNormal(items, 0, 1);
            rng.FillNormal(queries, 0, 1);
            var index = new FlatIndex(d, metric);
            index.Add(items);
            int k = Math.Min(count, 20);
            var expected = ExactSearchReference.Search(items, queries, d, metric, k);
            var actual = index.Search(queries, k);
            for (int i = 0; i < n; i++)
            {
                Assert.Equal(expected[i].Length, actual[i].Length);
                var q = queries.AsSpan(i * d, d);
                for (int r = 0; r < k; r++)
                {
                    // The rank's score agrees, and the returned item really has that score: a valid top-k up to rounding.
                    double tolerance = 1e-4 * (1 + Math.Abs(expected[i][r].Score));
                    Assert.InRange(actual[i][r].Score, expected[i][r].Score - tolerance, expected[i][r].Score + tolerance);
                    double truth = ExactSearchReference.Score(metric, q, items.AsSpan(actual[i][r].Id * d, d));
                    Assert.InRange(actual[i][r].Score, truth - tolerance, truth + tolerance);
                }
            }
        }
    }

    [Fact]
    public void Cosine_normalises_items_and_queries()
    {
        var index = new FlatIndex(2, VectorMetric.Cosine);
        index.Add([10f, 0f, 0f, 0.5f, 3f, 3f, 0f, 0f]);
        var hits = index.Search([0f, 7f], 4);
        Assert.Equal([1, 2, 0, 3], hits[0].Select(h => h.Id));
        Assert.Equal(1f, hits[0][0].Score, 5);
        Assert.Equal(MathF.Sqrt(0.5f), hits[0][1].Score, 5);
        Assert.Equal(0f, hits[0][2].Score);
        Assert.Equal(0f, hits[0][3].Score); // the zero vector scores 0
    }

    [Fact]
    public void Bad_input_gets_a_clear_error()
    {
        var index = new FlatIndex(3);
        var add = Assert.Throws<ArgumentException>(() => index.Add([1f, 2f, 3f, 4f]));
        Assert.Contains("dimension 3", add.Message);
        index.Add([1f, 2f, 3f]);
        var search = Assert.Throws<ArgumentException>(() => index.Search([1f, 2f], 1));
        Assert.Contains("dimension 3", search.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => index.Search([1f, 2f, 3f], 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => index.Search([1f, 2f, 3f], -1));
        var nan = Assert.Throws<ArgumentException>(() => index.Add([1f, 2f, 3f, 4f, float.NaN, 6f]));
        Assert.Contains("row 1, column 1", nan.Message);
        Assert.Equal(1, index.Count); // nothing of a rejected batch is kept
        Assert.Throws<ArgumentOutOfRangeException>(() => new FlatIndex(0));
    }

    [Fact]
    public void Empty_index_and_empty_batches_give_empty_results()
    {
        var index = new FlatIndex(4);
        Assert.Empty(Assert.Single(index.Search(new float[4], 5)));
        Assert.Empty(index.Search([], 5));
    }

    [Theory]
    [InlineData(VectorMetric.InnerProduct)]
    [InlineData(VectorMetric.Cosine)]
    public void Save_and_load_give_identical_results(VectorMetric metric)
    {
        var data = SyntheticVectors.Clustered(700, 16, 10, 0.3f, seed: 5);
        var index = new FlatIndex(16, metric);
        index.Add(data.AsSpan(0, 600 * 16));
        string path = Path.Combine(Path.GetTempPath(), $"flat-{Guid.NewGuid():N}.safetensors");
        try
        {
            index.Save(path);
            var loaded = FlatIndex.Load(path);
            Assert.Equal(metric, loaded.Metric);
            Assert.True(index.Vectors.SequenceEqual(loaded.Vectors));
            var queries = data.AsSpan(600 * 16);
            AssertIdentical(index.Search(queries, 10), loaded.Search(queries, 10), "loaded");
        }
        finally
        {
            File.Delete(path);
        }
    }
}

public class VectorRetrieverTests
{
    [Fact]
    public void Maps_row_ids_to_corpus_ids_through_the_query_encoder()
    {
        var index = new FlatIndex(2);
        index.Add([1f, 0f, 0f, 1f, 0.6f, 0.8f]);
        var retriever = new VectorRetriever("dense", index, ["a", "b", "c"],
            queries => queries.SelectMany(q => q.Text == "x" ? new[] { 1f, 0f } : [0f, 1f]).ToArray());
        var hits = retriever.Search([new Query("q1", "x"), new Query("q2", "y")], 2);
        Assert.Equal(["a", "c"], hits[0].Select(h => h.Id));
        Assert.Equal(["b", "c"], hits[1].Select(h => h.Id));
        Assert.Equal(0.8f, hits[1][1].Score);
        Assert.Throws<ArgumentException>(() => new VectorRetriever("dense", index, ["a"], _ => []));
    }
}
