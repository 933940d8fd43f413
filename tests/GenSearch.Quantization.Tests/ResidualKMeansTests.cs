namespace GenSearch.Quantization.Tests;

public class ResidualKMeansTests
{
    private static double Mse(IQuantizer q, float[] x, int n)
    {
        var codes = new int[n * q.Levels];
        q.Encode(x, n, codes);
        var back = new float[x.Length];
        q.Decode(codes, n, back);
        double s = 0;
        for (int i = 0; i < x.Length; i++) s += (x[i] - back[i]) * (double)(x[i] - back[i]);
        return s / n;
    }

    [Fact]
    public void EveryLevelLowersTheReconstructionError()
    {
        var x = Mixture.Uniform(1, 1200 * 12);
        double previous = double.PositiveInfinity;
        for (int levels = 1; levels <= 3; levels++)
        {
            var rq = new ResidualKMeans(12, new ResidualKMeansOptions { Levels = levels, Codes = 16 });
            rq.Train(x, 1200);
            double mse = Mse(rq, x, 1200);
            Assert.True(mse < previous * 0.95, $"{levels} levels: mse {mse} vs {previous}");
            previous = mse;
        }
    }

    [Fact]
    public void EncodingMatchesGreedyReferenceAndTwoLevelMixtureIsRecovered()
    {
        // Coarse clusters far apart, each split into fine clusters: level 0 finds the coarse ones.
        int coarse = 4, fine = 4, per = 40, dim = 6;
        var rng = new Random(4);
        var centres = Mixture.Uniform(7, coarse * dim).Select(v => v * 50).ToArray();
        var offsets = Mixture.Uniform(8, coarse * fine * dim).Select(v => v * 8).ToArray();
        var x = new List<float>();
        var label = new List<int>();
        for (int c = 0; c < coarse; c++)
            for (int f = 0; f < fine; f++)
                for (int p = 0; p < per; p++)
                {
                    label.Add(c);
                    for (int t = 0; t < dim; t++) x.Add(centres[c * dim + t] + offsets[(c * fine + f) * dim + t] + Mixture.Normal(rng) * 0.3f);
                }
        int n = label.Count;
        var data = x.ToArray();
        var rq = new ResidualKMeans(dim, new ResidualKMeansOptions { Levels = 2, Codes = 4 });
        var steps = rq.Train(data, n);
        Assert.Equal([0, 1], steps.Select(s => s.Level).Distinct());
        var codes = new int[n * 2];
        rq.Encode(data, n, codes);
        for (int c = 0; c < coarse; c++)
            Assert.Single(Enumerable.Range(0, n).Where(i => label[i] == c).Select(i => codes[i * 2]).Distinct());

        // Greedy reference: nearest centroid by the double-precision twin, level by level.
        var residual = (float[])data.Clone();
        var refCode = new int[1];
        for (int i = 0; i < n; i++)
            for (int l = 0; l < 2; l++)
            {
                var r = residual.AsSpan(i * dim, dim);
                NearestCentroid.AssignReference(r, 1, dim, rq.Level(l).Centroids, 4, refCode, default);
                Assert.Equal(refCode[0], codes[i * 2 + l]);
                for (int t = 0; t < dim; t++) r[t] -= rq.Level(l).Centroids[refCode[0] * dim + t];
            }
    }

    [Fact]
    public void SavesAndLoadsThroughTheMethodRegistry()
    {
        var x = Mixture.Uniform(2, 500 * 8);
        var q = QuantizerMethods.Create("rqkmeans", new QuantizerSpec(8, 2, 8, Seed: 5));
        q.Train(x, 500);
        string path = Path.Combine(Path.GetTempPath(), $"rq-{Guid.NewGuid():N}.safetensors");
        try
        {
            QuantizerMethods.Save(q, path);
            var back = QuantizerMethods.Load(path);
            Assert.Equal("rqkmeans", back.Method);
            var a = new int[1000]; var b = new int[1000];
            q.Encode(x, 500, a);
            back.Encode(x, 500, b);
            Assert.Equal(a, b);
        }
        finally { File.Delete(path); }
        Assert.Contains("unknown quantization method 'nope' (known: rqkmeans", Assert.Throws<ArgumentException>(() => QuantizerMethods.Create("nope", new QuantizerSpec(8, 2, 8))).Message);
    }

    [Fact]
    public void TrainsOnASampleAndBalancedEncodingRespectsTheCap()
    {
        var (x, label, _) = Mixture.Make(3, 8, [900, 100, 100, 100], spread: 6f);
        int n = label.Length;
        var rq = new ResidualKMeans(8, new ResidualKMeansOptions
        {
            Levels = 2, Codes = 4, KMeans = new KMeansOptions { MaxPointsPerCluster = 50, BalanceFactor = 1.0 },
        });
        rq.Train(x, n); // trains on 4 x 50 = 200 sampled points
        var codes = new int[n * 2];
        rq.EncodeBalanced(x, n, codes);
        for (int l = 0; l < 2; l++)
            Assert.All(Enumerable.Range(0, n).GroupBy(i => codes[i * 2 + l]), g => Assert.True(g.Count() <= n / 4));
    }

    [Fact]
    public void RefusesToEncodeUntrained()
    {
        var rq = new ResidualKMeans(4);
        Assert.Throws<InvalidOperationException>(() => rq.Encode(new float[4], 1, new int[3]));
    }
}
