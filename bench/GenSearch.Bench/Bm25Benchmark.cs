using GenSearch.Serving;
using System.Diagnostics;
using System.Globalization;
using GenSearch.Data;
using GenSearch.Evaluation;
using GenSearch.Retrieval;
using GenSearch.Text;

namespace GenSearch.Bench;

/// <summary>
/// BM25 and the text pipeline on homedepot, side by side with Xapian's BM25 (Debian python) in the
/// same run: index build time, queries per second, and the dev metrics of both runs scored by the
/// same evaluator. Also the WordPiece tokenizer's training time and one-thread encoding speed.
/// Set GENSEARCH_DATA to use another BEIR directory.
/// </summary>
public sealed class Bm25Benchmark : IBenchmark
{
    public string Name => "bm25";
    public string Description => "BM25 index build, queries/s and homedepot dev metrics vs Xapian; tokenizer tokens/s";

    public IEnumerable<(string Name, double Value)> Run()
    {
        string dir = Environment.GetEnvironmentVariable("GENSEARCH_DATA") ?? Path.GetFullPath("../shared/data/homedepot");
        if (!Directory.Exists(dir)) throw new BenchmarkSkipped($"no data at {dir} (set GENSEARCH_DATA)");
        var set = BeirDataset.Open(dir);
        var docs = set.Corpus().ToArray();
        var queries = set.Queries().ToDictionary(q => q.Id, StringComparer.Ordinal);
        var qrels = set.Qrels("dev", queries.Keys.ToHashSet(StringComparer.Ordinal)).Qrels;
        var dev = qrels.QueryIds.Select(id => queries[id]).ToArray();
        var all = queries.Values.ToArray();

        // Index build: from documents in memory, and from the file (reading and parsing included).
        double build = Timing.MedianSeconds(() => Bm25.Build(docs), minSeconds: 3);
        yield return ("bm25_index_build_s", build);
        yield return ("bm25_read_and_index_s", Timing.MedianSeconds(() => Bm25.Build(set.Corpus()), minSeconds: 3));
        // The data set's k1 and b (homedepot's, tuned on its train split), as the CLI uses them.
        var index = Bm25.Build(docs).WithScoring(set.Manifest.Bm25K1 ?? new Bm25Options().K1, set.Manifest.Bm25B ?? new Bm25Options().B);

        // Throughput: every query of the file (train + dev), k = 100, batch over all cores, then one thread.
        double batch = Timing.MedianSeconds(() => index.Search(all, 100), minSeconds: 3);
        yield return ("bm25_queries_per_s", all.Length / batch);
        double single = Timing.MedianSeconds(() => { foreach (var q in all) index.Search(q.Text, 100); }, minSeconds: 3);
        yield return ("bm25_queries_per_s_1thread", all.Length / single);
        double oursQps1 = all.Length / single;
        yield return ("bm25_cores", Environment.ProcessorCount);

        var options = new EvaluationOptions { RelevanceThreshold = 3 };
        var ours = Evaluator.Evaluate(qrels, RetrieverRuns.Search(index, dev, 100), options);
        foreach (var m in new[] { "Recall@10", "Recall@100", "MRR@10", "NDCG@10" })
            yield return ($"bm25_dev_{Key(m)}", ours[m]);

        // The tokenizer: learned on titles, texts and the train split's queries; encoded on one thread.
        var trainIds = set.Qrels("train").Qrels.QueryIds.ToHashSet(StringComparer.Ordinal);
        var texts = docs.Select(d => d.Title).Concat(docs.Select(d => d.Text)).Concat(all.Where(q => trainIds.Contains(q.Id)).Select(q => q.Text)).ToArray();
        var sw = Stopwatch.StartNew();
        var tokenizer = WordPieceTrainer.Train(texts);
        yield return ("tokenizer_train_s", sw.Elapsed.TotalSeconds);
        long tokens = 0;
        var ids = new List<int>(256);
        foreach (var t in texts) { ids.Clear(); tokenizer.Encode(t, ids); tokens += ids.Count; }
        double encode = Timing.MedianSeconds(() => { foreach (var t in texts) { ids.Clear(); tokenizer.Encode(t, ids); } }, minSeconds: 3);
        yield return ("tokenizer_tokens_per_s", tokens / encode);
        var uncached = new WordPieceTokenizer(tokenizer.Vocabulary, cacheWords: false);
        double encodeUncached = Timing.MedianSeconds(() => { foreach (var t in texts) { ids.Clear(); uncached.Encode(t, ids); } }, minSeconds: 3);
        yield return ("tokenizer_tokens_per_s_no_word_cache", tokens / encodeUncached);
        yield return ("tokenizer_chars_per_token", texts.Sum(t => (long)t.Length) / (double)tokens);

        var xapian = Xapian(dir, qrels, options).ToList();
        foreach (var figure in xapian) yield return figure;
        var x = xapian.ToDictionary(f => f.Item1, f => f.Item2);
        if (x.Count > 0)
        {
            // Ratios above 1 mean GenSearch is faster (or scores higher).
            yield return ("bm25_index_build_speedup_vs_xapian", x["xapian_index_build_s"] / build);
            yield return ("bm25_queries_per_s_1thread_vs_xapian", oursQps1 / x["xapian_queries_per_s_1thread"]);
            yield return ("bm25_dev_ndcg10_vs_xapian", ours["NDCG@10"] / x["xapian_dev_ndcg10"]);
            yield return ("bm25_dev_recall10_vs_xapian", ours["Recall@10"] / x["xapian_dev_recall10"]);
        }
    }

    private static IEnumerable<(string, double)> Xapian(string dir, Qrels qrels, EvaluationOptions options)
    {
        const string python = "/usr/bin/python3";
        string script = Path.Combine(AppContext.BaseDirectory, "reference", "xapian_bm25.py");
        if (!File.Exists(script)) script = Path.GetFullPath("bench/reference/xapian_bm25.py");
        if (!File.Exists(python) || !File.Exists(script)) yield break;
        string runPath = Path.Combine(Path.GetTempPath(), $"gensearch-xapian-{Environment.ProcessId}.trec");
        var psi = new ProcessStartInfo(python, [script, dir, "dev", runPath]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(psi)!;
        string output = process.StandardOutput.ReadToEnd();
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) { Console.Error.WriteLine($"# xapian reference failed (is python3-xapian installed?): {error.Trim()}"); yield break; }
        var figures = output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(": ")).ToDictionary(p => p[0], p => double.Parse(p[1], CultureInfo.InvariantCulture));
        yield return ("xapian_index_build_s", figures["xapian_index_build_s"]);
        double xq = figures["xapian_queries"] / figures["xapian_search_s"];
        yield return ("xapian_queries_per_s_1thread", xq);
        var theirs = Evaluator.Evaluate(qrels, TrecRun.Read(runPath), options);
        File.Delete(runPath);
        foreach (var m in new[] { "Recall@10", "Recall@100", "MRR@10", "NDCG@10" })
            yield return ($"xapian_dev_{Key(m)}", theirs[m]);
    }

    private static string Key(string metric) => metric.Replace("@", "").ToLowerInvariant();
}
