using System.Diagnostics;
using GenSearch.Data;
using GenSearch.Serving;
using GenSearch.Tensors.Kernels;

namespace GenSearch.Bench;

/// <summary>
/// Serving latency of the unified model's generative retrieval on real queries: a trained model
/// (<c>GENSEARCH_UNIFIED_MODEL</c>, default <c>runs/unified</c>) over its homedepot catalog, dev query
/// texts one at a time on one thread, beam 50 and beam 100 (the target: beam 50 p50 at most 15 ms).
/// </summary>
public sealed class UnifiedBeamBenchmark : IBenchmark
{
    public string Name => "beam-unified";

    public string Description => "unified model: generative search latency on homedepot dev queries, beam 50 and 100, one query at a time, one thread";

    public IEnumerable<(string Name, double Value)> Run()
    {
        string modelDir = Environment.GetEnvironmentVariable("GENSEARCH_UNIFIED_MODEL") ?? Path.GetFullPath("runs/unified");
        if (!File.Exists(Path.Combine(modelDir, "config.json"))) throw new BenchmarkSkipped($"no unified model at {modelDir} (train one, or set GENSEARCH_UNIFIED_MODEL)");
        string data = Environment.GetEnvironmentVariable("GENSEARCH_DATA") ?? Path.GetFullPath("../shared/data/homedepot");
        if (!Directory.Exists(data)) throw new BenchmarkSkipped($"no data at {data} (set GENSEARCH_DATA)");
        var set = BeirDataset.Open(data);
        var judged = set.Qrels("dev").Qrels.QueryIds.ToHashSet(StringComparer.Ordinal);
        var queries = set.Queries().Where(q => judged.Contains(q.Id)).Take(300).ToArray();
        int saved = KernelThreads.Count;
        KernelThreads.Count = 1;
        try
        {
            foreach (int beam in new[] { 50, 100 })
            {
                var retriever = UnifiedFormat.OpenGenerative(new ModelDirectory(modelDir), new ModelOpenOptions { BeamSize = beam });
                for (int i = 0; i < 40; i++) retriever.Search([queries[i % queries.Length]], beam); // tiered JIT
                var times = new List<double>();
                var cpu = new List<double>();
                foreach (var query in queries)
                {
                    long start = Stopwatch.GetTimestamp();
                    double cpuStart = Timing.ThreadCpuSeconds();
                    retriever.Search([query], beam);
                    cpu.Add((Timing.ThreadCpuSeconds() - cpuStart) * 1000);
                    times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                }
                times.Sort();
                cpu.Sort();
                yield return ($"unified_beam{beam}_p50_ms", times[times.Count / 2]);
                yield return ($"unified_beam{beam}_p99_ms", times[(int)Math.Ceiling(0.99 * times.Count) - 1]);
                yield return ($"unified_beam{beam}_cpu_p50_ms", cpu[cpu.Count / 2]);
            }
        }
        finally { KernelThreads.Count = saved; }
    }
}
