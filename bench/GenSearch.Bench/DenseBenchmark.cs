using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using GenSearch.Retrieval.Dense;
using GenSearch.Tensors.Kernels;

namespace GenSearch.Bench;

/// <summary>
/// Dense vector search on 100k x 128 seeded, clustered, unit-length vectors, side by side with faiss
/// (Debian python) on the same vectors in the same run: exact inner-product search (a batch of 1000
/// queries, k = 100, 2 threads) against IndexFlatIP; HNSW build time (ours single-threaded, faiss on
/// 1 and on 2 threads), batch search (k = 10, 2 threads) and recall@10 against exact search, against
/// IndexHNSWFlat with the same M, efConstruction and efSearch. Set GENSEARCH_DENSE_COUNT for a smaller set.
/// </summary>
public sealed class DenseBenchmark : IBenchmark
{
    private const int Dim = 128, Queries = 1000, K = 100, Threads = 2;

    public string Name => "dense";
    public string Description => "exact (GEMM) and HNSW vector search on 100k x 128: queries/s, build s, recall@10 vs faiss";

    public IEnumerable<(string Name, double Value)> Run()
    {
        int count = int.TryParse(Environment.GetEnvironmentVariable("GENSEARCH_DENSE_COUNT"), out int c) ? c : 100_000;
        // 1000 topics; noise of 0.8 per coordinate against centres of unit variance, then unit length:
        // neighbours within a topic are nearly equidistant, which keeps HNSW's recall below 1.
        float[] all = SyntheticVectors.Clustered(count + Queries, Dim, clusters: 1000, spread: 0.8f, seed: 1234, normalise: true);
        var items = all.AsSpan(0, count * Dim).ToArray();
        var queries = all.AsSpan(count * Dim).ToArray();
        int savedThreads = KernelThreads.Count;
        KernelThreads.Count = Threads;
        try
        {
            foreach (var figure in Measure(all, items, queries, count)) yield return figure;
        }
        finally
        {
            KernelThreads.Count = savedThreads;
        }
    }

    private static IEnumerable<(string, double)> Measure(float[] all, float[] items, float[] queries, int count)
    {
        yield return ("dense_items", count);
        var flat = new FlatIndex(Dim, VectorMetric.InnerProduct);
        flat.Add(items);
        double exact = Timing.MedianSeconds(() => flat.Search(queries, K), minSeconds: 0, minRuns: 3);
        double exactQps = Queries / exact;
        yield return ("dense_exact_queries_per_s", exactQps);
        var truth = flat.Search(queries, 10);

        var options = new HnswOptions();
        var hnsw = new HnswIndex(Dim, options);
        var watch = Stopwatch.StartNew();
        hnsw.Add(items);
        double build = watch.Elapsed.TotalSeconds;
        yield return ("dense_hnsw_build_s", build);
        double search = Timing.MedianSeconds(() => hnsw.Search(queries, 10), minSeconds: 1, minRuns: 5);
        double hnswQps = Queries / search;
        yield return ("dense_hnsw_queries_per_s", hnswQps);
        KernelThreads.Count = 1;
        double search1 = Timing.MedianSeconds(() => hnsw.Search(queries, 10), minSeconds: 1, minRuns: 3);
        KernelThreads.Count = Threads;
        yield return ("dense_hnsw_queries_per_s_1thread", Queries / search1);
        double recall = Recall10(truth, hnsw.Search(queries, 10));
        yield return ("dense_hnsw_recall10", recall);
        yield return ("dense_hnsw_max_level", hnsw.MaxLevel);

        // The recall/speed trade-off along efSearch, on the same graph.
        foreach (int ef in new[] { 16, 32, 128 })
        {
            hnsw.EfSearch = ef;
            double s = Timing.MedianSeconds(() => hnsw.Search(queries, 10), minSeconds: 0.5, minRuns: 3);
            yield return ($"dense_hnsw_ef{ef}_queries_per_s", Queries / s);
            yield return ($"dense_hnsw_ef{ef}_recall10", Recall10(truth, hnsw.Search(queries, 10)));
        }

        var faiss = Faiss(all, count, options);
        foreach (var (name, value) in faiss) yield return (name, value);
        double faissExactQps = Queries / faiss["faiss_flat_search_s"];
        double faissHnswQps = Queries / faiss["faiss_hnsw_search_s"];
        yield return ("faiss_flat_queries_per_s", faissExactQps);
        yield return ("faiss_hnsw_queries_per_s", faissHnswQps);
        // Ratios above 1 mean GenSearch is faster (or finds more).
        yield return ("dense_exact_queries_per_s_vs_faiss", exactQps / faissExactQps);
        yield return ("dense_hnsw_build_speedup_vs_faiss_1thread", faiss["faiss_hnsw_build_s_1thread"] / build);
        yield return ("dense_hnsw_build_speedup_vs_faiss_2threads", faiss["faiss_hnsw_build_s"] / build);
        yield return ("dense_hnsw_queries_per_s_vs_faiss", hnswQps / faissHnswQps);
        yield return ("dense_hnsw_queries_per_s_1thread_vs_faiss", Queries / search1 / (Queries / faiss["faiss_hnsw_search_s_1thread"]));
        yield return ("dense_hnsw_recall10_vs_faiss", recall / faiss["faiss_hnsw_recall10"]);
    }

    private static double Recall10(VectorHit[][] truth, VectorHit[][] found)
    {
        double sum = 0;
        for (int i = 0; i < truth.Length; i++)
        {
            var expected = truth[i].Select(h => h.Id).ToHashSet();
            sum += found[i].Count(h => expected.Contains(h.Id)) / (double)expected.Count;
        }
        return sum / truth.Length;
    }

    /// <summary>Runs bench/reference/dense_faiss.py on the same vectors (written to a temporary file).</summary>
    private static Dictionary<string, double> Faiss(float[] all, int count, HnswOptions options)
    {
        const string script = "bench/reference/dense_faiss.py";
        string dataPath = Path.Combine(Path.GetTempPath(), $"gensearch-dense-{Environment.ProcessId}.f32");
        // Idle OpenMP threads sleep instead of spinning (the child inherits this): on a shared machine spinning steals the cores.
        Environment.SetEnvironmentVariable("OMP_WAIT_POLICY", "PASSIVE");
        try
        {
            File.WriteAllBytes(dataPath, MemoryMarshal.AsBytes(all.AsSpan()).ToArray());
            var arguments = new object[] { dataPath, Dim, count, Queries, K, Threads, options.M, options.EfConstruction, options.EfSearch }
                .Select(a => Convert.ToString(a, CultureInfo.InvariantCulture)!);
            // Two HNSW builds of 100k vectors take minutes on a loaded machine.
            return PythonReference.Run(script, arguments, TimeSpan.FromMinutes(40), "faiss", "numpy");
        }
        finally
        {
            File.Delete(dataPath);
        }
    }
}
