using GenSearch.Retrieval.Generative;

namespace GenSearch.Retrieval.Tests.Generative;

public class LatentSketchTests
{
    private static float[] Gaussian(Random random, int count)
        => Enumerable.Range(0, count).Select(_ => (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()))).ToArray();

    private static float Similarity(ReadOnlySpan<float> q, ReadOnlySpan<float> d)
    {
        double sum = 0;
        for (int i = 0; i < q.Length; i++) sum += (q[i] - d[i]) * (double)(q[i] - d[i]);
        return (float)(1 - sum);
    }

    [Theory]
    [InlineData(64, 63)] // rows of 64: whole vectors only
    [InlineData(40, 32)] // rows of 33: a tail after the vectors
    [InlineData(5, 2)]   // rows of 3: shorter than a vector
    public void TheBlockKernelMatchesTheOneRowTwin(int p, int k)
    {
        var random = new Random(3);
        int n = 57;
        var vectors = Gaussian(random, n * p);
        var sketch = LatentSketch.Fit(vectors, p, k);
        var rows = sketch.SketchRows(vectors);
        var query = new float[sketch.Width];
        sketch.Sketch(Gaussian(random, p), query);
        var block = new float[n];
        LatentSketch.EstimateRows(query, rows, block);
        for (int i = 0; i < n; i++)
        {
            float expected = LatentSketch.Estimate(query, rows.AsSpan(i * sketch.Width, sketch.Width));
            Assert.True(Math.Abs(block[i] - expected) <= 1e-4f * Math.Max(1, Math.Abs(expected)), $"row {i}: {block[i]} against {expected}");
        }
    }

    [Fact]
    public void WithAsManyDirectionsAsDimensionsTheEstimateIsTheSimilarity()
    {
        var random = new Random(5);
        const int p = 12;
        var vectors = Gaussian(random, 30 * p);
        var sketch = LatentSketch.Fit(vectors, p, 50);
        Assert.Equal(p, sketch.Directions);
        var q = Gaussian(random, p);
        var (sq, sd) = (new float[sketch.Width], new float[sketch.Width]);
        sketch.Sketch(q, sq);
        for (int i = 0; i < 30; i++)
        {
            var d = vectors.AsSpan(i * p, p);
            sketch.Sketch(d, sd);
            Assert.Equal(Similarity(q, d), LatentSketch.Estimate(sq, sd), 3);
        }
    }

    [Fact]
    public void TheDirectionsFoundSpanTheDataWhenItLiesInAFewOfThem()
    {
        // Items in a 4-dimensional subspace of R^20, queries anywhere: the fitted 4 directions must span
        // the items' subspace, so an item's residual norm is 0 and the estimate is 1 - ||z_q - z_d||^2 - rho_q^2,
        // exactly the similarity (the query's residual is orthogonal to every item). Wrong directions leave
        // items a residual and the estimate falls below the similarity by 2 rho_q rho_d or more.
        var random = new Random(11);
        const int p = 20, rank = 4, n = 200;
        var span = Gaussian(random, rank * p);
        var vectors = new float[n * p];
        for (int i = 0; i < n; i++)
        {
            var weights = Gaussian(random, rank);
            for (int r = 0; r < rank; r++)
                for (int j = 0; j < p; j++) vectors[i * p + j] += weights[r] * span[r * p + j] * (r + 1); // unequal variances
        }
        var sketch = LatentSketch.Fit(vectors, p, rank);
        var (sq, sd) = (new float[sketch.Width], new float[sketch.Width]);
        for (int t = 0; t < 10; t++)
        {
            var q = Gaussian(random, p);
            sketch.Sketch(q, sq);
            for (int i = 0; i < n; i += 7)
            {
                var d = vectors.AsSpan(i * p, p);
                sketch.Sketch(d, sd);
                Assert.True(sd[^1] < 1e-2f * (1 + MathF.Sqrt(d.ToArray().Sum(x => x * x))), $"item {i} keeps a residual of {sd[^1]}");
                float exact = Similarity(q, d);
                Assert.True(Math.Abs(LatentSketch.Estimate(sq, sd) - exact) <= 1e-3f * Math.Max(1, Math.Abs(exact)), $"item {i}: {LatentSketch.Estimate(sq, sd)} against {exact}");
            }
        }
    }

    [Fact]
    public void BadSizesAreRefused()
    {
        Assert.Throws<ArgumentException>(() => LatentSketch.Fit(new float[10], 4, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => LatentSketch.Fit(new float[8], 4, 0));
        var sketch = LatentSketch.Fit(new float[8], 4, 2);
        Assert.Throws<ArgumentException>(() => sketch.Sketch(new float[3], new float[3]));
        Assert.Throws<ArgumentException>(() => LatentSketch.EstimateRows(new float[3], new float[7], new float[2]));
    }
}
