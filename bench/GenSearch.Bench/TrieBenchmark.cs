using System.Diagnostics;
using GenSearch.Models.Generative;
using GenSearch.Quantization;
using GenSearch.Retrieval;
using GenSearch.Retrieval.Generative;

namespace GenSearch.Bench;

/// <summary>
/// The catalog at scale: 10M synthetic items of the two-stage shape (3 levels of 256 codes plus a
/// collision level of 256), level-1 codes Zipf-distributed (exponent 1: the top code holds 16% of the
/// items), levels 2 and 3 uniform, collision tokens numbered 0, 1, 2, ... within each group of
/// leading codes (about 25 items a group under the top level-1 code). Figures: the compact trie's bytes per item (and each array's share) beside
/// <see cref="SidTrie"/>'s, build times, the cost of one add and one remove at 10M (wall time, median),
/// of a fold, semantic-ID assignment for new 256-d item vectors (RQ-KMeans encoding on both cores plus
/// collision tokens), and beam-50 constrained search over the compact index against
/// <see cref="SidTrie"/> at homedepot's size with a synthetic scorer, so the constraint's own cost is
/// what is timed. <c>GENSEARCH_TRIE_ITEMS</c> sets a smaller catalog for a quick run.
/// </summary>
public sealed class TrieBenchmark : IBenchmark
{
    public string Name => "trie";

    public string Description => "catalog at scale: trie bytes/item, add/remove/fold at 10M items, semantic-ID assignment rate, beam-50 constraint cost vs SidTrie";

    private static readonly SidVocabulary Vocabulary = new([256, 256, 256, 256]);

    public IEnumerable<(string Name, double Value)> Run()
    {
        int items = int.TryParse(Environment.GetEnvironmentVariable("GENSEARCH_TRIE_ITEMS"), out int n) ? n : 10_000_000;
        foreach (var figure in SearchAgainstSidTrie()) yield return figure;

        // The catalog of `items` synthetic IDs.
        var clock = Stopwatch.StartNew();
        var flat = SyntheticIds(items, seed: 17);
        var names = new string[items];
        for (int i = 0; i < items; i++) names[i] = $"d{i}";
        Console.Error.WriteLine($"# trie: {items:N0} synthetic IDs in {clock.Elapsed.TotalSeconds:F1} s");
        var assignRng = new Random(23);
        clock.Restart();
        var catalog = new GenerativeCatalog("generative", Vocabulary, new Rows(flat, 4), names,
            assignIds: docs => docs.Select(_ => new[] { assignRng.Next(256), assignRng.Next(256), assignRng.Next(256) }).ToArray());
        yield return ("trie_items", items);
        yield return ("catalog_build_s", clock.Elapsed.TotalSeconds);

        var compact = catalog.Current.Trie.Base;
        var codes = Pack(flat, items);
        clock.Restart();
        CompactSidTrie.Build(Vocabulary, codes); // the trie alone, without the catalog's ids and checks
        yield return ("trie_build_s", clock.Elapsed.TotalSeconds);
        yield return ("trie_bytes_per_item", (double)catalog.Current.Trie.Bytes / items);
        yield return ("trie_base_bytes_per_item", (double)compact.Bytes / items);
        foreach (var (part, bytes) in compact.BytesByPart)
            yield return ($"trie_bytes_per_item_{part.Replace('[', '_').Replace("]", "").Replace(' ', '_').Replace('-', '_')}", (double)bytes / items);
        for (int d = 1; d <= 3; d++) yield return ($"trie_depth{d}_nodes_per_item", (double)compact.NodesAt(d) / items);
        yield return ("catalog_codes_bytes_per_item", (double)codes.Bytes / items);
        codes = null!;

        // The general trie on the same IDs, for comparison (sorted by the same counting sort; its own sort is slower).
        {
            var tokens = new int[items][];
            for (int i = 0; i < items; i++) tokens[i] = Vocabulary.Tokens(flat.AsSpan(4 * i, 4));
            clock.Restart();
            var order = CompactSidTrie.SortedOrder(Pack(flat, items));
            var old = SidTrie.BuildSorted(tokens, order);
            yield return ("sidtrie_build_from_sorted_s", clock.Elapsed.TotalSeconds);
            yield return ("sidtrie_bytes_per_item", (double)old.Bytes / items);
        }
        GC.Collect();

        // One change at a time: a new item, then a removal of a random base item. CPU time of the calling
        // thread (a shared machine's wall time is mostly waiting for a core), wall time beside it.
        var rng = new Random(5);
        int next = 0;
        var (add, addWall, remove, removeWall) = (new List<double>(), new List<double>(), new List<double>(), new List<double>());
        for (int i = 0; i < 201; i++)
        {
            var doc = new Document($"new{next++}", "", "");
            Measure(() => catalog.Upsert([doc]), add, addWall);
            string gone = $"d{rng.Next(items)}";
            Measure(() => catalog.Remove([gone]), remove, removeWall);
        }
        yield return ("trie_add_ms", Median(add));
        yield return ("trie_add_wall_ms", Median(addWall));
        yield return ("trie_remove_ms", Median(remove));
        yield return ("trie_remove_wall_ms", Median(removeWall));
        yield return ("trie_fold_limit", catalog.FoldLimit);

        // The same with the delta near the fold limit (a change rebuilds the delta, so its cost grows with it).
        int limit = catalog.FoldLimit;
        var filler = new List<Document>();
        while (catalog.Current.DeltaSize + filler.Count < limit - 50) filler.Add(new Document($"new{next++}", "", ""));
        catalog.Upsert(filler);
        add.Clear();
        for (int i = 0; i < 21; i++)
        {
            var doc = new Document($"new{next++}", "", "");
            Measure(() => catalog.Upsert([doc]), add, addWall);
        }
        yield return ("trie_delta_items", catalog.Current.DeltaSize);
        yield return ("trie_add_full_delta_ms", Median(add));
        yield return ("trie_bytes_per_item_full_delta", (double)catalog.Current.Trie.Bytes / catalog.Current.Count);
        // The change that passes the limit folds the delta into a new base.
        {
            var docs = Enumerable.Range(0, limit - catalog.Current.DeltaSize + 1).Select(_ => new Document($"new{next++}", "", "")).ToArray();
            var (cpu, wall) = (new List<double>(), new List<double>());
            Measure(() => catalog.Upsert(docs), cpu, wall);
            double ms = cpu[0];
            yield return ("trie_fold_wall_ms", wall[0]);
            if (catalog.Current.DeltaSize != 0) throw new InvalidOperationException("the change past the limit did not fold");
            yield return ("trie_fold_ms", ms);
            yield return ("trie_fold_ms_per_change", ms / limit);
        }
        flat = null!;
        names = null!;
        GC.Collect();

        foreach (var figure in Assignment(catalog)) yield return figure;
    }

    /// <summary>
    /// Semantic IDs for 1M new items: RQ-KMeans (3 x 256, trained on 100k of them) encodes 256-d
    /// vectors on <c>KernelThreads.Count</c> threads, then the catalog gives each its collision token.
    /// </summary>
    private static IEnumerable<(string, double)> Assignment(GenerativeCatalog catalog)
    {
        const int count = 1_000_000, dim = 256, train = 100_000, batch = 10_000;
        var vectors = QuantBenchmark.SyntheticVectors(count, dim, seed: 31);
        var rq = new ResidualKMeans(dim, new ResidualKMeansOptions { Levels = 3, Codes = 256 });
        var clock = Stopwatch.StartNew();
        rq.Train(vectors[..(train * dim)], train);
        Console.Error.WriteLine($"# trie: RQ-KMeans 3x256 trained on {train:N0} x {dim} in {clock.Elapsed.TotalSeconds:F1} s");
        var codes = new int[count * 3];
        rq.Encode(vectors[..(batch * dim)], batch, codes); // warm-up
        var process = Process.GetCurrentProcess();
        var cpuStart = process.TotalProcessorTime;
        clock.Restart();
        rq.Encode(vectors, count, codes);
        double encode = clock.Elapsed.TotalSeconds;
        process.Refresh();
        double encodeCpu = (process.TotalProcessorTime - cpuStart).TotalSeconds;
        yield return ("sid_encode_items_per_s", count / encode);
        yield return ("sid_encode_items_per_cpu_s", count / encodeCpu);
        yield return ("sid_encode_threads", GenSearch.Tensors.Kernels.KernelThreads.Count);
        vectors = null!;

        var docs = Enumerable.Range(0, count).Select(i => new Document($"v{i}", "", "")).ToArray();
        var leading = Enumerable.Range(0, count).Select(i => codes.AsSpan(3 * i, 3).ToArray()).ToArray();
        catalog.CompleteIds(docs[..batch], leading[..batch]); // warm-up
        double threadStart = Timing.ThreadCpuSeconds();
        clock.Restart();
        for (int start = 0; start < count; start += batch)
        {
            var full = catalog.CompleteIds(docs[start..(start + batch)], leading[start..(start + batch)]);
            if (full.Length != batch) throw new InvalidOperationException("collision tokens for a batch went missing");
        }
        double collision = clock.Elapsed.TotalSeconds, collisionCpu = Timing.ThreadCpuSeconds() - threadStart;
        yield return ("sid_collision_items_per_s", count / collision);
        yield return ("sid_collision_items_per_cpu_s", count / collisionCpu);
        // Encoding on every kernel thread, then collision tokens on one (they are read under the catalog's write lock).
        yield return ("sid_assign_items_per_s", count / (encode + collision));
        yield return ("sid_assign_items_per_s_from_cpu", count / (encodeCpu / GenSearch.Tensors.Kernels.KernelThreads.Count + collisionCpu));
    }

    /// <summary>
    /// Beam 50 over homedepot's size (54,667 items, 3 x 256 codes plus collision tokens) with a
    /// synthetic scorer (log-probabilities read from a fixed random table), one query at a time:
    /// <see cref="SidTrie"/> against the catalog's live index, freshly built and with 1,000 changes
    /// in its delta; the queries alternate between them and must find the same IDs.
    /// </summary>
    private static IEnumerable<(string, double)> SearchAgainstSidTrie()
    {
        const int items = 54_667, queries = 300, warmUp = 40;
        var flat = SyntheticIds(items, seed: 3);
        var tokens = Enumerable.Range(0, items).Select(i => Vocabulary.Tokens(flat.AsSpan(4 * i, 4))).ToList();
        var sidTrie = SidTrie.Build(tokens);
        var rng = new Random(7);
        var catalog = new GenerativeCatalog("generative", Vocabulary, new Rows(flat, 4), Enumerable.Range(0, items).Select(i => $"d{i}").ToArray(),
            assignIds: docs => docs.Select(_ => new[] { rng.Next(256), rng.Next(256), rng.Next(256) }).ToArray());
        var fresh = catalog.Current.Trie;
        for (int i = 0; i < 500; i++)
        {
            catalog.Upsert([new Document($"new{i}", "", "")]);
            catalog.Remove([$"d{rng.Next(items)}"]);
        }
        var changed = catalog.Current.Trie;
        var changedTrie = SidTrie.Build(Enumerable.Range(0, catalog.Current.Count).Select(i => Vocabulary.Tokens(catalog.Current.Codes(i))).ToList());
        var options = new BeamSearchOptions { BeamSize = 50, MaxLength = 4, StartToken = SidVocabulary.Start };
        var table = new float[4096 * Vocabulary.Size];
        for (int i = 0; i < table.Length; i++) table[i] = (float)Math.Log(rng.NextDouble() + 1e-9);

        double Time(IPrefixConstraint constraint, int seed, out List<Hypothesis> found)
        {
            var scorer = new TableScorer(table, Vocabulary.Size, seed);
            double t0 = Timing.ThreadCpuSeconds();
            found = ConstrainedBeamSearch.Search(scorer, 1, constraint, options)[0];
            return 1e3 * (Timing.ThreadCpuSeconds() - t0); // CPU time of the thread: the machine is shared
        }
        var (tSid, tFresh, tSidChanged, tChanged) = (new List<double>(), new List<double>(), new List<double>(), new List<double>());
        for (int q = 0; q < warmUp + queries; q++)
        {
            double a = Time(sidTrie, q, out var h1), b = Time(fresh, q, out var h2);
            double c = Time(changedTrie, q, out var h3), d = Time(changed, q, out var h4);
            if (!Same(h1, h2) || !Same(h3, h4)) throw new InvalidOperationException($"query {q}: the compact index found other IDs than SidTrie");
            if (q < warmUp) continue;
            tSid.Add(a); tFresh.Add(b); tSidChanged.Add(c); tChanged.Add(d);
        }
        yield return ("beam50_sidtrie_p50_ms", Median(tSid));
        yield return ("beam50_compact_p50_ms", Median(tFresh));
        yield return ("beam50_compact_over_sidtrie", Median(tFresh) / Median(tSid));
        yield return ("beam50_sidtrie_changed_p50_ms", Median(tSidChanged));
        yield return ("beam50_compact_1000_changes_p50_ms", Median(tChanged));
        yield return ("beam50_compact_1000_changes_over_sidtrie", Median(tChanged) / Median(tSidChanged));
        yield return ("trie_bytes_per_item_55k", (double)fresh.Bytes / items);
        yield return ("sidtrie_bytes_per_item_55k", (double)sidTrie.Bytes / items);
    }

    private static bool Same(List<Hypothesis> a, List<Hypothesis> b)
        => a.Count == b.Count && a.Zip(b).All(p => p.First.Score == p.Second.Score && p.First.Tokens.SequenceEqual(p.Second.Tokens));

    /// <summary>Log-probabilities from a fixed table, rows at a position drawn per call from the query's seed.</summary>
    private sealed class TableScorer(float[] table, int vocabulary, int seed) : IStepScorer
    {
        private readonly Random _rng = new(seed);
        public int Vocabulary => vocabulary;
        public ReadOnlySpan<float> NextLogProbabilities(int[] lastTokens)
        {
            int rows = table.Length / vocabulary;
            return table.AsSpan(_rng.Next(rows - lastTokens.Length + 1) * vocabulary, lastTokens.Length * vocabulary);
        }
        public void Feed(int[] lastTokens) { }
        public void SelectRows(int[] rows) { }
    }

    private static readonly double[] Level1 = ZipfTable(256, 1.0);

    private static double[] ZipfTable(int k, double exponent)
    {
        var cumulative = new double[k];
        double acc = 0;
        for (int i = 0; i < k; i++) cumulative[i] = acc += 1 / Math.Pow(i + 1, exponent);
        for (int i = 0; i < k; i++) cumulative[i] /= acc;
        return cumulative;
    }

    private static int Zipf(Random rng, double[] cumulative)
    {
        int at = Array.BinarySearch(cumulative, rng.NextDouble());
        return Math.Min(at < 0 ? ~at : at, cumulative.Length - 1);
    }

    /// <summary>IDs [count x 4], collision tokens numbered within each group of leading codes (a full group draws again).</summary>
    private static int[] SyntheticIds(int count, int seed)
    {
        var rng = new Random(seed);
        var ids = new int[4 * count];
        var used = new byte[1 << 24];
        var full = new bool[1 << 24];
        for (int i = 0; i < count; i++)
        {
            int a, b, c, group;
            do
            {
                a = Zipf(rng, Level1); b = rng.Next(256); c = rng.Next(256);
                group = (a << 16) | (b << 8) | c;
            } while (full[group]);
            ids[4 * i] = a; ids[4 * i + 1] = b; ids[4 * i + 2] = c; ids[4 * i + 3] = used[group];
            if (used[group] == 255) full[group] = true; else used[group]++;
        }
        return ids;
    }

    private static LevelCodes Pack(int[] flat, int count)
    {
        var codes = new LevelCodes(count, Vocabulary.LevelSizes);
        for (int i = 0; i < count; i++) codes.Set(i, flat.AsSpan(4 * i, 4));
        return codes;
    }

    /// <summary>Rows of a flat [count x width] array as arrays made on demand (the catalog reads each once).</summary>
    private sealed class Rows(int[] flat, int width) : IReadOnlyList<int[]>
    {
        public int[] this[int index] => flat.AsSpan(index * width, width).ToArray();
        public int Count => flat.Length / width;
        public IEnumerator<int[]> GetEnumerator() { for (int i = 0; i < Count; i++) yield return this[i]; }
        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    /// <summary>Runs <paramref name="action"/> once; adds its calling-thread CPU milliseconds and wall milliseconds.</summary>
    private static void Measure(Action action, List<double> cpu, List<double> wall)
    {
        double c0 = Timing.ThreadCpuSeconds();
        long t0 = Stopwatch.GetTimestamp();
        action();
        wall.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
        cpu.Add(1e3 * (Timing.ThreadCpuSeconds() - c0));
    }

    private static double Median(List<double> xs) => Percentile(xs, 0.5);

    private static double Percentile(List<double> xs, double p)
    {
        var sorted = xs.Order().ToList();
        return sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];
    }
}
