using GenSearch.Models.Generative;
using GenSearch.Retrieval;
using GenSearch.Retrieval.Dense;
using GenSearch.Retrieval.Generative;
using GenSearch.Tensors;

namespace GenSearch.Bench;

/// <summary>
/// Cost of a change to a live catalog of homedepot's size (54,667 items): one upsert and a batch of
/// 1,000, for the semantic-ID trie (3 x 256 codes plus a collision token, the two-stage shape), for
/// BM25 (synthetic 8-word titles from a 20k-word vocabulary) and for exact dense search (128-d).
/// Each figure is the median CPU time of the calling thread (not wall time: the figures should not
/// depend on what else the machine runs) over repeated upserts that replace the same items, so the
/// catalog keeps its size; the BM25 and dense figures include the merges and compactions the
/// repeated replacements trigger.
/// </summary>
public sealed class CatalogBenchmark : IBenchmark
{
    public string Name => "catalog";

    public string Description => "live catalog: cost of one upsert and of a batch of 1,000 on 54,667 items (trie, BM25, flat dense)";

    public IEnumerable<(string Name, double Value)> Run()
    {
        const int items = 54_667, batch = 1_000, dim = 128;
        var rng = new Rng(5);
        var ids = Enumerable.Range(0, items).Select(i => $"d{i}").ToArray();

        // Trie: IDs drawn at random; the assigner draws new leading codes, so an upsert moves the item.
        var vocabulary = new SidVocabulary([256, 256, 256, 8]);
        var codes = Enumerable.Range(0, items).Select(_ => new[] { rng.NextInt(256), rng.NextInt(256), rng.NextInt(256), 0 }).ToList();
        var catalog = new GenerativeCatalog("generative", vocabulary, codes, ids,
            assignIds: docs => docs.Select(_ => new[] { rng.NextInt(256), rng.NextInt(256), rng.NextInt(256) }).ToArray());
        var one = new[] { new Document("d7", "", "") };
        var many = Enumerable.Range(0, batch).Select(i => new Document($"d{i * 50}", "", "")).ToArray();
        int gen2 = GC.CollectionCount(2);
        yield return ("trie_upsert_1_ms", CpuMs(() => catalog.Upsert(one)));
        yield return ("trie_upsert_1_gen2_collections", GC.CollectionCount(2) - gen2);
        yield return ("trie_upsert_1000_ms", CpuMs(() => catalog.Upsert(many)));
        yield return ("trie_build_ms", CpuMs(() => SidTrie.Build(codes)));

        // BM25.
        var words = Enumerable.Range(0, 20_000).Select(i => $"w{i}").ToArray();
        string Title() => string.Join(' ', Enumerable.Range(0, 8).Select(_ => words[rng.NextInt(words.Length)]));
        var docs = ids.Select(id => new Document(id, Title(), "")).ToArray();
        yield return ("bm25_build_ms", CpuMs(() => Bm25.Build(docs)));
        var bm25 = Bm25.Build(docs);
        yield return ("bm25_upsert_1_ms", CpuMs(() => bm25.Upsert([new Document("d7", Title(), "")])));
        // The same with the delta near its limit (935 documents here): the cost of one upsert grows with the delta.
        var fresh = Bm25.Build(docs);
        fresh.Upsert(Enumerable.Range(100, 900).Select(i => new Document($"d{i}", Title(), "")).ToArray());
        yield return ("bm25_delta_docs", fresh.DeltaCount);
        yield return ("bm25_upsert_1_full_delta_ms", CpuMs(() => fresh.Upsert([new Document("d7", Title(), "")])));
        yield return ("bm25_upsert_1000_ms", CpuMs(() => bm25.Upsert(many.Select(d => d with { Title = Title() }).ToArray())));

        // Flat dense index.
        var vectors = new float[items * dim];
        for (int i = 0; i < vectors.Length; i++) vectors[i] = rng.NextNormal();
        var flat = new FlatIndex(dim);
        flat.Add(vectors);
        var dense = new VectorRetriever("dense", flat, ids, q => new float[q.Count * dim],
            d => Enumerable.Range(0, d.Count * dim).Select(_ => rng.NextNormal()).ToArray());
        yield return ("flat_upsert_1_ms", CpuMs(() => dense.Upsert(one)));
        yield return ("flat_upsert_1000_ms", CpuMs(() => dense.Upsert(many)));
    }

    /// <summary>Median milliseconds of the calling thread's CPU per run (after one warm-up run), over at least a second and 5 runs.</summary>
    private static double CpuMs(Action action)
    {
        action();
        var times = new List<double>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (times.Count < 1000 && (times.Count < 5 || clock.Elapsed.TotalSeconds < 1))
        {
            double start = Timing.ThreadCpuSeconds();
            action();
            times.Add(1e3 * (Timing.ThreadCpuSeconds() - start));
        }
        times.Sort();
        return times[times.Count / 2];
    }
}
