using GenSearch.Models.Generative;

namespace GenSearch.Retrieval.Generative;

/// <summary>
/// One immutable state of a <see cref="GenerativeCatalog"/>: items (index i is item i), their IDs,
/// the trie over them, and the items in ID order (kept so that the next change merges instead of sorting).
/// </summary>
public sealed class GenerativeSnapshot
{
    internal GenerativeSnapshot(SidTrie trie, string[] itemIds, int[][] codes, int[][] tokens, float[]? prior, int[] order)
    {
        Trie = trie; _itemIds = itemIds; _codes = codes; Tokens = tokens; Prior = prior; Order = order;
    }

    private readonly string[] _itemIds;
    private readonly int[][] _codes;

    /// <summary>The trie of the items' IDs (vocabulary tokens); its item numbers index <see cref="ItemIds"/>.</summary>
    public SidTrie Trie { get; }
    /// <summary>Corpus id of each item.</summary>
    public IReadOnlyList<string> ItemIds => _itemIds;
    /// <summary>Items.</summary>
    public int Count => _itemIds.Length;
    /// <summary>Item <paramref name="item"/>'s ID as codes per level, the collision token last.</summary>
    public ReadOnlySpan<int> Codes(int item) => _codes[item];
    /// <summary>Per-item prior used to order items that share an ID (null: catalog order only).</summary>
    public float[]? Prior { get; }
    internal int[][] Tokens { get; }
    internal int[] Order { get; }

    private Dictionary<string, int>? _indexOf;

    /// <summary>
    /// The item number of corpus id <paramref name="id"/>, or -1. The map is built on the first call
    /// for each snapshot (explanations and IDs of hits ask for it; plain search never does), so a
    /// catalog that changes pays for it only when something is explained.
    /// </summary>
    public int IndexOf(string id)
    {
        var map = _indexOf;
        if (map is null)
        {
            map = new Dictionary<string, int>(_itemIds.Length, StringComparer.Ordinal);
            for (int i = 0; i < _itemIds.Length; i++) map[_itemIds[i]] = i;
            _indexOf = map; // two threads may both build it: the same map, one wins
        }
        return map.GetValueOrDefault(id, -1);
    }
    internal int[][] AllCodes => _codes;
    internal string[] AllIds => _itemIds;
}

/// <summary>
/// The catalog of a generative retriever as a sequence of immutable snapshots (one volatile
/// reference; writers serialised by a lock; searches read <see cref="Current"/> once).
/// <para>
/// IDs of new items: the assigner gives, for each document, its codes per level. Codes for every
/// level but the last (the collision level, as <c>SemanticIds</c> builds IDs) get the smallest
/// collision token no live item with the same leading codes holds, as <c>SemanticIds</c> numbers a
/// colliding group 0, 1, 2, ...; codes for every level are taken as they are (an item that repeats
/// another's full ID then shares its leaf). A collision token the generator's vocabulary cannot
/// write (the group already holds <c>LevelSizes[^1]</c> items) is an error, raised before anything
/// changes. A replaced item keeps its position (and prior) and frees its old collision token; a
/// removed item frees its token; new items are appended with prior 0.
/// </para>
/// <para>
/// The trie stays flat arrays and every change builds a new one: the items' ID order is kept
/// between snapshots, so a change merges the changed items into it (sorting only them) and rebuilds
/// the arrays in two linear passes (<see cref="SidTrie"/>), with no sort of the catalog. Measured on
/// 54,667 items of 4-token IDs (the homedepot shape), 2 cores shared: see the README's "Live catalog".
/// </para>
/// </summary>
public sealed class GenerativeCatalog
{
    private readonly string _name;
    private readonly SidVocabulary _vocabulary;
    private readonly Func<IReadOnlyList<Document>, int[][]>? _assignIds;
    private readonly object _writeLock = new();
    private readonly Dictionary<string, int> _indexOf = new(StringComparer.Ordinal);        // writers only
    private readonly Dictionary<string, SortedSet<int>> _collisionTokens = new(StringComparer.Ordinal); // leading codes -> tokens in use
    private volatile GenerativeSnapshot _current;

    /// <summary>A catalog of items whose IDs are <paramref name="itemCodes"/> (codes per level, the collision token last).</summary>
    public GenerativeCatalog(string name, SidVocabulary vocabulary, IReadOnlyList<int[]> itemCodes, string[] itemIds, float[]? itemPrior = null,
        Func<IReadOnlyList<Document>, int[][]>? assignIds = null)
    {
        if (itemCodes.Count != itemIds.Length) throw new ArgumentException($"{itemCodes.Count} IDs for {itemIds.Length} items");
        if (itemPrior is not null && itemPrior.Length != itemIds.Length) throw new ArgumentException($"{itemPrior.Length} priors for {itemIds.Length} items");
        _name = name;
        _vocabulary = vocabulary;
        _assignIds = assignIds;
        var codes = itemCodes.Select(c => c.ToArray()).ToArray();
        var tokens = codes.Select(c => vocabulary.Tokens(c)).ToArray();
        for (int i = 0; i < tokens.Length; i++) SidTrie.CheckId(tokens, i);
        for (int i = 0; i < itemIds.Length; i++)
        {
            _indexOf[itemIds[i]] = i;
            Tokens(_collisionTokens, codes[i]).Add(codes[i][^1]);
        }
        var order = Enumerable.Range(0, tokens.Length).ToArray();
        Array.Sort(order, (a, b) => SidTrie.Compare(tokens, a, b));
        _current = new GenerativeSnapshot(SidTrie.BuildSorted(tokens, order), [.. itemIds], codes, tokens, itemPrior?.ToArray(), order);
    }

    /// <summary>The catalog now.</summary>
    public GenerativeSnapshot Current => _current;

    /// <summary>The token vocabulary of the IDs (levels' codes, then the collision token).</summary>
    public SidVocabulary Vocabulary => _vocabulary;

    private static string Key(ReadOnlySpan<int> leading) => string.Join(',', leading.ToArray());

    private static SortedSet<int> Tokens(Dictionary<string, SortedSet<int>> map, int[] codes)
    {
        string key = Key(codes.AsSpan(0, codes.Length - 1));
        if (!map.TryGetValue(key, out var set)) map[key] = set = [];
        return set;
    }

    /// <summary>Adds or replaces items; see the class summary for their IDs.</summary>
    public CatalogChange Upsert(IReadOnlyList<Document> items)
    {
        if (_assignIds is null)
            throw new NotSupportedException($"{_name}: this retriever was built without a semantic-ID assigner, so it cannot give IDs to " +
                                            "items to upsert (pass assignIds to the constructor)");
        var batch = CatalogBatch.LastPerId(items, _name);
        if (batch.Count == 0) return default;
        int[][] assigned = _assignIds(batch); // outside the lock: encoding and quantising are the slow part
        if (assigned is null || assigned.Length != batch.Count)
            throw new InvalidOperationException($"{_name}: the ID assigner returned {assigned?.Length ?? 0} IDs for {batch.Count} items");
        int levels = _vocabulary.Levels, collisionSize = _vocabulary.LevelSizes[^1];
        lock (_writeLock)
        {
            var cur = _current;
            // Collision-token sets touched by this batch, copied: nothing shared changes until every item is checked.
            var touched = new Dictionary<string, SortedSet<int>>(StringComparer.Ordinal);
            SortedSet<int> Used(int[] codes)
            {
                string key = Key(codes.AsSpan(0, codes.Length - 1));
                if (!touched.TryGetValue(key, out var set))
                    touched[key] = set = _collisionTokens.TryGetValue(key, out var shared) ? new SortedSet<int>(shared) : [];
                return set;
            }
            var full = new int[batch.Count][];
            var tokens = new int[batch.Count][];
            for (int j = 0; j < batch.Count; j++)
            {
                var c = assigned[j];
                if (c is null || (c.Length != levels - 1 && c.Length != levels))
                    throw new ArgumentException($"{_name}: item '{batch[j].Id}': the assigner gave {c?.Length ?? 0} codes; the IDs have {levels} levels " +
                                                $"(give {levels - 1} to get a collision token, or all {levels})");
                if (_indexOf.TryGetValue(batch[j].Id, out int old)) Used(cur.AllCodes[old]).Remove(cur.AllCodes[old][^1]);
                if (c.Length == levels - 1)
                {
                    var probe = new int[levels];
                    c.CopyTo(probe, 0);
                    var used = Used(probe);
                    int token = 0;
                    foreach (int t in used) { if (t != token) break; token++; } // smallest free: the set is sorted
                    if (token >= collisionSize)
                        throw new ArgumentException($"{_name}: item '{batch[j].Id}' has the leading codes [{Key(c)}] of {used.Count} items already, " +
                                                    $"and the generator's vocabulary has only {collisionSize} collision tokens");
                    probe[^1] = token;
                    full[j] = probe;
                }
                else full[j] = [.. c];
                tokens[j] = _vocabulary.Tokens(full[j]); // checks every code's range
                Used(full[j]).Add(full[j][^1]);
            }

            // Every item is valid: build the new snapshot, then commit the writer's maps.
            int n = cur.Count, added = batch.Count(d => !_indexOf.ContainsKey(d.Id));
            var ids = new string[n + added];
            var codes = new int[n + added][];
            var allTokens = new int[n + added][];
            cur.AllIds.CopyTo(ids, 0);
            cur.AllCodes.CopyTo(codes, 0);
            cur.Tokens.CopyTo(allTokens, 0);
            float[]? prior = cur.Prior is null ? null : new float[n + added];
            cur.Prior?.CopyTo(prior!, 0);
            var changed = new int[batch.Count];
            var isChanged = new bool[n + added];
            for (int j = 0, next = n; j < batch.Count; j++)
            {
                int item = _indexOf.TryGetValue(batch[j].Id, out int old) ? old : next++;
                ids[item] = batch[j].Id;
                codes[item] = full[j];
                allTokens[item] = tokens[j];
                changed[j] = item;
                isChanged[item] = true;
            }
            Array.Sort(changed, (a, b) => SidTrie.Compare(allTokens, a, b));
            var order = Merge(cur.Order.Where(i => !isChanged[i]).ToArray(), changed, allTokens);
            var snapshot = new GenerativeSnapshot(SidTrie.BuildSorted(allTokens, order), ids, codes, allTokens, prior, order);
            foreach (var (key, set) in touched) _collisionTokens[key] = set;
            foreach (int item in changed) _indexOf[ids[item]] = item;
            _current = snapshot;
            return new CatalogChange(added, batch.Count - added, 0, 0);
        }
    }

    /// <summary>Removes items by id; the rest keep their order (their positions close up). Unknown ids are counted.</summary>
    public CatalogChange Remove(IReadOnlyList<string> ids)
    {
        var batch = CatalogBatch.DistinctIds(ids);
        lock (_writeLock)
        {
            var cur = _current;
            var gone = new bool[cur.Count];
            int removed = 0;
            foreach (var id in batch)
                if (_indexOf.Remove(id, out int item)) { gone[item] = true; removed++; }
            if (removed == 0) return new CatalogChange(0, 0, 0, ids.Count);
            int n = cur.Count - removed;
            var newIndex = new int[cur.Count];
            var itemIds = new string[n];
            var codes = new int[n][];
            var tokens = new int[n][];
            float[]? prior = cur.Prior is null ? null : new float[n];
            for (int i = 0, j = 0; i < cur.Count; i++)
            {
                if (gone[i])
                {
                    newIndex[i] = -1;
                    Tokens(_collisionTokens, cur.AllCodes[i]).Remove(cur.AllCodes[i][^1]);
                    continue;
                }
                newIndex[i] = j;
                itemIds[j] = cur.AllIds[i];
                codes[j] = cur.AllCodes[i];
                tokens[j] = cur.Tokens[i];
                if (prior is not null) prior[j] = cur.Prior![i];
                _indexOf[itemIds[j]] = j;
                j++;
            }
            // Renumbering keeps item order, so the ID order (ties by item) stays sorted.
            var order = cur.Order.Where(i => !gone[i]).Select(i => newIndex[i]).ToArray();
            _current = new GenerativeSnapshot(SidTrie.BuildSorted(tokens, order), itemIds, codes, tokens, prior, order);
            return new CatalogChange(0, 0, removed, ids.Count - removed);
        }
    }

    /// <summary>Merges two lists of items, each in ID order, into one.</summary>
    private static int[] Merge(int[] a, int[] b, int[][] tokens)
    {
        var result = new int[a.Length + b.Length];
        int i = 0, j = 0, r = 0;
        while (i < a.Length && j < b.Length) result[r++] = SidTrie.Compare(tokens, a[i], b[j]) <= 0 ? a[i++] : b[j++];
        while (i < a.Length) result[r++] = a[i++];
        while (j < b.Length) result[r++] = b[j++];
        return result;
    }
}
