using System.Diagnostics;
using GenSearch.Data;
using GenSearch.Retrieval;
using GenSearch.Serving;
using GenSearch.Serving.Ranking;
using GenSearch.Tensors.Kernels;

namespace GenSearch.Bench;

/// <summary>
/// Reranking latency: a trained ranker (<c>GENSEARCH_RANKER</c>, default <c>runs/sid-coord</c>; and
/// <c>GENSEARCH_LAMBDAMART</c>, default <c>runs/lambdamart</c>, when present) reorders the top 100 of its own
/// retriever expression for homedepot dev queries, one query at a time on one thread (the target: at
/// most 5 ms a query). The candidates are retrieved beforehand; the time is the stage's own: match features
/// (BM25 of each candidate, the feature model's similarity and log-probability, text overlap) and the ranker.
/// </summary>
public sealed class RerankBenchmark : IBenchmark
{
    public string Name => "rerank";

    public string Description => "ranker: reranking 100 candidates per homedepot dev query (features + model), one query at a time, one thread";

    public IEnumerable<(string Name, double Value)> Run()
    {
        string data = Environment.GetEnvironmentVariable("GENSEARCH_DATA") ?? Path.GetFullPath("../shared/data/homedepot");
        if (!Directory.Exists(data)) throw new BenchmarkSkipped($"no data at {data} (set GENSEARCH_DATA)");
        var rankers = new List<(string Tag, string Dir)>();
        foreach (var (tag, variable, fallback) in new[] { ("sid_coord", "GENSEARCH_RANKER", "runs/sid-coord"), ("lambdamart", "GENSEARCH_LAMBDAMART", "runs/lambdamart") })
        {
            string dir = Environment.GetEnvironmentVariable(variable) ?? Path.GetFullPath(fallback);
            if (File.Exists(Path.Combine(dir, "config.json"))) rankers.Add((tag, dir));
        }
        if (rankers.Count == 0) throw new BenchmarkSkipped("no ranker (train one, or set GENSEARCH_RANKER / GENSEARCH_LAMBDAMART)");
        var set = BeirDataset.Open(data);
        var judged = set.Qrels("dev").Qrels.QueryIds.ToHashSet(StringComparer.Ordinal);
        var queries = set.Queries().Where(q => judged.Contains(q.Id)).Take(300).ToArray();
        // homedepot's k1 and b (the built-in table): the time does not depend on them.
        var bm25 = Bm25.Build(set.Corpus(), new Bm25Options { K1 = 0.3f, B = 0.85f });
        var items = set.Corpus().ToDictionary(d => d.Id, StringComparer.Ordinal);
        foreach (var (tag, dir) in rankers)
        {
            var header = RankerFormats.Header(dir);
            const int depth = 100;
            var spec = RetrieverOpener.Resolve(header.Retriever, header.FeatureModel);
            var retriever = RetrieverOpener.Open(set, spec, header.FeatureModel, new RetrieverOpenOptions { BuildBm25 = (_, _) => bm25, Fusion = header.FusionMethod }).Retriever;
            var candidates = retriever.Search(queries, depth);
            var reranker = Reranker.Open(dir, bm25, id => items.GetValueOrDefault(id));
            int saved = KernelThreads.Count;
            KernelThreads.Count = 1;
            try
            {
                for (int i = 0; i < 40; i++) reranker.Rerank(queries[i], candidates[i], depth); // tiered JIT
                var total = new List<double>();
                var features = new List<double>();
                var cpu = new List<double>();
                for (int i = 0; i < queries.Length; i++)
                {
                    long start = Stopwatch.GetTimestamp();
                    double cpuStart = Timing.ThreadCpuSeconds();
                    reranker.Rerank(queries[i], candidates[i], depth);
                    cpu.Add((Timing.ThreadCpuSeconds() - cpuStart) * 1000);
                    total.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                    start = Stopwatch.GetTimestamp();
                    reranker.Features.Extract(queries[i], [.. candidates[i].Take(depth)]);
                    features.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                }
                total.Sort(); features.Sort(); cpu.Sort();
                yield return ($"rerank_{tag}_candidates_mean", candidates.Average(c => Math.Min(depth, c.Count)));
                yield return ($"rerank_{tag}_p50_ms", total[total.Count / 2]);
                yield return ($"rerank_{tag}_p99_ms", total[(int)Math.Ceiling(0.99 * total.Count) - 1]);
                yield return ($"rerank_{tag}_cpu_p50_ms", cpu[cpu.Count / 2]);
                yield return ($"rerank_{tag}_features_p50_ms", features[features.Count / 2]);
            }
            finally { KernelThreads.Count = saved; }
        }
    }
}
