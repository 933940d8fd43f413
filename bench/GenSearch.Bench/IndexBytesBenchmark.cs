using GenSearch.Data;
using GenSearch.Retrieval;
using GenSearch.Retrieval.Dense;
using GenSearch.Tensors;

namespace GenSearch.Bench;

/// <summary>
/// Memory per item of the indexes a served catalog holds, for sizing (README, "Sizing a 1B-item
/// catalog"): the managed heap an index keeps alive after a full collection, over homedepot's 54,667
/// items (BM25 over their titles and texts) and 54,667 random 256-d vectors (the unified model's
/// latent width) in the exact index and in HNSW (M 16). The document texts themselves are not counted.
/// </summary>
public sealed class IndexBytesBenchmark : IBenchmark
{
    public string Name => "index-bytes";

    public string Description => "heap bytes per item of BM25 (homedepot) and of flat and HNSW dense indexes (256-d)";

    public IEnumerable<(string Name, double Value)> Run()
    {
        string dir = Environment.GetEnvironmentVariable("GENSEARCH_DATA") ?? Path.GetFullPath("../shared/data/homedepot");
        if (!Directory.Exists(dir)) throw new BenchmarkSkipped($"no data at {dir} (set GENSEARCH_DATA)");
        var docs = BeirDataset.Open(dir).Corpus().ToArray();
        yield return ("items", docs.Length);
        yield return ("bm25_bytes_per_item", Retained(() => Bm25.Build(docs)) / docs.Length);

        const int dim = 256;
        var rng = new Rng(3);
        var vectors = new float[docs.Length * dim];
        for (int i = 0; i < vectors.Length; i++) vectors[i] = rng.NextNormal();
        yield return ("flat_bytes_per_item", Retained(() => { var f = new FlatIndex(dim); f.Add(vectors); return f; }) / docs.Length);
        yield return ("hnsw_bytes_per_item", Retained(() => { var h = new HnswIndex(dim); h.Add(vectors); return h; }) / docs.Length);
    }

    /// <summary>Heap bytes the object <paramref name="build"/> returns keeps alive (after full, compacting collections).</summary>
    private static double Retained(Func<object> build)
    {
        long before = GC.GetTotalMemory(forceFullCollection: true);
        var kept = build();
        long after = GC.GetTotalMemory(forceFullCollection: true);
        GC.KeepAlive(kept);
        return after - before;
    }
}
