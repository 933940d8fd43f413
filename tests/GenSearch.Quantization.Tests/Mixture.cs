namespace GenSearch.Quantization.Tests;

/// <summary>Seeded Gaussian mixtures with known membership.</summary>
internal static class Mixture
{
    public static float Normal(Random rng) => (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));

    /// <summary><paramref name="sizes"/>[c] points around centre c (centres at distance ~<paramref name="spread"/>, unit noise x <paramref name="noise"/>).</summary>
    public static (float[] X, int[] Label, float[] Centres) Make(int seed, int dim, int[] sizes, float spread = 10f, float noise = 1f)
    {
        var rng = new Random(seed);
        int k = sizes.Length, n = sizes.Sum();
        var centres = new float[k * dim];
        for (int i = 0; i < centres.Length; i++) centres[i] = spread * Normal(rng);
        var x = new float[n * dim];
        var label = new int[n];
        int row = 0;
        for (int c = 0; c < k; c++)
            for (int j = 0; j < sizes[c]; j++, row++)
            {
                label[row] = c;
                for (int t = 0; t < dim; t++) x[row * dim + t] = centres[c * dim + t] + noise * Normal(rng);
            }
        return (x, label, centres);
    }

    public static float[] Uniform(int seed, int count) { var r = new Random(seed); return Enumerable.Range(0, count).Select(_ => Normal(r)).ToArray(); }
}
