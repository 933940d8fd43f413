using GenSearch.Models;
using GenSearch.Models.Generative;
using GenSearch.Nn;
using GenSearch.Retrieval.Generative;
using GenSearch.Tensors;
using GenSearch.Text;

namespace GenSearch.Retrieval.Tests.Generative;

/// <summary>The generative catalog: collision tokens for new items, and the trie after changes.</summary>
public class GenerativeCatalogTests
{
    // Two levels of 3 codes, then a collision level of 3 tokens.
    private static readonly SidVocabulary Vocabulary = new([3, 3, 3]);

    /// <summary>The assigner reads the leading codes from the title: "c0 c1" gives [c0, c1].</summary>
    private static int[][] Assign(IReadOnlyList<Document> docs) => docs.Select(d => d.Title.Split(' ').Select(int.Parse).ToArray()).ToArray();

    private static GenerativeCatalog Catalog() => new("generative", Vocabulary,
        [[0, 0, 0], [0, 0, 1], [1, 2, 0], [2, 1, 0]], ["a", "b", "c", "d"], assignIds: Assign);

    private static Dictionary<string, int[]> Ids(GenerativeSnapshot s)
        => Enumerable.Range(0, s.Count).ToDictionary(i => s.ItemIds[i], i => s.Codes(i).ToArray());

    /// <summary>The trie of a snapshot answers exactly as one built from scratch on its IDs (item i = position i).</summary>
    private static void AssertTrieAsFromScratch(GenerativeSnapshot s, SidVocabulary? vocabulary = null)
    {
        vocabulary ??= Vocabulary;
        var tokens = Enumerable.Range(0, s.Count).Select(i => vocabulary.Tokens(s.Codes(i))).ToList();
        var scratch = SidTrie.Build(tokens);
        SidIndexAssert.Same(scratch, s.Trie);
        for (int i = 0; i < s.Count; i++) Assert.Contains(i, s.Trie.ItemsAt(s.Trie.Find(tokens[i])));
        for (int i = 0; i < s.Count; i++) Assert.Equal(i, s.IndexOf(s.ItemIds[i])); // base map, tail map, removed slots
        Assert.Equal(-1, s.IndexOf("never-in-the-catalog"));
    }

    [Fact]
    public void A_colliding_item_gets_the_next_free_collision_token()
    {
        var catalog = Catalog();
        Assert.Equal(new CatalogChange(1, 0, 0, 0), catalog.Upsert([new Document("x", "0 0", "")]));
        Assert.Equal([0, 0, 2], Ids(catalog.Current)["x"]);       // a and b hold 0 and 1
        catalog.Upsert([new Document("y", "1 1", "")]);
        Assert.Equal([1, 1, 0], Ids(catalog.Current)["y"]);       // no collision: token 0
        AssertTrieAsFromScratch(catalog.Current);

        // The group [0, 0] is full (3 tokens): the batch fails as a whole, nothing changes.
        var before = catalog.Current;
        var error = Assert.Throws<ArgumentException>(() => catalog.Upsert([new Document("z", "2 2", ""), new Document("w", "0 0", "")]));
        Assert.Contains("collision tokens", error.Message);
        Assert.Same(before, catalog.Current);

        // Removing b frees token 1; the next colliding item takes it.
        Assert.Equal(new CatalogChange(0, 0, 1, 1), catalog.Remove(["b", "nope"]));
        Assert.Equal(-1, catalog.Current.IndexOf("b"));
        catalog.Upsert([new Document("w", "0 0", "")]);
        Assert.Equal([0, 0, 1], Ids(catalog.Current)["w"]);
        AssertTrieAsFromScratch(catalog.Current);

        // Replacing x moves it and frees its token 2; replacing it back to [0, 0] takes the smallest free.
        Assert.Equal(new CatalogChange(0, 1, 0, 0), catalog.Upsert([new Document("x", "2 1", "")]));
        Assert.Equal([2, 1, 1], Ids(catalog.Current)["x"]);        // d holds [2, 1, 0]
        catalog.Upsert([new Document("x", "0 0", "")]);
        Assert.Equal([0, 0, 2], Ids(catalog.Current)["x"]);
        Assert.Equal(["a", "c", "d", "x", "y", "w"], catalog.Current.ItemIds);
        AssertTrieAsFromScratch(catalog.Current);
    }

    [Theory]
    [InlineData(null)] // the default limit: no fold at this size, every change on the delta
    [InlineData(5)]    // a fold every few changes
    public void Random_changes_keep_the_trie_equal_to_a_fresh_build(int? foldLimit)
    {
        var rng = new Random(9);
        var vocabulary = new SidVocabulary([4, 4, 40]);
        var catalog = new GenerativeCatalog("generative", vocabulary, [], [], assignIds: d => d.Select(_ => new[] { rng.Next(4), rng.Next(4) }).ToArray())
        {
            FoldLimitForTests = foldLimit,
        };
        var expected = new List<string>(); // ids in catalog order: appended when new, kept in place when replaced
        int folds = 0;
        for (int step = 0; step < 80; step++)
        {
            var before = catalog.Current;
            if (step % 4 == 3)
            {
                var gone = Enumerable.Range(0, 5).Select(_ => $"i{rng.Next(40)}").ToArray();
                catalog.Remove(gone);
                expected.RemoveAll(gone.Contains);
            }
            else
            {
                var docs = Enumerable.Range(0, 1 + rng.Next(6)).Select(_ => new Document($"i{rng.Next(40)}", "", "")).ToArray();
                catalog.Upsert(docs);
                foreach (var d in docs) if (!expected.Contains(d.Id)) expected.Add(d.Id);
            }
            var s = catalog.Current;
            if (s.DeltaSize == 0 && before.DeltaSize > 0) folds++;
            Assert.Equal(expected, s.ItemIds);
            AssertTrieAsFromScratch(s, vocabulary);
            // Full IDs stay distinct: collision tokens are never handed out twice.
            Assert.Equal(s.Count, Enumerable.Range(0, s.Count).Select(i => string.Join(",", s.Codes(i).ToArray())).Distinct().Count());
        }
        if (foldLimit is not null) Assert.True(folds > 3, $"{folds} folds");
    }

    /// <summary>
    /// Readers on their own threads check whole snapshots while a writer adds pairs of items (one
    /// upsert each), replaces and removes them, folding every few changes: a snapshot must hold both
    /// items of a pair or neither, index every item under its ID, and drop a pair once its removal has
    /// returned. The writer goes on until the readers have checked enough snapshots, so a loaded
    /// machine slows the test instead of failing it.
    /// </summary>
    [Fact]
    public void Readers_never_see_half_a_change_across_folds()
    {
        var vocabulary = new SidVocabulary([4, 4, 64]);
        var rng = new Random(4);
        var catalog = new GenerativeCatalog("generative", vocabulary,
            Enumerable.Range(0, 50).Select(i => new[] { i % 4, i / 4 % 4, i / 16 }).ToList(), Enumerable.Range(0, 50).Select(i => $"b{i}").ToArray(),
            assignIds: docs => docs.Select(_ => new[] { rng.Next(4), rng.Next(4) }).ToArray()) { FoldLimitForTests = 12 };
        var stop = new CancellationTokenSource();
        var failures = new List<string>();
        long checks = 0, done = 0;
        var removedAt = new System.Collections.Concurrent.ConcurrentDictionary<int, long>();
        var readers = Enumerable.Range(0, 2).Select(_ => new Thread(() =>
        {
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    long began = Interlocked.Read(ref done);
                    var s = catalog.Current;
                    var ids = s.ItemIds.ToList();
                    string? error = s.Trie.ItemCount != s.Count ? $"trie holds {s.Trie.ItemCount} items of {s.Count}" : null;
                    for (int i = 0; i < s.Count && error is null; i++)
                        if (!s.Trie.ItemsAt(s.Trie.Find(vocabulary.Tokens(s.Codes(i)))).Contains(i)) error = $"item {i} ({ids[i]}) is not under its ID";
                    var pairs = ids.Where(id => id.StartsWith('p')).ToHashSet();
                    foreach (var id in pairs)
                    {
                        string other = id.EndsWith('a') ? id[..^1] + "b" : id[..^1] + "a";
                        if (!pairs.Contains(other)) error ??= $"{id} without {other}";
                        if (removedAt.TryGetValue(int.Parse(id.AsSpan(1, id.Length - 2)), out long at) && at <= began) error ??= $"{id} after its removal";
                    }
                    Interlocked.Increment(ref checks);
                    if (error is not null) lock (failures) failures.Add(error);
                }
            }
            catch (Exception e) { lock (failures) failures.Add(e.ToString()); }
        }) { IsBackground = true }).ToArray();
        foreach (var reader in readers) reader.Start();
        var live = new Queue<int>();
        int next = 0, writes = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            while (writes < 300 || Interlocked.Read(ref checks) < 200 && clock.Elapsed < TimeSpan.FromSeconds(60))
            {
                int i = next++;
                catalog.Upsert([new Document($"p{i}a", "", ""), new Document($"p{i}b", "", "")]);
                live.Enqueue(i);
                Interlocked.Increment(ref done);
                if (i % 3 == 0) { catalog.Upsert([new Document($"p{live.Peek()}a", "", ""), new Document($"p{live.Peek()}b", "", "")]); Interlocked.Increment(ref done); }
                if (i % 5 == 0) { catalog.Remove([$"b{rng.Next(50)}"]); Interlocked.Increment(ref done); }
                if (live.Count > 6)
                {
                    int j = live.Dequeue();
                    Assert.Equal(2, catalog.Remove([$"p{j}a", $"p{j}b"]).Removed);
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
        Assert.True(failures.Count == 0, $"{failures.Count} of {checks} snapshots were torn, e.g. {failures.FirstOrDefault()}");
        Assert.True(checks >= 200, $"only {checks} snapshots checked");
        AssertTrieAsFromScratch(catalog.Current, vocabulary);
    }

    [Fact]
    public void Ids_must_have_one_code_per_level()
    {
        var error = Assert.Throws<ArgumentException>(() => new GenerativeCatalog("generative", Vocabulary, [[0, 0, 0], [1, 2]], ["a", "b"]));
        Assert.Contains("item 1 ('b') has an ID of 2 codes", error.Message);
        error = Assert.Throws<ArgumentException>(() => new GenerativeCatalog("generative", Vocabulary, [[0, 3, 0]], ["a"]));
        Assert.Contains("code 3 at level 1", error.Message);
    }

    [Fact]
    public void Generative_retriever_finds_an_added_item_and_never_a_removed_one()
    {
        string[] titles = ["cordless drill", "garden hose", "shower head", "oak vanity"];
        var tokenizer = WordPieceTrainer.Train(titles);
        var vocabulary = new SidVocabulary([3, 3, 2]);
        var generator = new SidGenerator(vocabulary, new EncoderDecoderConfig
        {
            SourceVocabulary = tokenizer.VocabularySize, Dim = 16, Heads = 2, EncoderLayers = 1, DecoderLayers = 1, FfnDim = 32,
            MaxSourceLength = 16, MaxTargetLength = 3,
        }, new Rng(1));
        var retriever = new GenerativeRetriever(generator, tokenizer, [[0, 0, 0], [1, 1, 0], [2, 2, 0], [0, 1, 0]], ["a", "b", "c", "d"],
            new GenerativeSearchOptions { BeamSize = 20 }, assignIds: docs => docs.Select(_ => new[] { 0, 0 }).ToArray());
        Query[] q = [new Query("q", "drill")];
        Assert.Equal(new CatalogChange(1, 0, 0, 0), retriever.Upsert([new Document("x", "cordless drill", "")]));
        Assert.Equal([0, 0, 1], retriever.Catalog.Current.Codes(4).ToArray());
        Assert.Contains(retriever.Search(q, 10)[0], h => h.Id == "x"); // beam 20 covers every ID
        Assert.Equal(new CatalogChange(0, 0, 2, 0), retriever.Remove(["a", "c"]));
        var hits = retriever.Search(q, 10)[0];
        Assert.Equal(["b", "d", "x"], hits.Select(h => h.Id).Order());
        Assert.Equal(3, retriever.Count);
        Assert.Equal(new CatalogChange(0, 0, 3, 0), retriever.Remove(["b", "d", "x"]));
        Assert.Empty(retriever.Search(q, 10)[0]);

        var frozen = new GenerativeRetriever(generator, tokenizer, [[0, 0, 0]], ["a"]);
        Assert.Contains("generative", Assert.Throws<NotSupportedException>(() => frozen.Upsert([new Document("x", "", "")])).Message);
    }
}
