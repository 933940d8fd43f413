using GenSearch.Models.Generative;
using GenSearch.Retrieval.Generative;

namespace GenSearch.Retrieval.Tests.Generative;

/// <summary>The compact trie and the live index answer as a <see cref="SidTrie"/> built on the same IDs.</summary>
public class CompactSidTrieTests
{
    private static LevelCodes Pack(SidVocabulary vocabulary, IReadOnlyList<int[]> ids)
    {
        var codes = new LevelCodes(ids.Count, vocabulary.LevelSizes);
        for (int i = 0; i < ids.Count; i++) codes.Set(i, ids[i]);
        return codes;
    }

    private static List<int[]> RandomIds(Random rng, int count, int[] sizes)
        => Enumerable.Range(0, count).Select(_ => sizes.Select(k => rng.Next(k)).ToArray()).ToList();

    [Theory]
    [InlineData(0, new[] { 3, 3, 2 })]
    [InlineData(1, new[] { 3, 3, 2 })]
    [InlineData(50, new[] { 2, 2, 2 })]        // many shared IDs: items share leaves
    [InlineData(500, new[] { 5, 4, 3, 7 })]
    [InlineData(3000, new[] { 300, 2, 70000 })] // codes of 2 and 4 bytes
    [InlineData(2000, new[] { 16 })]           // one level: the root's children are the leaves
    public void Answers_as_SidTrie_on_random_ids(int count, int[] sizes)
    {
        var rng = new Random(count + sizes.Length);
        var vocabulary = new SidVocabulary(sizes);
        var ids = RandomIds(rng, count, sizes);
        var compact = CompactSidTrie.Build(vocabulary, Pack(vocabulary, ids));
        var reference = SidTrie.Build(ids.Select(c => vocabulary.Tokens(c)).ToList());
        SidIndexAssert.Same(reference, compact);
        Assert.Equal(reference.MaxAllowed, compact.MaxAllowed);
        Assert.Equal(reference.LongestId, compact.LongestId);
        for (int i = 0; i < ids.Count; i++) Assert.Contains(i, compact.ItemsAt(compact.Find(vocabulary.Tokens(ids[i]))));
        Assert.Equal(-1, compact.Advance(compact.Root, 0)); // the start token is no level's code
    }

    [Fact]
    public void Bytes_are_five_an_item_plus_five_a_node_for_one_byte_codes()
    {
        var rng = new Random(3);
        var vocabulary = new SidVocabulary([16, 16, 256, 8]);
        var ids = RandomIds(rng, 20_000, [16, 16, 256, 2]);
        var compact = CompactSidTrie.Build(vocabulary, Pack(vocabulary, ids));
        // Per node below the root: its code (1 byte) and, for internal nodes, where its children start (4);
        // per item: its code, its number (4) and a leaf bit; plus one end marker per level and the per-level tables.
        long nodes = compact.NodesAt(1) + compact.NodesAt(2) + compact.NodesAt(3);
        long expected = 5 * nodes + 4 * 4 + 5L * ids.Count + 8 * ((ids.Count + 63) / 64) + 4 * (4 + 4 + 5) + 4 /* root */;
        Assert.Equal(expected, compact.Bytes);
        Assert.Equal(compact.Bytes, compact.BytesByPart.Sum(p => p.Bytes));
        Assert.InRange((double)compact.Bytes / ids.Count, 9.0, 10.5); // about one depth-3 node per item
    }

    [Fact]
    public void Sorted_order_is_by_id_then_item()
    {
        var vocabulary = new SidVocabulary([3, 3]);
        var codes = Pack(vocabulary, [[2, 0], [0, 1], [2, 0], [0, 0], [1, 2]]);
        Assert.Equal([3, 1, 4, 0, 2], CompactSidTrie.SortedOrder(codes));
    }

    [Fact]
    public void Live_index_is_the_base_less_dead_entries_plus_the_delta()
    {
        var rng = new Random(11);
        var vocabulary = new SidVocabulary([4, 3, 5]);
        for (int round = 0; round < 40; round++)
        {
            // Slots: base 0..B-1, delta B..B+D-1; some base items die (removed or moved), some slots are removed outright.
            int b = rng.Next(0, 60), d = rng.Next(0, 20);
            var baseIds = RandomIds(rng, b, [4, 3, 5]);
            var compact = CompactSidTrie.Build(vocabulary, Pack(vocabulary, baseIds));
            var deadSlots = Enumerable.Range(0, b).Where(_ => rng.Next(3) == 0).ToHashSet();
            var removed = deadSlots.Where(_ => rng.Next(2) == 0).ToHashSet();   // the rest of the dead are moved into the delta
            var deltaSlots = deadSlots.Except(removed).Concat(Enumerable.Range(b, d)).ToList();
            var deltaIds = deltaSlots.Select(_ => new[] { rng.Next(4), rng.Next(3), rng.Next(5) }).ToList();
            foreach (int s in Enumerable.Range(b, d).Where(_ => rng.Next(4) == 0).ToList()) // removed added items leave the delta
            {
                int at = deltaSlots.IndexOf(s);
                deltaSlots.RemoveAt(at);
                deltaIds.RemoveAt(at);
                removed.Add(s);
            }
            var dead = deadSlots.Select(s => compact.Find(vocabulary.Tokens(baseIds[s])) is var leaf
                ? compact.ItemsAt(leaf).ToList().IndexOf(s) + EntryOfLeaf(compact, leaf) : -1).Order().ToArray();
            var live = new LiveSidIndex(compact, dead, SidTrie.Build(deltaIds.Select(c => vocabulary.Tokens(c)).ToList()), [.. deltaSlots],
                [.. removed.Order()]);

            // The same catalog from scratch: every slot not removed, in slot order (positions close up), with its ID now.
            var idOf = new Dictionary<int, int[]>();
            for (int s = 0; s < b; s++) if (!deadSlots.Contains(s)) idOf[s] = baseIds[s];
            for (int i = 0; i < deltaSlots.Count; i++) idOf[deltaSlots[i]] = deltaIds[i];
            var scratch = SidTrie.Build(idOf.OrderBy(p => p.Key).Select(p => vocabulary.Tokens(p.Value)).ToList());
            SidIndexAssert.Same(scratch, live);
        }
    }

    /// <summary>The first entry of a leaf: the compact trie numbers a leaf's state by it.</summary>
    private static int EntryOfLeaf(CompactSidTrie trie, int leaf) => leaf - (trie.StateCount - trie.ItemCount);
}
