using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using GenSearch.Data;
using GenSearch.Evaluation;
using GenSearch.Retrieval;
using GenSearch.Serving;

namespace GenSearch.Training;

/// <summary>BM25's k1 and b chosen for a data set, and where they came from (printed beside the scores, recorded in reports).</summary>
public sealed record Bm25Choice(float K1, float B, string Source);

/// <summary>
/// BM25's k1 and b for the data at hand, first match wins: the data set's own (<c>"bm25"</c> in
/// <c>dataset.json</c>, or the built-in table: homedepot 0.3 / 0.85), else tuned on its train split
/// when it has one (a grid of k1 x b scored by NDCG@10 on up to <see cref="TuningQueries"/> train
/// queries, never on dev; cached per corpus, queries and judgments), else Lucene's 1.2 / 0.75. Values
/// tuned on one data set are never applied to another unannounced.
/// </summary>
public static class Bm25Parameters
{
    /// <summary>The k1 values tried when tuning.</summary>
    public static readonly float[] K1Grid = [0.3f, 0.6f, 0.9f, 1.2f, 1.5f];
    /// <summary>The b values tried when tuning.</summary>
    public static readonly float[] BGrid = [0.5f, 0.75f, 0.85f, 1f];
    /// <summary>Most train queries tuning scores (a seeded sample of them when there are more).</summary>
    public const int TuningQueries = 2000;

    /// <summary>
    /// The choice for <paramref name="set"/> with the analyzer settings of <paramref name="analysis"/>;
    /// <paramref name="index"/>, when given, is an index of the corpus with those settings (reused for tuning).
    /// </summary>
    public static Bm25Choice Choose(BeirDataset set, Bm25Options analysis, Bm25? index = null, Action<string>? note = null)
    {
        if (set.Manifest.Bm25K1 is { } k1 && set.Manifest.Bm25B is { } b) return new Bm25Choice(k1, b, set.Manifest.Source);
        if (!File.Exists(set.QrelsPath("train")))
        {
            var lucene = new Bm25Options();
            return new Bm25Choice(lucene.K1, lucene.B, "Lucene's defaults (the data set has no train split to tune on)");
        }
        string key = CacheKey(set, analysis);
        string? cache = CachePath(key);
        if (cache is not null && File.Exists(cache) && Parse(File.ReadAllText(cache)) is { } cached)
            return cached with { Source = cached.Source + " (cached)" };
        note?.Invoke("tuning BM25's k1 and b on the train split (once per data set; cached)");
        var choice = Tune(set, analysis, index);
        if (cache is not null)
        {
            try
            {
                Directory.CreateDirectory(Path.GetDirectoryName(cache)!);
                AtomicFile.WriteAllText(cache, string.Create(CultureInfo.InvariantCulture, $"{choice.K1}\t{choice.B}\t{choice.Source}\n"));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { note?.Invoke($"note: could not cache the tuned BM25 parameters: {e.Message}"); }
        }
        return choice;
    }

    /// <summary>Tunes k1 and b on the train split: the grid point with the best NDCG@10, ties to the earlier (smaller) one.</summary>
    public static Bm25Choice Tune(BeirDataset set, Bm25Options analysis, Bm25? index = null)
    {
        index ??= Bm25.Build(set.Corpus(), analysis);
        var queries = set.Queries().ToDictionary(q => q.Id, StringComparer.Ordinal);
        var ids = set.Qrels("train", queries.Keys.ToHashSet(StringComparer.Ordinal)).Qrels.QueryIds.Order(StringComparer.Ordinal).ToArray();
        if (ids.Length > TuningQueries) { new Tensors.Rng(1).Shuffle(ids.AsSpan()); ids = ids[..TuningQueries]; }
        // Only the sampled queries are scored: the others would count as queries with no results.
        var qrels = set.Qrels("train", ids.ToHashSet(StringComparer.Ordinal)).Qrels;
        var batch = ids.Select(id => queries[id]).ToArray();
        var options = set.EvaluationOptions();
        (float K1, float B, double Ndcg) best = (0, 0, double.NegativeInfinity);
        foreach (float k1 in K1Grid)
            foreach (float b in BGrid)
            {
                var run = RetrieverRuns.Search(index.WithScoring(k1, b), batch, 10);
                double ndcg = Evaluator.Evaluate(qrels, run, options)["NDCG@10"];
                if (ndcg > best.Ndcg) best = (k1, b, ndcg);
            }
        return new Bm25Choice(best.K1, best.B, string.Create(CultureInfo.InvariantCulture,
            $"tuned on {batch.Length:N0} train queries (NDCG@10 {best.Ndcg:F4} over k1 {string.Join('/', K1Grid)} x b {string.Join('/', BGrid)})"));
    }

    private static string CacheKey(BeirDataset set, Bm25Options analysis)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var path in new[] { set.CorpusPath, set.QueriesPath, set.QrelsPath("train") })
        {
            using var stream = File.OpenRead(path);
            hash.AppendData(SHA256.HashData(stream));
        }
        hash.AppendData(Encoding.UTF8.GetBytes($"{analysis.Stem} {analysis.RemoveStopWords} {analysis.TitleRepeat} {string.Join(',', K1Grid)} {string.Join(',', BGrid)} {TuningQueries}"));
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static string? CachePath(string key)
    {
        string root = Environment.GetEnvironmentVariable("GENSEARCH_CACHE") is { Length: > 0 } env ? env
            : Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData) is { Length: > 0 } local ? Path.Combine(local, "gensearch")
            : "";
        return root.Length == 0 ? null : Path.Combine(root, "bm25", key + ".tsv");
    }

    private static Bm25Choice? Parse(string text)
    {
        var parts = text.TrimEnd('\n').Split('\t');
        return parts.Length == 3 && float.TryParse(parts[0], CultureInfo.InvariantCulture, out float k1) && float.TryParse(parts[1], CultureInfo.InvariantCulture, out float b)
               && k1 >= 0 && b is >= 0 and <= 1 ? new Bm25Choice(k1, b, parts[2]) : null;
    }
}
