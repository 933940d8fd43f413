using GenSearch.Retrieval.Generative;

namespace GenSearch.Retrieval.Tests.Generative;

public class SidTrieTests
{
    private static readonly int[][] Ids =
    [
        [3, 1, 4], [3, 1, 5], [2, 7, 1], [3, 1, 4], // items 0 and 3 collide
        [3, 2], [3, 2, 9],                           // a short ID that is a prefix of a longer one
        [0, 0, 0],
    ];

    [Fact]
    public void ChildrenAreSortedAndLeadToTheirItems()
    {
        var trie = SidTrie.Build(Ids);
        Assert.Equal(7, trie.ItemCount);
        Assert.Equal([0, 2, 3], trie.Allowed(trie.Root).ToArray());
        int s31 = trie.Find([3, 1]);
        Assert.Equal([4, 5], trie.Allowed(s31).ToArray());
        Assert.Equal([0, 3], trie.ItemsAt(trie.Find([3, 1, 4])).ToArray());
        Assert.Equal([4], trie.ItemsAt(trie.Find([3, 2])).ToArray());
        Assert.True(trie.IsComplete(trie.Find([3, 2])));
        Assert.Equal([9], trie.Allowed(trie.Find([3, 2])).ToArray());
        Assert.False(trie.IsComplete(s31));
        Assert.Equal(-1, trie.Find([3, 3]));
        Assert.Equal(-1, trie.Advance(trie.Root, 1));
        Assert.Equal(3, trie.LongestId);
    }

    [Fact]
    public void EveryIdIsFoundAndNodesAreShared()
    {
        var rng = new Random(5);
        var ids = Enumerable.Range(0, 2000).Select(_ => new[] { rng.Next(8), rng.Next(8), rng.Next(8) }).ToList();
        var trie = SidTrie.Build(ids);
        for (int i = 0; i < ids.Count; i++) Assert.Contains(i, trie.ItemsAt(trie.Find(ids[i])).ToArray());
        int distinctPrefixes = 1 + ids.Select(x => x[0]).Distinct().Count() + ids.Select(x => (x[0], x[1])).Distinct().Count()
            + ids.Select(x => (x[0], x[1], x[2])).Distinct().Count();
        Assert.Equal(distinctPrefixes, trie.NodeCount);
        Assert.True(trie.Bytes < 40L * ids.Count, $"{trie.Bytes} bytes for {ids.Count} items");
    }

    [Fact]
    public void RejectsEmptyAndNegativeIds()
    {
        Assert.Throws<ArgumentException>(() => SidTrie.Build([[1], []]));
        Assert.Throws<ArgumentException>(() => SidTrie.Build([[1, -2]]));
    }
}
