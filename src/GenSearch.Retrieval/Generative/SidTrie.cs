namespace GenSearch.Retrieval.Generative;

/// <summary>
/// A prefix tree over the catalog's semantic IDs, in flat arrays (no node objects): node n's children
/// are edges EdgeStart[n] .. EdgeStart[n+1]-1, sorted by token, so a child lookup is a binary search
/// and the tokens allowed after a prefix are one contiguous span. Items whose ID ends at node n are
/// ItemStart[n] .. ItemStart[n+1]-1 of the item array. IDs may differ in length (the Hourglass
/// paper's variable-length IDs); an ID may even be a prefix of another.
/// </summary>
public sealed class SidTrie : ISidIndex
{
    private readonly int[] _edgeStart;  // [nodes + 1]
    private readonly int[] _edgeToken;  // [edges]
    private readonly int[] _edgeChild;  // [edges]
    private readonly int[] _itemStart;  // [nodes + 1]
    private readonly int[] _items;      // [items], grouped by the node their ID ends at

    private SidTrie(int[] edgeStart, int[] edgeToken, int[] edgeChild, int[] itemStart, int[] items, int longest)
    {
        _edgeStart = edgeStart; _edgeToken = edgeToken; _edgeChild = edgeChild;
        _itemStart = itemStart; _items = items; LongestId = longest;
        for (int v = 0; v + 1 < edgeStart.Length; v++) MaxAllowed = Math.Max(MaxAllowed, edgeStart[v + 1] - edgeStart[v]);
    }

    /// <summary>Number of nodes, the root included.</summary>
    public int NodeCount => _edgeStart.Length - 1;

    /// <summary>Number of items indexed.</summary>
    public int ItemCount => _items.Length;

    /// <summary>Length of the longest ID.</summary>
    public int LongestId { get; }

    /// <inheritdoc/>
    public int Root => 0;

    /// <inheritdoc/>
    public int MaxAllowed { get; }

    /// <summary>Bytes of the flat arrays, for the memory-per-item figure.</summary>
    public long Bytes => 4L * (_edgeStart.Length + _edgeToken.Length + _edgeChild.Length + _itemStart.Length + _items.Length);

    /// <summary>
    /// Builds the trie of <paramref name="ids"/>: item i has the ID ids[i] (tokens &gt;= 0). Items that
    /// share an ID share a leaf (a disambiguating token, when wanted, is the caller's to append).
    /// </summary>
    public static SidTrie Build(IReadOnlyList<int[]> ids)
    {
        int n = ids.Count;
        for (int i = 0; i < n; i++) CheckId(ids, i);
        var order = Enumerable.Range(0, n).ToArray();
        Array.Sort(order, (a, b) => Compare(ids, a, b));
        return BuildSorted(ids, order);
    }

    /// <summary>Whether item a's ID sorts before item b's (ties: the lower item first), the order <see cref="BuildSorted"/> needs.</summary>
    internal static int Compare(IReadOnlyList<int[]> ids, int a, int b) => CompareIds(ids[a], ids[b]) is var c && c != 0 ? c : a.CompareTo(b);

    internal static void CheckId(IReadOnlyList<int[]> ids, int i)
    {
        if (ids[i] is null || ids[i].Length == 0) throw new ArgumentException($"item {i} has an empty semantic ID");
        foreach (int t in ids[i]) if (t < 0) throw new ArgumentException($"item {i} has a negative token {t} in its semantic ID");
    }

    /// <summary>
    /// Builds the trie from IDs already in <see cref="Compare"/> order (<paramref name="order"/> lists
    /// every item once), in two linear passes and no per-node objects: nodes are numbered depth-first
    /// along the sorted IDs, so the children of a node appear in increasing token order, and walking
    /// the nodes in number order fills each node's edges already sorted. A live catalog keeps the
    /// order between snapshots, so a change costs a merge and this, not a sort.
    /// </summary>
    internal static SidTrie BuildSorted(IReadOnlyList<int[]> ids, int[] order)
    {
        // Pass 1: create nodes along the sorted IDs; parent, incoming token and item count of each.
        long bound = 1;
        foreach (int item in order) bound += ids[item].Length; // at most one node per token
        if (bound > Array.MaxLength) throw new ArgumentException($"{order.Length} IDs hold too many tokens for one trie");
        // Scratch from the pool: a change to a large catalog should not allocate (and collect) these every time.
        var pool = System.Buffers.ArrayPool<int>.Shared;
        int[] parent = pool.Rent((int)bound), token = pool.Rent((int)bound), itemCount = pool.Rent((int)bound), end = pool.Rent(order.Length);
        try
        {
            parent[0] = -1;
            itemCount[0] = 0;
            int nodes = 1;
            var path = new List<int> { 0 };  // node at each depth of the previous ID
            int[]? previous = null;
            int longest = 0;
            for (int j = 0; j < order.Length; j++)
            {
                var id = ids[order[j]];
                longest = Math.Max(longest, id.Length);
                int common = 0;
                if (previous is not null)
                    while (common < id.Length && common < previous.Length && id[common] == previous[common]) common++;
                path.RemoveRange(common + 1, path.Count - common - 1);
                for (int depth = common; depth < id.Length; depth++)
                {
                    parent[nodes] = path[depth];
                    token[nodes] = id[depth];
                    itemCount[nodes] = 0;
                    path.Add(nodes++);
                }
                end[j] = path[id.Length];
                itemCount[end[j]]++;
                previous = id;
            }

            // Pass 2: edges of each node (children in number order = token order) and items at each node.
            var edgeStart = new int[nodes + 1];
            var itemStart = new int[nodes + 1];
            for (int v = 1; v < nodes; v++) edgeStart[parent[v] + 1]++;
            for (int v = 0; v < nodes; v++)
            {
                edgeStart[v + 1] += edgeStart[v];
                itemStart[v + 1] = itemStart[v] + itemCount[v];
            }
            var edgeToken = new int[nodes - 1];
            var edgeChild = new int[nodes - 1];
            // The fill cursors reuse the item-count scratch (already summed into itemStart): parent's edge cursor, then each node's item cursor.
            var fill = itemCount;
            edgeStart.AsSpan(0, nodes).CopyTo(fill);
            for (int v = 1; v < nodes; v++)
            {
                int e = fill[parent[v]]++;
                edgeToken[e] = token[v];
                edgeChild[e] = v;
            }
            var items = new int[order.Length];
            itemStart.AsSpan(0, nodes).CopyTo(fill);
            for (int j = 0; j < order.Length; j++) items[fill[end[j]]++] = order[j];
            return new SidTrie(edgeStart, edgeToken, edgeChild, itemStart, items, longest);
        }
        finally
        {
            pool.Return(parent); pool.Return(token); pool.Return(itemCount); pool.Return(end);
        }
    }

    private static int CompareIds(int[] a, int[] b)
    {
        int n = Math.Min(a.Length, b.Length);
        for (int i = 0; i < n; i++) if (a[i] != b[i]) return a[i].CompareTo(b[i]);
        return a.Length.CompareTo(b.Length);
    }

    /// <inheritdoc/>
    /// <summary>The tokens allowed after <paramref name="state"/>, ascending: a span of the trie's own edge array.</summary>
    public ReadOnlySpan<int> Allowed(int state) => _edgeToken.AsSpan(_edgeStart[state], _edgeStart[state + 1] - _edgeStart[state]);

    /// <inheritdoc/>
    public int Allowed(int state, Span<int> tokens)
    {
        var allowed = Allowed(state);
        allowed.CopyTo(tokens);
        return allowed.Length;
    }

    /// <inheritdoc/>
    public int Advance(int state, int token)
    {
        int lo = _edgeStart[state], hi = _edgeStart[state + 1] - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            int t = _edgeToken[mid];
            if (t == token) return _edgeChild[mid];
            if (t < token) lo = mid + 1; else hi = mid - 1;
        }
        return -1;
    }

    /// <inheritdoc/>
    public bool IsComplete(int state) => _itemStart[state + 1] > _itemStart[state];

    /// <summary>Items whose ID ends exactly at <paramref name="state"/>, in item order.</summary>
    public ReadOnlySpan<int> ItemsAt(int state) => _items.AsSpan(_itemStart[state], _itemStart[state + 1] - _itemStart[state]);

    int[] ISidIndex.ItemsAt(int state) => ItemsAt(state).ToArray();

    /// <inheritdoc/>
    public void ItemsUnder(int state, List<int> items)
    {
        items.AddRange(ItemsAt(state));
        for (int e = _edgeStart[state]; e < _edgeStart[state + 1]; e++) ItemsUnder(_edgeChild[e], items);
    }

    /// <summary>The state reached by <paramref name="id"/>, or -1 when no item's ID starts with it.</summary>
    public int Find(ReadOnlySpan<int> id)
    {
        int state = Root;
        foreach (int t in id)
        {
            state = Advance(state, t);
            if (state < 0) return -1;
        }
        return state;
    }
}
