using System.Diagnostics;
using GenSearch.Retrieval.Dense;

namespace GenSearch.Retrieval.Tests;

/// <summary>Upserts and removals on BM25, vector retrievers and fusion; searches running during them.</summary>
public class LiveCatalogTests
{
    private static readonly string[] Words =
        ["shower", "faucet", "chrome", "kitchen", "head", "rain", "deck", "paint", "vanity", "drill", "hose", "garden", "brass", "white", "oak"];

    private static Document RandomDoc(Random rng, string id)
    {
        string Pick(int n) => string.Join(' ', Enumerable.Range(0, n).Select(_ => Words[rng.Next(Words.Length)]));
        return new Document(id, Pick(1 + rng.Next(4)), rng.Next(3) == 0 ? Pick(rng.Next(8)) : "");
    }

    private static readonly string[] TestQueries = ["shower", "chrome shower head", "faucet faucet", "oak vanity white", "garden hose brass", "drill"];

    /// <summary>Every query's scores from <paramref name="live"/> equal those of an index built from scratch on <paramref name="catalog"/>.</summary>
    private static void AssertScoresAsFromScratch(Bm25 live, IReadOnlyDictionary<string, Document> catalog, Bm25Options options)
    {
        var scratch = Bm25.Build(catalog.Values, options);
        Assert.Equal(scratch.Count, live.Count);
        Assert.Equal(scratch.AverageDocLength, live.AverageDocLength, 9);
        Assert.Equal(scratch.TermCount, live.TermCount);
        foreach (var q in TestQueries)
        {
            var expected = scratch.Search(q, 1000).ToDictionary(h => h.Id, h => h.Score);
            var actual = live.Search(q, 1000);
            Assert.Equal(expected.Count, actual.Count);
            foreach (var hit in actual)
            {
                Assert.True(expected.TryGetValue(hit.Id, out float score), $"'{q}': {hit.Id} is not a hit of the from-scratch index");
                AssertClose(score, hit.Score);
            }
            for (int d = 0; d < live.Count; d++)
                if (live.ReferenceScore(q, d) is var r && r > 0)
                    AssertClose(r, expected[live.DocIds[d]]);
        }
    }

    /// <summary>Equal within float rounding: a relative 1e-5.</summary>
    internal static void AssertClose(double expected, double actual) =>
        Assert.True(Math.Abs(expected - actual) <= 1e-5 * Math.Max(1, Math.Abs(expected)), $"expected {expected}, got {actual}");

    [Theory]
    [InlineData(0)]  // automatic delta limit: everything stays in the delta
    [InlineData(5)]  // merges every few changes
    public void Bm25_after_upserts_and_removals_scores_as_an_index_built_from_scratch(int deltaLimit)
    {
        var options = new Bm25Options { DeltaLimit = deltaLimit };
        var rng = new Random(11);
        var catalog = new Dictionary<string, Document>(StringComparer.Ordinal);
        for (int i = 0; i < 60; i++) catalog[$"d{i}"] = RandomDoc(rng, $"d{i}");
        var live = Bm25.Build(catalog.Values, options);
        bool sawTombstonesAndDelta = false;
        for (int step = 0; step < 30; step++)
        {
            if (step % 3 == 2)
            {
                var ids = catalog.Keys.OrderBy(_ => rng.Next()).Take(1 + rng.Next(4)).Append($"missing{step}").ToArray();
                var change = live.Remove(ids);
                Assert.Equal(new CatalogChange(0, 0, ids.Length - 1, 1), change);
                foreach (var id in ids) catalog.Remove(id);
            }
            else
            {
                // New ids, and replacements of base and delta documents.
                var docs = Enumerable.Range(0, 1 + rng.Next(5)).Select(_ => RandomDoc(rng, $"d{rng.Next(90)}"))
                    .GroupBy(d => d.Id).Select(g => g.Last()).ToArray();
                int replaced = docs.Count(d => catalog.ContainsKey(d.Id));
                Assert.Equal(new CatalogChange(docs.Length - replaced, replaced, 0, 0), live.Upsert(docs));
                foreach (var d in docs) catalog[d.Id] = d;
            }
            AssertScoresAsFromScratch(live, catalog, options);
            sawTombstonesAndDelta |= live.DeletedCount > 0 && live.DeltaCount > 0;
            if (deltaLimit > 0) Assert.True(live.DeltaCount <= deltaLimit);
        }
        Assert.True(sawTombstonesAndDelta); // the unmerged path was tested, not only fresh merges
    }

    [Fact]
    public void Bm25_finds_an_added_item_never_returns_a_removed_one_and_counts_unknown_ids()
    {
        var bm25 = Bm25.Build([new Document("a", "shower faucet", ""), new Document("b", "kitchen faucet", "")]);
        Assert.Equal(new CatalogChange(1, 0, 0, 0), bm25.Upsert([new Document("c", "zebra faucet", "")]));
        Assert.Equal("c", bm25.Search("zebra", 10).Single().Id);
        Assert.True(bm25.Contains("c"));

        Assert.Equal(new CatalogChange(0, 1, 0, 0), bm25.Upsert([new Document("a", "garden hose", "")]));
        Assert.DoesNotContain(bm25.Search("shower faucet", 10), h => h.Id == "a");
        Assert.Equal("a", bm25.Search("hose", 10).Single().Id);

        Assert.Equal(new CatalogChange(0, 0, 2, 2), bm25.Remove(["b", "c", "nope", "c2"]));
        Assert.Empty(bm25.Search("faucet zebra kitchen", 10));
        Assert.False(bm25.Contains("b"));
        Assert.Null(bm25.Explain("faucet", "b"));
        Assert.Equal(1, bm25.Count);
        Assert.Equal(new CatalogChange(0, 0, 0, 1), bm25.Remove(["b"])); // a second removal: unknown now
    }

    private const int Dim = 8;

    /// <summary>A toy item encoder: words hash to dimensions; unit length.</summary>
    private static float[] Encode(IEnumerable<string> texts)
    {
        var rows = new List<float>();
        foreach (var text in texts)
        {
            var v = new float[Dim];
            foreach (var w in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                v[w == "zebra" ? 0 : 1 + (int)((uint)StringComparer.Ordinal.GetHashCode(w) % (Dim - 1))] += 1;
            float norm = MathF.Sqrt(v.Sum(x => x * x));
            rows.AddRange(norm == 0 ? v : v.Select(x => x / norm));
        }
        return [.. rows];
    }

    private static VectorRetriever DenseOver(IVectorIndex index, IReadOnlyList<Document> docs, bool withEncoder = true)
    {
        index.Add(Encode(docs.Select(d => d.Title)));
        return new VectorRetriever("dense", index, docs.Select(d => d.Id).ToList(), q => Encode(q.Select(x => x.Text)),
            withEncoder ? d => Encode(d.Select(x => x.Title)) : null);
    }

    private static Query[] Q(string text) => [new Query("q", text)];

    [Fact]
    public void Vector_retriever_upserts_replaces_removes_and_compacts()
    {
        var rng = new Random(3);
        var docs = Enumerable.Range(0, 40).Select(i => RandomDoc(rng, $"d{i}")).ToList();
        var dense = DenseOver(new FlatIndex(Dim, VectorMetric.Cosine), docs);
        Assert.Equal(new CatalogChange(1, 0, 0, 0), dense.Upsert([new Document("z", "zebra", "")]));
        Assert.Equal("z", dense.Search(Q("zebra"), 1)[0][0].Id);
        Assert.Equal(1f, dense.Search(Q("zebra"), 1)[0][0].Score, 5);

        // Replacing moves the item: its old row is never returned again, and the id appears once.
        Assert.Equal(new CatalogChange(0, 1, 0, 0), dense.Upsert([new Document("z", "shower head", "")]));
        var all = dense.Search(Q("zebra"), 100)[0];
        Assert.Equal(41, all.Count);
        Assert.Single(all, h => h.Id == "z");
        Assert.NotEqual(1f, all.Single(h => h.Id == "z").Score);

        Assert.Equal(new CatalogChange(0, 0, 2, 1), dense.Remove(["z", "d3", "unknown"]));
        Assert.Equal(39, dense.Count);
        all = dense.Search(Q("shower"), 100)[0];
        Assert.Equal(39, all.Count);
        Assert.DoesNotContain(all, h => h.Id is "z" or "d3");

        // Past a quarter removed, the index is rebuilt without tombstones, ids still right.
        var before = dense.Index;
        dense.Remove(Enumerable.Range(10, 12).Select(i => $"d{i}").ToArray());
        Assert.NotSame(before, dense.Index);
        Assert.Equal(0, dense.Index.RemovedCount);
        Assert.Equal(27, dense.Index.Count);
        var hits = dense.Search(Q("garden hose"), 100)[0];
        Assert.Equal(27, hits.Count);
        var survivors = docs.Where(d => d.Id is not "d3" && !Enumerable.Range(10, 12).Any(i => d.Id == $"d{i}")).ToList();
        var expected = Encode(["garden hose"]);
        foreach (var h in hits)
        {
            var v = Encode([survivors.Single(d => d.Id == h.Id).Title]);
            float dot = 0;
            for (int j = 0; j < Dim; j++) dot += v[j] * expected[j];
            AssertClose(dot, h.Score); // row-to-id mapping survived the compaction
        }
    }

    [Fact]
    public void Upsert_without_an_encoder_names_the_retriever()
    {
        var dense = DenseOver(new FlatIndex(Dim), [new Document("a", "oak", "")], withEncoder: false);
        var error = Assert.Throws<NotSupportedException>(() => dense.Upsert([new Document("b", "oak", "")]));
        Assert.Contains("dense", error.Message);
        Assert.Equal(new CatalogChange(0, 0, 0, 1), dense.Remove(["b"])); // removal needs no encoder
        Assert.Equal(new CatalogChange(0, 0, 1, 0), dense.Remove(["a"]));
        Assert.Empty(dense.Search(Q("oak"), 5)[0]);
    }

    [Fact]
    public void Fusion_forwards_changes_to_its_updatable_parts()
    {
        var bm25 = Bm25.Build([new Document("a", "oak", "")]);
        var dense = DenseOver(new FlatIndex(Dim), [new Document("a", "oak", "")]);
        var fused = new FusionRetriever([bm25, dense, new Fixed()]);
        Assert.Equal(new CatalogChange(2, 0, 0, 0), fused.Upsert([new Document("z", "zebra", "")]));
        Assert.Equal("z", fused.Search(Q("zebra"), 1)[0][0].Id);
        Assert.Equal(new CatalogChange(0, 0, 2, 2), fused.Remove(["z", "nope"]));
        Assert.DoesNotContain(fused.Search(Q("zebra"), 5)[0], h => h.Id == "z");
    }

    private sealed class Fixed : IRetriever
    {
        public string Name => "fixed";
        public int Count => 0;
        public IReadOnlyList<SearchHit>[] Search(IReadOnlyList<Query> queries, int k) => queries.Select(_ => (IReadOnlyList<SearchHit>)[]).ToArray();
    }

    /// <summary>
    /// Readers search while one writer adds pairs of "zebra" items in one call, replaces both items
    /// of a pair in one call (their old rows or postings must vanish in the same snapshot as the new
    /// ones appear) and removes pairs in one call. Every snapshot therefore holds whole pairs, each id
    /// once: a result with half a pair, or an id twice, saw half a change. Whatever the index, a
    /// search that starts after a removal (or a replacement) has returned must not return the removed
    /// item (or, for vectors, the replaced row: "zebra" scores 1, its replacement "zebra oak" 0.71).
    /// </summary>
    /// <remarks>
    /// With <paramref name="exact"/> false (HNSW: a search may miss a neighbour), whole pairs are not
    /// required, and after the writer stops the final search (breadth raised to the whole index) must
    /// return no removed item, no id twice, and the live items it finds; it need not find them all
    /// (pair items share one vector with hundreds of tombstoned ones: HNSW can leave such duplicates
    /// unreachable). The readers run on their own threads (a busy thread pool cannot starve them),
    /// and the writer goes on, at most <see cref="ExerciseLimit"/>, until they have done
    /// <see cref="MinSearches"/> searches and seen a pair, so a loaded machine slows the test down
    /// instead of failing it.
    /// </remarks>
    private static void SearchesNeverSeeHalfAChange(IUpdatableRetriever retriever, bool exact = true)
    {
        var stop = new CancellationTokenSource();
        var failures = new List<string>();
        long searches = 0, pairsSeen = 0, done = 0; // done: writes completed, bumped after each returns
        var removedAt = new System.Collections.Concurrent.ConcurrentDictionary<int, long>();  // pair -> done after its removal
        var replacedAt = new System.Collections.Concurrent.ConcurrentDictionary<int, long>(); // pair -> done after its replacement
        bool vectors = retriever is VectorRetriever;
        static int PairOf(string id) => int.Parse(id.AsSpan(1, id.Length - 2));
        var readers = Enumerable.Range(0, 3).Select(_ =>
        {
            var thread = new Thread(() =>
            {
                try { Read(); }
                catch (Exception e) { lock (failures) failures.Add(e.ToString()); } // a thread's exception would end the test process
            }) { IsBackground = true };
            thread.Start();
            return thread;
        }).ToArray();

        void Read()
        {
            while (!stop.IsCancellationRequested)
            {
                long began = Interlocked.Read(ref done); // every write counted here is in the snapshot searched
                var hits = retriever.Search(Q("zebra"), 1000)[0];
                Interlocked.Increment(ref searches);
                var ids = hits.Select(h => h.Id).ToList();
                string? error = null;
                if (ids.Distinct().Count() != ids.Count) error = "an id twice: " + string.Join(",", ids.GroupBy(x => x).Where(g => g.Count() > 1).Select(g => g.Key));
                var pairs = ids.Where(id => id.StartsWith("p", StringComparison.Ordinal)).ToHashSet();
                foreach (var id in exact ? pairs : new HashSet<string>())
                {
                    string other = id.EndsWith('a') ? id[..^1] + "b" : id[..^1] + "a";
                    if (!pairs.Contains(other)) error = $"{id} without {other}";
                }
                foreach (var hit in hits.Where(h => h.Id.StartsWith("p", StringComparison.Ordinal)))
                {
                    int pair = PairOf(hit.Id);
                    if (removedAt.TryGetValue(pair, out long at) && at <= began) error = $"{hit.Id} returned after its removal";
                    else if (vectors && hit.Score > 0.9f && replacedAt.TryGetValue(pair, out at) && at <= began)
                        error = $"{hit.Id}'s replaced row (score {hit.Score}) returned after the replacement";
                }
                Interlocked.Add(ref pairsSeen, pairs.Count / 2);
                if (error is not null) lock (failures) failures.Add(error);
            }
        }

        var clock = Stopwatch.StartNew();
        int next = 0, writes = 0;
        var live = new Queue<int>();
        try
        {
            while (clock.Elapsed < TimeSpan.FromSeconds(1.5) || writes < 200
                   || (Interlocked.Read(ref searches) < MinSearches || Interlocked.Read(ref pairsSeen) == 0) && clock.Elapsed < ExerciseLimit)
            {
                int i = next++;
                retriever.Upsert([new Document($"p{i}a", "zebra", ""), new Document($"p{i}b", "zebra", "")]);
                live.Enqueue(i);
                Interlocked.Increment(ref done);
                if (i % 3 == 0)
                {
                    int j = live.Peek();
                    retriever.Upsert([new Document($"p{j}a", "zebra oak", ""), new Document($"p{j}b", "zebra oak", "")]);
                    replacedAt[j] = Interlocked.Increment(ref done);
                }
                if (live.Count > 4)
                {
                    int j = live.Dequeue();
                    Assert.Equal(2, retriever.Remove([$"p{j}a", $"p{j}b"]).Removed);
                    removedAt[j] = Interlocked.Increment(ref done);
                }
                writes++;
            }
        }
        finally
        {
            stop.Cancel();
            foreach (var reader in readers) reader.Join();
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of {searches} searches saw half a change, e.g. {failures.FirstOrDefault()}");
        Assert.True(searches >= MinSearches && pairsSeen > 0,
            $"{searches} searches, {pairsSeen} pairs seen during {writes} writes in {clock.Elapsed.TotalSeconds:F1} s: the test did not exercise anything");
        // After the writer stops: exactly the last pairs, each once (HNSW: searching the whole graph, only live ones).
        if (retriever is VectorRetriever { Index: HnswIndex hnsw }) hnsw.EfSearch = Math.Max(hnsw.EfSearch, hnsw.Count);
        var found = retriever.Search(Q("zebra"), 1000)[0].Select(h => h.Id).Where(id => id[0] == 'p').ToArray();
        Assert.Equal(found.Length, found.Distinct().Count());
        var expected = live.SelectMany(i => new[] { $"p{i}a", $"p{i}b" }).Order().ToArray();
        if (exact) Assert.Equal(expected, found.Order().ToArray());
        else Assert.Subset(expected.ToHashSet(), found.ToHashSet()); // found within expected: no removed item
    }

    /// <summary>Searches the readers must have done before the writer may stop.</summary>
    private const int MinSearches = 50;

    /// <summary>How long the writer goes on waiting for the readers to reach <see cref="MinSearches"/>.</summary>
    private static readonly TimeSpan ExerciseLimit = TimeSpan.FromSeconds(20);

    [Fact]
    public void Bm25_searches_during_changes_see_whole_snapshots() =>
        SearchesNeverSeeHalfAChange(Bm25.Build(Enumerable.Range(0, 500).Select(i => RandomDoc(new Random(i), $"d{i}")), new Bm25Options { DeltaLimit = 16 }));

    [Fact]
    public void Hnsw_searches_during_changes_return_only_snapshot_rows() =>
        SearchesNeverSeeHalfAChange(DenseOver(new HnswIndex(Dim, new HnswOptions { Metric = VectorMetric.Cosine, EfConstruction = 40 }),
            Enumerable.Range(0, 500).Select(i => RandomDoc(new Random(i), $"d{i}")).ToList()), exact: false);

    [Fact]
    public void Flat_vector_searches_during_changes_see_whole_snapshots() =>
        SearchesNeverSeeHalfAChange(DenseOver(new FlatIndex(Dim, VectorMetric.Cosine), Enumerable.Range(0, 500).Select(i => RandomDoc(new Random(i), $"d{i}")).ToList()));
}
