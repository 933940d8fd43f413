using System.Diagnostics;
using GenSearch.Data;
using GenSearch.Evaluation;
using GenSearch.Retrieval;
using GenSearch.Serving;

namespace GenSearch.Bench;

/// <summary>
/// The generated user-context data (<see cref="UserLogGenerator"/>, default options) over homedepot:
/// how long generation takes, how ambiguous its targets are without history (the oracle that knows
/// the relevant items but not the user), BM25 without history, and BM25 re-ranked by the history: its
/// top 100 with the items of the user's brand moved ahead, the brand being the one most of the user's
/// clicked items (<see cref="Query.Context"/>'s <c>i:</c> entries) have under <see cref="BrandKeys"/>.
/// That baseline knows the brand rule the generator used, so it is the headroom a model can reach from
/// the history with BM25's candidates, not a product retriever. Set GENSEARCH_DATA to use another BEIR directory.
/// </summary>
public sealed class UserLogBenchmark : IBenchmark
{
    public string Name => "userlog";
    public string Description => "generated user-context data over homedepot: BM25 with and without the user's history (brand-first re-rank)";

    public IEnumerable<(string Name, double Value)> Run()
    {
        string dir = Environment.GetEnvironmentVariable("GENSEARCH_DATA") ?? Path.GetFullPath("../shared/data/homedepot");
        if (!Directory.Exists(dir)) throw new BenchmarkSkipped($"no data at {dir} (set GENSEARCH_DATA)");
        string outDir = Path.Combine(Path.GetTempPath(), $"gensearch-userlog-{Environment.ProcessId}");
        try
        {
            var sw = Stopwatch.StartNew();
            var summary = UserLogGenerator.Generate(BeirDataset.Open(dir), outDir, new UserLogOptions());
            yield return ("userlog_generate_s", sw.Elapsed.TotalSeconds);
            foreach (var s in summary.Splits)
            {
                yield return ($"userlog_{s.Split}_users", s.Users);
                yield return ($"userlog_{s.Split}_brands_per_target", s.MeanBrands);
                yield return ($"userlog_{s.Split}_oracle_no_history_hit1", s.OracleHitAt1);
                yield return ($"userlog_{s.Split}_oracle_no_history_mrr", s.OracleMrr);
            }

            var set = BeirDataset.Open(outDir);
            var docs = set.Corpus().ToArray();
            var brands = BrandKeys.Of(docs.Select(d => d.Title).ToArray());
            var brandOf = new Dictionary<string, string?>(StringComparer.Ordinal);
            for (int i = 0; i < docs.Length; i++) brandOf[docs[i].Id] = brands[i];
            var index = Bm25.Build(docs).WithScoring(set.Manifest.Bm25K1 ?? new Bm25Options().K1, set.Manifest.Bm25B ?? new Bm25Options().B);
            var queries = set.Queries().ToDictionary(q => q.Id, StringComparer.Ordinal);
            var options = set.EvaluationOptions();
            foreach (var split in new[] { "heldout", "dev" })
            {
                var qrels = set.Qrels(split, queries.Keys.ToHashSet(StringComparer.Ordinal)).Qrels;
                var batch = qrels.QueryIds.Select(id => queries[id]).ToArray();
                var plain = RetrieverRuns.Search(index, batch, 100);
                var reranked = new Run();
                foreach (var q in batch) reranked.Set(q.Id, BrandFirst(plain.For(q.Id), HistoryBrand(q, brandOf), brandOf));
                foreach (var (label, run) in new[] { ("bm25", plain), ("bm25_history_brand_first", reranked) })
                {
                    var e = Evaluator.Evaluate(qrels, run, options);
                    foreach (var m in new[] { "Recall@10", "Recall@100", "MRR@10", "NDCG@10" })
                        yield return ($"userlog_{split}_{label}_{m.Replace("@", "").ToLowerInvariant()}", e[m]);
                }
            }
        }
        finally
        {
            if (Directory.Exists(outDir)) Directory.Delete(outDir, recursive: true);
        }
    }

    /// <summary>The brand most of the user's clicked items have; on a tie, the one clicked last.</summary>
    private static string? HistoryBrand(Query q, Dictionary<string, string?> brandOf)
    {
        var clicked = (q.Context ?? []).Where(c => c.StartsWith(UserContexts.ItemPrefix, StringComparison.Ordinal))
            .Select(c => brandOf.GetValueOrDefault(c[UserContexts.ItemPrefix.Length..])).ToList();
        return clicked.Select((b, i) => (Brand: b, At: i)).Where(x => x.Brand != null)
            .GroupBy(x => x.Brand).OrderByDescending(g => g.Count()).ThenByDescending(g => g.Max(x => x.At)).Select(g => g.Key).FirstOrDefault();
    }

    /// <summary>The ranking with the items of <paramref name="brand"/> first, each part in its BM25 order.</summary>
    private static RankedDoc[] BrandFirst(IReadOnlyList<RankedDoc> ranked, string? brand, Dictionary<string, string?> brandOf)
    {
        if (brand == null) return ranked.ToArray();
        var first = ranked.Where(d => brandOf.GetValueOrDefault(d.DocId) == brand);
        var rest = ranked.Where(d => brandOf.GetValueOrDefault(d.DocId) != brand);
        // Scores restated as descending ranks so the run reads as ranked.
        return first.Concat(rest).Select((d, i) => new RankedDoc(d.DocId, ranked.Count - i)).ToArray();
    }
}
