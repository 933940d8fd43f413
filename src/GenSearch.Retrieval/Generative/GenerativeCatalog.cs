using System.Runtime.InteropServices;
using GenSearch.Models.Generative;

namespace GenSearch.Retrieval.Generative;

/// <summary>
/// The catalog of a generative retriever as a sequence of immutable snapshots (one volatile
/// reference; writers serialised by a lock; searches read <see cref="Current"/> once).
/// <para>
/// IDs have one code per level of the vocabulary. IDs of new items: the assigner gives, for each
/// document, its codes per level. Codes for every level but the last (the collision level, as
/// <c>SemanticIds</c> builds IDs) get the smallest collision token no live item with the same
/// leading codes holds, as <c>SemanticIds</c> numbers a colliding group 0, 1, 2, ...; codes for
/// every level are taken as they are (an item that repeats another's full ID then shares its leaf).
/// A collision token the generator's vocabulary cannot write (the group already holds
/// <c>LevelSizes[^1]</c> items) is an error, raised before anything changes. A replaced item keeps
/// its position (and prior) and frees its old collision token; a removed item frees its token; new
/// items are appended with prior 0. The tokens in use are read from the trie itself (the tokens it
/// allows after the leading codes), so no per-group table is kept.
/// </para>
/// <para>
/// A change does not rebuild the catalog: a snapshot is a large immutable base (a
/// <see cref="CompactSidTrie"/>, 7 to 11 bytes an item) plus the items added, moved and removed since
/// (<see cref="GenerativeSnapshot"/>), so a change costs in proportion to those. When they pass
/// <see cref="FoldLimit"/> the next change folds them into a new base (a counting sort by level and
/// two linear passes). Figures at 10M items: bench/RESULTS.md, "catalog at scale".
/// </para>
/// </summary>
public sealed class GenerativeCatalog
{
    private readonly string _name;
    private readonly SidVocabulary _vocabulary;
    private readonly Func<IReadOnlyList<Document>, int[][]>? _assignIds;
    private readonly object _writeLock = new();
    private readonly Dictionary<string, int> _slotOf = new(StringComparer.Ordinal); // writers only
    private volatile GenerativeSnapshot _current;

    /// <summary>
    /// The smallest number of changed items a fold waits for. A change rebuilds the delta (a sort of
    /// its items), so the limit bounds a change's cost; a fold costs about a linear pass over the
    /// catalog, so it is also at least <see cref="FoldFraction"/> of the base to keep its share per change small.
    /// </summary>
    public const int MinFoldLimit = 1024;

    /// <summary>The delta may grow to this fraction of the base before a fold (1/1024: 9,766 items at 10M).</summary>
    public const double FoldFraction = 1.0 / 1024;

    /// <summary>A catalog of items whose IDs are <paramref name="itemCodes"/> (codes per level, the collision token last).</summary>
    public GenerativeCatalog(string name, SidVocabulary vocabulary, IReadOnlyList<int[]> itemCodes, string[] itemIds, float[]? itemPrior = null,
        Func<IReadOnlyList<Document>, int[][]>? assignIds = null)
    {
        if (itemCodes.Count != itemIds.Length) throw new ArgumentException($"{itemCodes.Count} IDs for {itemIds.Length} items");
        if (itemPrior is not null && itemPrior.Length != itemIds.Length) throw new ArgumentException($"{itemPrior.Length} priors for {itemIds.Length} items");
        _name = name;
        _vocabulary = vocabulary;
        _assignIds = assignIds;
        var codes = new LevelCodes(itemIds.Length, vocabulary.LevelSizes);
        for (int i = 0; i < itemIds.Length; i++)
        {
            var c = itemCodes[i];
            if (c is null || c.Length != vocabulary.Levels)
                throw new ArgumentException($"{name}: item {i} ('{itemIds[i]}') has an ID of {c?.Length ?? 0} codes; the vocabulary has {vocabulary.Levels} levels");
            for (int l = 0; l < c.Length; l++)
                if ((uint)c[l] >= (uint)vocabulary.LevelSizes[l])
                    throw new ArgumentException($"{name}: item {i} ('{itemIds[i]}') has code {c[l]} at level {l}, outside 0..{vocabulary.LevelSizes[l] - 1}");
            codes.Set(i, c);
        }
        for (int i = 0; i < itemIds.Length; i++) _slotOf[itemIds[i]] = i;
        var @base = new CatalogBase([.. itemIds], codes, itemPrior?.ToArray(), CompactSidTrie.Build(vocabulary, codes));
        _current = new GenerativeSnapshot(@base);
    }

    /// <summary>The catalog now.</summary>
    public GenerativeSnapshot Current => _current;

    /// <summary>The token vocabulary of the IDs (levels' codes, then the collision token).</summary>
    public SidVocabulary Vocabulary => _vocabulary;

    /// <summary>Changed items (added, moved, removed) past which the next change folds them into a new base.</summary>
    public int FoldLimit => FoldLimitForTests ?? Math.Max(MinFoldLimit, (int)(_current.Base.Ids.Length * FoldFraction));

    /// <summary>A fold limit for tests, which fold small catalogs often.</summary>
    internal int? FoldLimitForTests { get; set; }

    private static string Key(ReadOnlySpan<int> leading) => string.Join(',', leading.ToArray());

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
        lock (_writeLock)
        {
            var cur = _current;
            var full = CompleteIds(cur, batch, assigned);

            // Every item is valid: the new snapshot and the writer's map (which a fold renumbers), then publish.
            int baseCount = cur.Base.Ids.Length, added = 0;
            var moved = new Dictionary<int, int[]>(cur.Moved);
            var tailCodes = new List<int[]>(cur.TailCodes);
            var tailIds = new List<string>(cur.TailIds);
            var newlyDead = new List<int>();
            var changed = new int[batch.Count]; // the slot of each batch item
            for (int j = 0; j < batch.Count; j++)
            {
                if (!_slotOf.TryGetValue(batch[j].Id, out int slot))
                {
                    slot = baseCount + tailIds.Count;
                    tailIds.Add(batch[j].Id);
                    tailCodes.Add(full[j]);
                    added++;
                }
                else if (slot >= baseCount) tailCodes[slot - baseCount] = full[j];
                else
                {
                    if (!moved.ContainsKey(slot)) newlyDead.Add(cur.Base.Trie.EntryOf(slot, cur.Base.Codes.Get(slot)));
                    moved[slot] = full[j];
                }
                changed[j] = slot;
            }
            var (deltaSlots, deltaTokens) = DeltaOrder(cur, changed, changed, s => _vocabulary.Tokens(s < baseCount ? moved[s] : tailCodes[s - baseCount]));
            var next = new GenerativeSnapshot(cur.Base, [.. tailIds], [.. tailCodes], moved, cur.Removed, Union(cur.DeadEntries, newlyDead),
                deltaSlots, deltaTokens);
            for (int j = cur.TailIds.Length; j < tailIds.Count; j++) _slotOf[tailIds[j]] = baseCount + j;
            Publish(next);
            return new CatalogChange(added, batch.Count - added, 0, 0);
        }
    }

    /// <summary>The full IDs <see cref="Upsert"/> would give <paramref name="batch"/> (distinct ids) whose assigned codes are <paramref name="assigned"/>; changes nothing.</summary>
    internal int[][] CompleteIds(IReadOnlyList<Document> batch, int[][] assigned)
    {
        lock (_writeLock) return CompleteIds(_current, batch, assigned);
    }

    /// <summary>
    /// Full IDs for a batch: leading codes get the smallest collision token free at the time (the
    /// batch's earlier items and replaced items' old tokens counted). Throws before anything changes.
    /// </summary>
    private int[][] CompleteIds(GenerativeSnapshot cur, IReadOnlyList<Document> batch, int[][] assigned)
    {
        int levels = _vocabulary.Levels, collisionSize = _vocabulary.LevelSizes[^1];
        var groups = new CollisionGroups(cur.Trie, _vocabulary);
        var full = new int[batch.Count][];
        for (int j = 0; j < batch.Count; j++)
        {
            var c = assigned[j];
            if (c is null || (c.Length != levels - 1 && c.Length != levels))
                throw new ArgumentException($"{_name}: item '{batch[j].Id}': the assigner gave {c?.Length ?? 0} codes; the IDs have {levels} levels " +
                                            $"(give {levels - 1} to get a collision token, or all {levels})");
            for (int l = 0; l < c.Length; l++)
                if ((uint)c[l] >= (uint)_vocabulary.LevelSizes[l])
                    throw new ArgumentException($"{_name}: item '{batch[j].Id}': code {c[l]} at level {l} is outside 0..{_vocabulary.LevelSizes[l] - 1}");
            if (_slotOf.TryGetValue(batch[j].Id, out int slot) && cur.SlotCodes(slot) is var old) CollisionGroups.Clear(groups.Of(old), old[^1]);
            var id = new int[levels];
            c.CopyTo(id, 0);
            var used = groups.Of(id);
            if (c.Length == levels - 1)
            {
                int token = CollisionGroups.SmallestFree(used);
                if (token >= collisionSize)
                    throw new ArgumentException($"{_name}: item '{batch[j].Id}' has the leading codes [{Key(c)}] of {collisionSize} items already, " +
                                                $"and the generator's vocabulary has only {collisionSize} collision tokens");
                id[^1] = token;
            }
            CollisionGroups.Set(used, id[^1]);
            full[j] = id;
        }
        return full;
    }

    /// <summary>
    /// The collision tokens in use in each group of leading codes a batch touches, as a bit set per
    /// group: read from the trie (the tokens it allows after the leading codes) on first touch, then
    /// kept up to date by the batch. Groups are keyed by their leading codes packed into a long
    /// (a string where they do not fit). Measured: see "catalog at scale" in bench/RESULTS.md.
    /// </summary>
    private sealed class CollisionGroups(ISidIndex trie, SidVocabulary vocabulary)
    {
        private readonly Dictionary<long, ulong[]> _packed = [];
        private readonly Dictionary<string, ulong[]> _wide = new(StringComparer.Ordinal);
        private readonly int[] _buffer = new int[Math.Max(1, trie.MaxAllowed)];
        private readonly int _words = (vocabulary.LevelSizes[^1] + 63) / 64;
        private readonly bool _fits = vocabulary.LevelSizes.Take(vocabulary.Levels - 1).Sum(k => 64 - System.Numerics.BitOperations.LeadingZeroCount((ulong)k)) <= 63;

        /// <summary>The bit set of the group of <paramref name="id"/>'s leading codes (all but its last).</summary>
        public ulong[] Of(int[] id)
        {
            var leading = id.AsSpan(0, id.Length - 1);
            ulong[]? used;
            if (_fits)
            {
                long key = 0;
                for (int l = 0; l < leading.Length; l++) key = key * vocabulary.LevelSizes[l] + leading[l];
                if (_packed.TryGetValue(key, out used)) return used;
                return _packed[key] = Read(leading);
            }
            string wide = Key(leading);
            if (_wide.TryGetValue(wide, out used)) return used;
            return _wide[wide] = Read(leading);
        }

        private ulong[] Read(ReadOnlySpan<int> leading)
        {
            var used = new ulong[_words];
            int state = trie.Root, last = leading.Length;
            for (int l = 0; l < last && state >= 0; l++) state = trie.Advance(state, vocabulary.Token(l, leading[l]));
            if (state < 0) return used;
            int offset = vocabulary.Token(last, 0);
            for (int i = 0, n = trie.Allowed(state, _buffer); i < n; i++) Set(used, _buffer[i] - offset);
            return used;
        }

        public static void Set(ulong[] used, int token) => used[token >> 6] |= 1UL << (token & 63);

        public static void Clear(ulong[] used, int token) => used[token >> 6] &= ~(1UL << (token & 63));

        /// <summary>The smallest token not in use (the group's size when all are).</summary>
        public static int SmallestFree(ulong[] used)
        {
            for (int w = 0; w < used.Length; w++)
                if (used[w] != ulong.MaxValue) return (w << 6) + System.Numerics.BitOperations.TrailingZeroCount(~used[w]);
            return used.Length << 6;
        }
    }

    /// <summary>Removes items by id; the rest keep their order (their positions close up). Unknown ids are counted.</summary>
    public CatalogChange Remove(IReadOnlyList<string> ids)
    {
        var batch = CatalogBatch.DistinctIds(ids);
        lock (_writeLock)
        {
            var cur = _current;
            int baseCount = cur.Base.Ids.Length;
            var gone = new List<int>();
            var newlyDead = new List<int>();
            Dictionary<int, int[]>? moved = null;
            foreach (var id in batch)
            {
                if (!_slotOf.Remove(id, out int slot)) continue;
                gone.Add(slot);
                if (slot >= baseCount) continue; // an added item: only in the delta, which the snapshot rebuilds without it
                if ((moved ??= new Dictionary<int, int[]>(cur.Moved)).Remove(slot)) continue; // its base entry is dead already
                newlyDead.Add(cur.Base.Trie.EntryOf(slot, cur.Base.Codes.Get(slot)));
            }
            if (gone.Count == 0) return new CatalogChange(0, 0, 0, ids.Count);
            var (deltaSlots, deltaTokens) = DeltaOrder(cur, [], [.. gone], _ => throw new InvalidOperationException("nothing joins the delta on removal"));
            Publish(new GenerativeSnapshot(cur.Base, cur.TailIds, cur.TailCodes, moved ?? cur.Moved, Union(cur.Removed, gone),
                Union(cur.DeadEntries, newlyDead), deltaSlots, deltaTokens));
            return new CatalogChange(0, 0, gone.Count, ids.Count - gone.Count);
        }
    }

    /// <summary>Makes <paramref name="next"/> current, folded into a new base first when its delta has passed the limit. Under the write lock.</summary>
    private void Publish(GenerativeSnapshot next)
    {
        _current = next.DeltaSize > FoldLimit ? Fold(next) : next;
    }

    /// <summary>Folds <paramref name="s"/> into a new base: positions become slots, the writer's map follows.</summary>
    private GenerativeSnapshot Fold(GenerativeSnapshot s)
    {
        int n = s.Count, baseCount = s.Base.Ids.Length;
        var ids = new string[n];
        var codes = new LevelCodes(n, _vocabulary.LevelSizes);
        float[]? prior = s.Base.Prior is null ? null : new float[n];
        // The base in runs between removed slots, copied a block at a time; then moved items' IDs and the added items.
        int at = 0, from = 0;
        foreach (int removed in s.Removed.Append(int.MaxValue))
        {
            int end = Math.Min(removed, baseCount), length = end - from;
            if (length > 0)
            {
                Array.Copy(s.Base.Ids, from, ids, at, length);
                for (int l = 0; l < codes.Levels; l++) s.Base.Codes.Level(l).CopyTo(from, codes.Level(l), at, length);
                if (prior is not null) Array.Copy(s.Base.Prior!, from, prior, at, length);
                at += length;
            }
            if (removed >= baseCount) break;
            from = removed + 1;
        }
        foreach (var (slot, id) in s.Moved) codes.Set(slot - RemovedBefore(s.Removed, slot), id);
        for (int j = 0; j < s.TailIds.Length; j++)
        {
            int slot = baseCount + j;
            if (Array.BinarySearch(s.Removed, slot) >= 0) continue;
            ids[at] = s.TailIds[j];
            codes.Set(at, s.TailCodes[j]);
            at++; // prior 0
        }
        if (at != n) throw new InvalidOperationException($"a fold placed {at} of {n} items");
        if (s.Removed.Length > 0) // else every slot is its position already
            for (int j = s.Removed[0] - RemovedBefore(s.Removed, s.Removed[0]); j < n; j++) CollectionsMarshal.GetValueRefOrNullRef(_slotOf, ids[j]) = j;
        var @base = new CatalogBase(ids, codes, prior, CompactSidTrie.Build(_vocabulary, codes));
        return new GenerativeSnapshot(@base);
    }

    private static int RemovedBefore(int[] removed, int slot)
    {
        int at = Array.BinarySearch(removed, slot);
        return at >= 0 ? at : ~at;
    }

    /// <summary>
    /// The delta's slots in ID order (ties by slot) after a change: the current order less the slots
    /// that leave it (changed or removed), merged with the changed slots (sorted here, tokens from
    /// <paramref name="tokensOf"/>). O(delta + changed log changed): no sort of the delta.
    /// </summary>
    private static (int[] Slots, int[][] Tokens) DeltaOrder(GenerativeSnapshot cur, int[] changed, int[] leaving, Func<int, int[]> tokensOf)
    {
        var leaves = leaving.ToHashSet();
        var joining = changed.Select(s => (Slot: s, Tokens: tokensOf(s))).ToArray();
        Array.Sort(joining, (a, b) => Compare(a.Tokens, a.Slot, b.Tokens, b.Slot));
        var slots = new List<int>(cur.DeltaSlots.Length + joining.Length);
        var tokens = new List<int[]>(slots.Capacity);
        int j = 0;
        for (int i = 0; i < cur.DeltaSlots.Length; i++)
        {
            int slot = cur.DeltaSlots[i];
            if (leaves.Contains(slot)) continue;
            for (; j < joining.Length && Compare(joining[j].Tokens, joining[j].Slot, cur.DeltaTokens[i], slot) < 0; j++)
            {
                slots.Add(joining[j].Slot);
                tokens.Add(joining[j].Tokens);
            }
            slots.Add(slot);
            tokens.Add(cur.DeltaTokens[i]);
        }
        for (; j < joining.Length; j++)
        {
            slots.Add(joining[j].Slot);
            tokens.Add(joining[j].Tokens);
        }
        return ([.. slots], [.. tokens]);
    }

    private static int Compare(int[] a, int slotA, int[] b, int slotB)
    {
        for (int l = 0; l < a.Length; l++) if (a[l] != b[l]) return a[l].CompareTo(b[l]);
        return slotA.CompareTo(slotB);
    }

    /// <summary>The sorted union of a sorted array and a few more values (distinct from it).</summary>
    private static int[] Union(int[] sorted, List<int> more)
    {
        if (more.Count == 0) return sorted;
        if (more.Contains(-1)) throw new InvalidOperationException("an item of the catalog's base is missing from its trie");
        var result = new int[sorted.Length + more.Count];
        sorted.CopyTo(result, 0);
        more.CopyTo(result, sorted.Length);
        Array.Sort(result);
        return result;
    }
}
