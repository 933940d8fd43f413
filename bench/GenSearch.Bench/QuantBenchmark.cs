using System.Diagnostics;
using System.Globalization;
using GenSearch.Quantization;
using GenSearch.Tensors.Kernels;

namespace GenSearch.Bench;

/// <summary>
/// RQ-KMeans speed on a seeded 1M x 128 Gaussian mixture (side by side with faiss when Debian's python
/// has it), then codebook health on real item vectors: homedepot titles as TF-IDF + truncated SVD.
/// Full health reports go to bench/out/quant_*.md. <c>GENSEARCH_QUANT_ROWS</c> shrinks the synthetic set.
/// </summary>
public sealed class QuantBenchmark : IBenchmark
{
    public string Name => "quant";
    public string Description => "RQ-KMeans 3x256: train+encode 1M x 128 (vs faiss), encode items/s, homedepot codebook health";

    private const int Dim = 128, Levels = 3, Codes = 256, Seed = 1234;

    public IEnumerable<(string Name, double Value)> Run()
    {
        KernelThreads.Count = Math.Min(2, Environment.ProcessorCount);
        Directory.CreateDirectory("bench/out");
        int rows = int.TryParse(Environment.GetEnvironmentVariable("GENSEARCH_QUANT_ROWS"), out int r) ? r : 1_000_000;
        string tag = rows % 1_000_000 == 0 ? $"{rows / 1_000_000}m" : rows % 1000 == 0 ? $"{rows / 1000}k" : rows.ToString(CultureInfo.InvariantCulture);

        Console.Error.WriteLine($"# quant: generating {rows} x {Dim} mixture vectors");
        var x = SyntheticVectors(rows, Dim, Seed);
        foreach (var f in Synthetic(x, rows, tag)) yield return f;
        foreach (var f in Faiss(x, rows, tag)) yield return f;
        x = [];
        GC.Collect();
        foreach (var f in Homedepot()) yield return f;
    }

    private static IEnumerable<(string, double)> Synthetic(float[] x, int rows, string tag)
    {
        var rq = new ResidualKMeans(Dim, new ResidualKMeansOptions { Levels = Levels, Codes = Codes, KMeans = new KMeansOptions { Seed = Seed } });
        var codes = new int[rows * Levels];
        var clock = Stopwatch.StartNew();
        var steps = rq.Train(x, rows);
        double train = clock.Elapsed.TotalSeconds;
        rq.Encode(x, rows, codes);
        double total = clock.Elapsed.TotalSeconds;
        yield return ($"rqkmeans_{tag}_{Dim}d_{Levels}x{Codes}_s", total);
        yield return ($"rqkmeans_{tag}_train_s", train);
        yield return ($"rqkmeans_{tag}_iterations", steps.Count);

        // Encoding throughput: median of repeated passes over a 200k slice (the whole set when smaller).
        int slice = Math.Min(rows, 200_000);
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        int runs = 0;
        double encodeSeconds = Timing.MedianSeconds(() => { rq.Encode(x, slice, codes); runs++; }, minSeconds: 2, minRuns: 3);
        double cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
        yield return ("rq_encode_items_per_s", slice / encodeSeconds);
        // Per CPU-second as well: on a shared machine wall time depends on the neighbours, CPU time much less.
        yield return ("rq_encode_items_per_cpu_s", (double)slice * runs / cpuSeconds);

        yield return ($"rqkmeans_{tag}_relative_error", RelativeError(rq, x, rows, codes));
        var health = CodebookHealth.Compute(codes, rows, rq.CodebookSizes);
        yield return ($"rqkmeans_{tag}_min_level_utilisation", health.Levels.Min(l => l.Utilisation));
        yield return ($"rqkmeans_{tag}_collision_rate", health.Collisions.CollisionRate);
        File.WriteAllText($"bench/out/quant_synthetic_{tag}.md", health.ToTable());
    }

    private static IEnumerable<(string, double)> Faiss(float[] x, int rows, string tag)
    {
        const string python = "/usr/bin/python3";
        string script = "bench/GenSearch.Bench/faiss_rqkmeans.py";
        if (!File.Exists(python) || !Probe(python, "-c \"import faiss, numpy\""))
        {
            Console.Error.WriteLine("# quant: faiss not importable by /usr/bin/python3; skipping the side-by-side");
            yield break;
        }
        string npy = Path.GetFullPath("bench/out/quant_vectors.npy");
        VectorFile.WriteNpy(npy, new VectorMatrix(x, rows, Dim));
        var psi = new ProcessStartInfo(python, $"{script} {npy} {Levels} {Codes} {Seed}") { RedirectStandardOutput = true, UseShellExecute = false };
        psi.Environment["OMP_NUM_THREADS"] = "2";
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        File.Delete(npy);
        if (p.ExitCode != 0) { Console.Error.WriteLine($"# quant: faiss script failed ({p.ExitCode})"); yield break; }
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split(':', 2);
            string name = parts[0].Trim().Replace("faiss_rqkmeans_", $"faiss_rqkmeans_{tag}_");
            if (name == $"faiss_rqkmeans_{tag}_total_s") name = $"faiss_rqkmeans_{tag}_{Dim}d_{Levels}x{Codes}_s";
            yield return (name, double.Parse(parts[1], CultureInfo.InvariantCulture));
        }
    }

    private static IEnumerable<(string, double)> Homedepot()
    {
        // The repository sits beside shared/ (see DESIGN.md); GENSEARCH_HOMEDEPOT points elsewhere.
        string corpus = Path.GetFullPath(Path.Combine(
            Environment.GetEnvironmentVariable("GENSEARCH_HOMEDEPOT") ?? "../shared/data/homedepot", "corpus.jsonl"));
        if (!File.Exists(corpus))
        {
            Console.Error.WriteLine($"# quant: {corpus} not found; skipping the homedepot health report");
            yield break;
        }
        var clock = Stopwatch.StartNew();
        var (ids, vectors) = TitleVectors.Build(corpus, Dim, Seed);
        int n = ids.Length;
        yield return ("homedepot_title_vectors_s", clock.Elapsed.TotalSeconds);
        var report = new System.Text.StringBuilder();
        foreach (double balance in new[] { 0.0, 2.0 })
        {
            string prefix = balance == 0 ? "homedepot" : "homedepot_balanced";
            var rq = new ResidualKMeans(Dim, new ResidualKMeansOptions
            {
                Levels = Levels, Codes = Codes, KMeans = new KMeansOptions { Seed = Seed, BalanceFactor = balance },
            });
            clock.Restart();
            rq.Train(vectors, n);
            var codes = new int[n * Levels];
            if (balance > 0) rq.EncodeBalanced(vectors, n, codes); else rq.Encode(vectors, n, codes);
            yield return ($"{prefix}_rqkmeans_s", clock.Elapsed.TotalSeconds);
            var health = CodebookHealth.Compute(SemanticIds.Build(codes, n, rq.CodebookSizes));
            yield return ($"{prefix}_min_level_utilisation", health.Levels.Min(l => l.Utilisation));
            foreach (var l in health.Levels)
            {
                yield return ($"{prefix}_level{l.Level}_utilisation", l.Utilisation);
                yield return ($"{prefix}_level{l.Level}_perplexity", l.Perplexity);
                yield return ($"{prefix}_level{l.Level}_top1pct_share", l.TopShare);
            }
            yield return ($"{prefix}_collision_rate", health.Collisions.CollisionRate);
            yield return ($"{prefix}_largest_collision_group", health.Collisions.LargestGroup);
            yield return ($"{prefix}_relative_error", RelativeError(rq, vectors, n, codes));
            report.AppendLine($"### {prefix}: RQ-KMeans {Levels}x{Codes}" + (balance > 0 ? $", balanced (cap {balance} x items / K per level)" : ""))
                  .AppendLine().Append(health.ToTable()).AppendLine();
            File.WriteAllText($"bench/out/quant_{prefix}.json", health.ToJson());
        }
        File.WriteAllText("bench/out/quant_homedepot.md", report.ToString());
    }

    private static double RelativeError(IQuantizer q, float[] x, int rows, int[] codes)
    {
        var back = new float[x.Length];
        q.Decode(codes, rows, back);
        double err = 0, energy = 0;
        for (int i = 0; i < back.Length; i++) { double d = x[i] - back[i]; err += d * d; energy += (double)x[i] * x[i]; }
        return err / energy;
    }

    /// <summary>
    /// A seeded mixture with structure at two scales, as item embeddings have: 64 topics, each with 32
    /// sub-topics, sizes drawn from a Zipf-like law, anisotropic noise. Generated in parallel chunks,
    /// each with its own seed, so the result does not depend on thread timing.
    /// </summary>
    internal static float[] SyntheticVectors(int rows, int dim, int seed)
    {
        const int topics = 64, sub = 32, chunk = 16_384;
        var rng = new Random(seed);
        var centre = new float[topics * sub * dim];
        for (int t = 0; t < topics; t++)
        {
            var top = Enumerable.Range(0, dim).Select(_ => 4f * Normal(rng)).ToArray();
            for (int s = 0; s < sub; s++)
                for (int j = 0; j < dim; j++) centre[(t * sub + s) * dim + j] = top[j] + 1.5f * Normal(rng);
        }
        var weight = Enumerable.Range(1, topics * sub).Select(i => 1.0 / Math.Pow(i, 0.6)).ToArray();
        rng.Shuffle(weight);
        var cumulative = new double[weight.Length];
        double acc = 0;
        for (int i = 0; i < weight.Length; i++) cumulative[i] = acc += weight[i];
        var scale = Enumerable.Range(0, dim).Select(j => (float)(0.3 + 0.7 * Math.Exp(-j / 40.0))).ToArray();
        var x = new float[(long)rows * dim];
        Parallel.For(0, (rows + chunk - 1) / chunk, c =>
        {
            var local = new Random(seed * 7919 + c);
            for (int i = c * chunk; i < Math.Min(rows, (c + 1) * chunk); i++)
            {
                int k = Array.BinarySearch(cumulative, local.NextDouble() * acc);
                k = Math.Min(k < 0 ? ~k : k, weight.Length - 1);
                for (int j = 0; j < dim; j++) x[(long)i * dim + j] = centre[k * dim + j] + scale[j] * Normal(local);
            }
        });
        return x;
    }

    private static float Normal(Random rng) => (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));

    private static bool Probe(string exe, string args)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo(exe, args) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false })!;
            p.WaitForExit();
            return p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception) { return false; }
    }
}
