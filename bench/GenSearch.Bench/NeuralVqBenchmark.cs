using System.Diagnostics;
using GenSearch.Quantization;
using GenSearch.Tensors.Kernels;

namespace GenSearch.Bench;

/// <summary>
/// Codebook collapse, side by side: plain residual VQ, residual SimVQ and RQ-VAE on the synthetic mixture of
/// the unit test (512 well-separated clusters of 8 points in 16-d, 2 levels x 64 codes, codebooks initialised
/// N(0, 1), about 4x the untrained encoder's latent scale; 10 epochs, batch 128, AdamW 2e-3), over three seeds.
/// Then, when the data is present, the same three 3x256 on homedepot title vectors (TF-IDF + SVD, 128-d).
/// <c>GENSEARCH_NEURALVQ_HOMEDEPOT=0</c> skips the homedepot part.
/// </summary>
public sealed class NeuralVqBenchmark : IBenchmark
{
    public string Name => "neuralvq";
    public string Description => "plain VQ vs SimVQ vs RQ-VAE: utilisation per level on a collapse-prone mixture, training time; homedepot 3x256";

    private static readonly (string Name, Func<int, int, int, NeuralQuantizerOptions> Preset)[] Methods =
    [
        ("plain", NeuralQuantizerOptions.PlainVq),
        ("simvq", NeuralQuantizerOptions.SimVq),
        ("rqvae", NeuralQuantizerOptions.RqVae),
    ];

    public IEnumerable<(string Name, double Value)> Run()
    {
        KernelThreads.Count = Math.Min(2, Environment.ProcessorCount);
        const int clusters = 512, per = 8, dim = 16, levels = 2, codes = 64;
        var x = Mixture(7, dim, clusters, per);
        int n = clusters * per;
        int[] seeds = [1234, 1, 2];
        foreach (var (name, preset) in Methods)
        {
            var worst = new List<double>();
            var seconds = new List<double>();
            foreach (int seed in seeds)
            {
                var p = preset(levels, codes, seed);
                var options = p with
                {
                    Epochs = 10, BatchSize = 128, LearningRate = 2e-3f, HiddenDims = [64], LatentDim = 16,
                    Quantizer = p.Quantizer with { InitStd = 1f },
                };
                var (health, s) = TrainAndReport(options, x, n, dim);
                seconds.Add(s);
                worst.Add(health.Levels.Min(l => l.Utilisation));
                Console.Error.WriteLine($"# neuralvq: {name} seed {seed}: utilisation {string.Join(" / ", health.Levels.Select(l => l.Utilisation.ToString("P1")))}, {s:F2} s");
                if (seed == seeds[0])
                {
                    for (int l = 0; l < levels; l++) yield return ($"vq_collapse_{name}_level{l}_utilisation", health.Levels[l].Utilisation);
                    yield return ($"vq_collapse_{name}_min_utilisation", worst[0]);
                }
            }
            yield return ($"vq_collapse_{name}_min_utilisation_worst_of_{seeds.Length}_seeds", worst.Min());
            seconds.Sort();
            yield return ($"vq_collapse_{name}_train_s", seconds[seconds.Count / 2]);
        }

        if (Environment.GetEnvironmentVariable("GENSEARCH_NEURALVQ_HOMEDEPOT") == "0") yield break;
        // As bench/run quant: the repository sits beside shared/; GENSEARCH_HOMEDEPOT points elsewhere.
        string corpus = Path.GetFullPath(Path.Combine(
            Environment.GetEnvironmentVariable("GENSEARCH_HOMEDEPOT") ?? "../shared/data/homedepot", "corpus.jsonl"));
        if (!File.Exists(corpus))
        {
            Console.Error.WriteLine($"# neuralvq: {corpus} not found; skipping homedepot");
            yield break;
        }
        var (_, vectors) = TitleVectors.Build(corpus, 128, 1234);
        int rows = vectors.Length / 128;
        foreach (var (name, preset) in Methods)
        {
            var options = preset(3, 256, 1234) with { Epochs = 10 };
            var (health, s) = TrainAndReport(options, vectors, rows, 128);
            for (int l = 0; l < 3; l++) yield return ($"homedepot_{name}_level{l}_utilisation", health.Levels[l].Utilisation);
            yield return ($"homedepot_{name}_collision_rate", health.Collisions.CollisionRate);
            yield return ($"homedepot_{name}_train_s", s);
        }
    }

    private static (CodebookHealth Health, double Seconds) TrainAndReport(NeuralQuantizerOptions options, float[] x, int n, int dim)
    {
        var q = new NeuralQuantizer(dim, options);
        var clock = Stopwatch.StartNew();
        q.Train(x, n);
        double seconds = clock.Elapsed.TotalSeconds;
        var codes = new int[n * q.Levels];
        q.Encode(x, n, codes);
        return (CodebookHealth.Compute(codes, n, q.CodebookSizes), seconds);
    }

    /// <summary>The unit tests' mixture: centres N(0, 10^2), unit noise, <paramref name="per"/> points per cluster in cluster order.</summary>
    private static float[] Mixture(int seed, int dim, int clusters, int per)
    {
        var rng = new Random(seed);
        float Normal() => (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
        var centres = new float[clusters * dim];
        for (int i = 0; i < centres.Length; i++) centres[i] = 10f * Normal();
        var x = new float[clusters * per * dim];
        int row = 0;
        for (int c = 0; c < clusters; c++)
            for (int j = 0; j < per; j++, row++)
                for (int t = 0; t < dim; t++) x[row * dim + t] = centres[c * dim + t] + Normal();
        return x;
    }
}
