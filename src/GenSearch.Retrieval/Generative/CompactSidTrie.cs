using System.Numerics;
using GenSearch.Models.Generative;

namespace GenSearch.Retrieval.Generative;

/// <summary>
/// The trie of fixed-length semantic IDs (every ID has one code per level of a <see cref="SidVocabulary"/>),
/// stored level by level: the items sorted by ID are the trie's leaves in order, so a node's children
/// are a contiguous range of the next level and only three things are kept per node: its code (packed
/// to the level's codebook size), where its children start (an int, for internal nodes) and, for the
/// last level, which item each entry is. Shapes (N items, N_d nodes at depth d, L levels):
/// <list type="bullet">
/// <item><c>childStart[d]</c> int [N_d + 1], d = 0..L-1: node j's children are childStart[d][j] .. childStart[d][j+1]-1 of depth d+1 (entries for d = L-1).</item>
/// <item><c>code[d]</c> packed [N_{d+1}]: the level-d code of each depth-(d+1) node; code[L-1] has one per entry.</item>
/// <item><c>items</c> int [N]: the item of each entry (items sorted by ID, ties by item number).</item>
/// <item><c>leafStart</c> bits [N]: entry e starts a leaf (its ID differs from entry e-1's). Items that share an ID share a leaf.</item>
/// </list>
/// For 3 x 256 codes plus a collision level of at most 256: 4 + 1 + 1/8 bytes per item plus 4 + 1
/// per depth-3 node, the upper levels negligible (<see cref="BytesByPart"/>): 7.4 bytes an item at
/// 10M synthetic items with a Zipf-skewed first level (0.41 depth-3 nodes an item), 10.9 at 200k
/// (0.95), against 27.4 and 38.6 for <see cref="SidTrie"/> (bench/RESULTS.md, "catalog at scale"). States number the nodes depth by depth (root 0); a leaf's state is its first
/// entry. It answers exactly as <see cref="SidTrie"/> on the same IDs (state numbers aside), which
/// keeps the general form for IDs of differing lengths.
/// </summary>
public sealed class CompactSidTrie : ISidIndex
{
    private readonly int[] _offset;       // [L] token of code 0 at each level
    private readonly int[] _size;         // [L] codebook size of each level
    private readonly int[][] _childStart; // [L][N_d + 1]
    private readonly PackedInts[] _code;  // [L][N_{d+1}]
    private readonly int[] _items;        // [N]
    private readonly ulong[] _leafStart;  // [ceil(N / 64)]
    private readonly int[] _stateBase;    // [L + 1] state of depth-d node j is _stateBase[d] + j

    private CompactSidTrie(SidVocabulary vocabulary, int[][] childStart, PackedInts[] code, int[] items, ulong[] leafStart)
    {
        int levels = vocabulary.Levels;
        _offset = Enumerable.Range(0, levels).Select(l => vocabulary.Token(l, 0)).ToArray();
        _size = vocabulary.LevelSizes.ToArray();
        _childStart = childStart; _code = code; _items = items; _leafStart = leafStart;
        _stateBase = new int[levels + 1];
        long next = 0;
        for (int d = 0; d <= levels; d++)
        {
            _stateBase[d] = (int)next;
            next += d < levels ? childStart[d].Length - 1 : items.Length;
            if (next > int.MaxValue) throw new ArgumentException($"{items.Length} items make more trie states than an int numbers; shard the catalog by ID prefix");
        }
        StateCount = (int)next;
        for (int d = 0; d + 1 < levels; d++)
            for (int j = 0; j + 1 < childStart[d].Length; j++) MaxAllowed = Math.Max(MaxAllowed, childStart[d][j + 1] - childStart[d][j]);
        var last = childStart[levels - 1]; // children of the last level are leaves: entries that start one
        for (int j = 0; j + 1 < last.Length; j++)
        {
            int leaves = 0;
            for (int e = last[j]; e < last[j + 1]; e++) if (IsLeafStart(e)) leaves++;
            MaxAllowed = Math.Max(MaxAllowed, leaves);
        }
    }

    /// <summary>Code levels of every ID (the depth of every leaf).</summary>
    public int Levels => _offset.Length;

    /// <summary>States in all: nodes of every depth plus one per entry (root included).</summary>
    public int StateCount { get; }

    /// <inheritdoc/>
    public int ItemCount => _items.Length;

    /// <inheritdoc/>
    public int LongestId => ItemCount == 0 ? 0 : Levels;

    /// <inheritdoc/>
    public int Root => 0;

    /// <inheritdoc/>
    public int MaxAllowed { get; }

    /// <inheritdoc/>
    public long Bytes => BytesByPart.Sum(p => p.Bytes);

    /// <summary>Bytes of each array, named as in the class summary (the memory breakdown the sizing page uses).</summary>
    public IReadOnlyList<(string Part, long Bytes)> BytesByPart
    {
        get
        {
            var parts = new List<(string, long)>();
            for (int d = 0; d < Levels; d++)
            {
                parts.Add(($"childStart[{d}]", 4L * _childStart[d].Length));
                parts.Add(($"code[{d}]", _code[d].Bytes));
            }
            parts.Add(("items", 4L * _items.Length));
            parts.Add(("leafStart", 8L * _leafStart.Length));
            parts.Add(("per-level tables", 4L * (_offset.Length + _size.Length + _stateBase.Length)));
            return parts;
        }
    }

    /// <summary>Nodes at depth <paramref name="depth"/> (1 at the root; the entries, one per item, at depth L).</summary>
    public int NodesAt(int depth) => depth < Levels ? _childStart[depth].Length - 1 : _items.Length;

    /// <summary>The trie of the IDs <paramref name="codes"/> (item i has ID row i), codes checked against <paramref name="vocabulary"/>.</summary>
    public static CompactSidTrie Build(SidVocabulary vocabulary, LevelCodes codes)
    {
        CheckShape(vocabulary, codes);
        return BuildSorted(vocabulary, codes, SortedOrder(codes));
    }

    /// <summary>Items in ID order, ties by item number: a stable counting sort per level, last level first (O(levels x (N + K))).</summary>
    public static int[] SortedOrder(LevelCodes codes)
    {
        int n = codes.Count;
        var order = Enumerable.Range(0, n).ToArray();
        var next = new int[n];
        for (int l = codes.Levels - 1; l >= 0; l--)
        {
            var level = codes.Level(l);
            var start = new int[level.Bound + 1];
            foreach (int item in order) start[level[item] + 1]++;
            for (int c = 0; c < level.Bound; c++) start[c + 1] += start[c];
            foreach (int item in order) next[start[level[item]]++] = item;
            (order, next) = (next, order);
        }
        return order;
    }

    private static void CheckShape(SidVocabulary vocabulary, LevelCodes codes)
    {
        if (codes.Levels != vocabulary.Levels) throw new ArgumentException($"IDs of {codes.Levels} levels for a vocabulary of {vocabulary.Levels}");
        if (codes.Levels > byte.MaxValue) throw new ArgumentException($"IDs of {codes.Levels} levels: the compact trie takes at most {byte.MaxValue}");
        for (int l = 0; l < codes.Levels; l++)
            if (codes.Level(l).Bound > vocabulary.LevelSizes[l])
                throw new ArgumentException($"level {l} codes go up to {codes.Level(l).Bound - 1}; the vocabulary has {vocabulary.LevelSizes[l]}");
    }

    /// <summary>
    /// The trie from items already in ID order (ties by item number): <paramref name="order"/> lists
    /// items of <paramref name="codes"/>, each at most once (items left out are not indexed). Two
    /// linear passes: count the nodes of each depth, then fill the arrays.
    /// </summary>
    internal static CompactSidTrie BuildSorted(SidVocabulary vocabulary, LevelCodes codes, int[] order)
    {
        CheckShape(vocabulary, codes);
        int levels = codes.Levels, n = order.Length;
        // The codes in entry order, one gather per level: the passes below then read memory in order
        // (reading codes[order[j], l] directly made them 5x slower at 2M items: a cache miss per read).
        var sorted = new PackedInts[levels];
        for (int l = 0; l < levels; l++)
        {
            var from = codes.Level(l);
            var to = sorted[l] = new PackedInts(n, from.Bound);
            for (int j = 0; j < n; j++) to[j] = from[order[j]];
        }
        // First level at which entry j's ID differs from entry j-1's (levels: the same ID); entry 0 differs at 0.
        var first = new byte[n];
        var nodes = new int[levels + 1];
        nodes[0] = 1;
        nodes[levels] = n;
        for (int j = 0; j < n; j++)
        {
            int l = 0;
            if (j > 0)
            {
                while (l < levels && sorted[l][j] == sorted[l][j - 1]) l++;
                if (l == levels && order[j - 1] >= order[j]) throw new ArgumentException($"items {order[j - 1]} and {order[j]} are out of order (ties go by item number)");
                if (l < levels && sorted[l][j - 1] > sorted[l][j]) throw new ArgumentException($"items {order[j - 1]} and {order[j]} are not in ID order");
            }
            first[j] = (byte)l;
            for (int d = l + 1; d < levels; d++) nodes[d]++;
        }
        var childStart = new int[levels][];
        var code = new PackedInts[levels];
        for (int d = 0; d < levels; d++)
        {
            childStart[d] = new int[nodes[d] + 1];
            code[d] = new PackedInts(nodes[d + 1], vocabulary.LevelSizes[d]);
        }
        var leafStart = new ulong[(n + 63) / 64];
        var count = new int[levels + 1];
        count[0] = 1;
        for (int j = 0; j < n; j++)
        {
            int l = first[j];
            for (int d = l + 1; d < levels; d++)
            {
                int node = count[d]++;
                code[d - 1][node] = sorted[d - 1][j];
                childStart[d][node] = count[d + 1]; // its first child is the next node made one level down
            }
            if (l < levels) leafStart[j >> 6] |= 1UL << (j & 63);
            count[levels]++;
        }
        code[levels - 1] = sorted[levels - 1]; // one code per entry: the gathered column itself
        for (int d = 0; d < levels; d++) childStart[d][nodes[d]] = nodes[d + 1];
        return new CompactSidTrie(vocabulary, childStart, code, [.. order], leafStart);
    }

    /// <summary>Depth of <paramref name="state"/>: 0 at the root, <see cref="Levels"/> at a leaf.</summary>
    internal int Depth(int state)
    {
        int d = Levels;
        while (state < _stateBase[d]) d--;
        return d;
    }

    /// <inheritdoc/>
    public int Allowed(int state, Span<int> tokens)
    {
        int d = Depth(state);
        if (d == Levels) return 0;
        int j = state - _stateBase[d], lo = _childStart[d][j], hi = _childStart[d][j + 1], offset = _offset[d], written = 0;
        var code = _code[d];
        if (d < Levels - 1)
        {
            for (int i = lo; i < hi; i++) tokens[written++] = offset + code[i];
            return written;
        }
        for (int i = lo; i < hi; i++)
            if (IsLeafStart(i)) tokens[written++] = offset + code[i]; // items sharing an ID: one token
        return written;
    }

    /// <inheritdoc/>
    public int Advance(int state, int token)
    {
        int d = Depth(state);
        if (d == Levels) return -1;
        int c = token - _offset[d];
        if ((uint)c >= (uint)_size[d]) return -1;
        int j = state - _stateBase[d], hi = _childStart[d][j + 1];
        int at = _code[d].LowerBound(_childStart[d][j], hi, c); // the first entry of a shared ID: its leaf
        return at < hi && _code[d][at] == c ? _stateBase[d + 1] + at : -1;
    }

    /// <inheritdoc/>
    public bool IsComplete(int state) => state >= _stateBase[Levels];

    /// <inheritdoc/>
    public int[] ItemsAt(int state)
    {
        if (!IsComplete(state)) return [];
        var (lo, hi) = EntryRange(state);
        return _items.AsSpan(lo, hi - lo).ToArray();
    }

    /// <inheritdoc/>
    public void ItemsUnder(int state, List<int> items)
    {
        if (ItemCount == 0) return;
        var (lo, hi) = EntryRange(state);
        items.AddRange(_items.AsSpan(lo, hi - lo));
    }

    /// <summary>The entries (items in ID order) under <paramref name="state"/>: lo .. hi-1.</summary>
    internal (int Lo, int Hi) EntryRange(int state)
    {
        int d = Depth(state);
        if (d == Levels)
        {
            int e = state - _stateBase[Levels];
            return (e, NextLeafStart(e + 1));
        }
        int lo = state - _stateBase[d], hi = lo + 1;
        for (; d < Levels; d++)
        {
            lo = _childStart[d][lo];
            hi = _childStart[d][hi];
        }
        return (lo, hi);
    }

    /// <summary>The parent of <paramref name="state"/> (-1 for the root): the node whose child range holds it, by binary search.</summary>
    internal int Parent(int state)
    {
        int d = Depth(state);
        if (d == 0) return -1;
        int j = state - _stateBase[d];
        var starts = _childStart[d - 1];
        int lo = 0, hi = starts.Length - 1; // the last p with starts[p] <= j
        while (lo < hi)
        {
            int mid = (lo + hi + 1) >>> 1;
            if (starts[mid] <= j) lo = mid; else hi = mid - 1;
        }
        return _stateBase[d - 1] + lo;
    }

    /// <summary>The token that leads to <paramref name="state"/> from its parent (not for the root).</summary>
    internal int TokenOf(int state)
    {
        int d = Depth(state);
        return _offset[d - 1] + _code[d - 1][state - _stateBase[d]];
    }

    /// <summary>The leaf holding entry <paramref name="entry"/>.</summary>
    internal int LeafOf(int entry)
    {
        while (!IsLeafStart(entry)) entry--; // a leaf's entries are few: the items sharing one ID
        return _stateBase[Levels] + entry;
    }

    /// <summary>The item of entry <paramref name="entry"/>.</summary>
    internal int ItemAt(int entry) => _items[entry];

    /// <summary>The entry of <paramref name="item"/>, whose ID is <paramref name="codes"/>, or -1 when it is not indexed so.</summary>
    internal int EntryOf(int item, ReadOnlySpan<int> codes)
    {
        int state = Root;
        for (int l = 0; l < codes.Length && state >= 0; l++) state = Advance(state, _offset[l] + codes[l]);
        if (state < 0 || !IsComplete(state)) return -1;
        var (lo, hi) = EntryRange(state);
        int at = _items.AsSpan(lo, hi - lo).BinarySearch(item); // ascending within a leaf
        return at < 0 ? -1 : lo + at;
    }

    private bool IsLeafStart(int entry) => (_leafStart[entry >> 6] & (1UL << (entry & 63))) != 0;

    /// <summary>The first leaf start at or after <paramref name="entry"/>, or the entry count.</summary>
    private int NextLeafStart(int entry)
    {
        int n = _items.Length, word = entry >> 6;
        if (entry >= n) return n;
        ulong bits = _leafStart[word] & (~0UL << (entry & 63));
        while (bits == 0)
        {
            if (++word >= _leafStart.Length) return n;
            bits = _leafStart[word];
        }
        return Math.Min(n, (word << 6) + BitOperations.TrailingZeroCount(bits));
    }
}
