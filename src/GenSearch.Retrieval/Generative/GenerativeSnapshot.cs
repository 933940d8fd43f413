namespace GenSearch.Retrieval.Generative;

/// <summary>
/// One immutable state of a <see cref="GenerativeCatalog"/>: its items (position i is item i, in
/// catalog order), their IDs and the index beam search decodes against.
/// <para>
/// Inside, items live in slots: the base (slots 0..B-1, IDs packed by level under a
/// <see cref="CompactSidTrie"/>) and the items added since (slots B..). A replaced base item keeps its
/// slot and its new ID is recorded as moved; a removed item's slot is listed as removed, and
/// positions skip removed slots, so they close up as if the arrays had been rebuilt. Everything
/// but the base is small (bounded by <see cref="GenerativeCatalog"/>'s fold limit) and copied per change.
/// </para>
/// </summary>
public sealed class GenerativeSnapshot
{
    internal GenerativeSnapshot(CatalogBase @base, string[] tailIds, int[][] tailCodes, Dictionary<int, int[]> moved, int[] removed,
        int[] deadEntries, int[] deltaSlots, int[][] deltaTokens)
    {
        Base = @base; TailIds = tailIds; TailCodes = tailCodes; Moved = moved; Removed = removed; DeadEntries = deadEntries;
        DeltaSlots = deltaSlots; DeltaTokens = deltaTokens;
        Count = @base.Ids.Length + tailIds.Length - removed.Length;
        // The delta trie: its items are the delta slots in ID order (ties by slot), so no sort is needed.
        Trie = new LiveSidIndex(@base.Trie, deadEntries, SidTrie.BuildSorted(deltaTokens, Enumerable.Range(0, deltaSlots.Length).ToArray()), deltaSlots, removed);
        ItemIds = new PositionView<string>(this, s => s < Base.Ids.Length ? Base.Ids[s] : TailIds[s - Base.Ids.Length]);
        if (@base.Prior is { } prior) Prior = new PositionView<float>(this, s => s < prior.Length ? prior[s] : 0f);
    }

    /// <summary>A snapshot that is all base.</summary>
    internal GenerativeSnapshot(CatalogBase @base) : this(@base, [], [], [], [], [], [], []) { }

    internal CatalogBase Base { get; }
    internal string[] TailIds { get; }
    internal int[][] TailCodes { get; }
    internal Dictionary<int, int[]> Moved { get; }
    internal int[] Removed { get; }
    internal int[] DeadEntries { get; }
    /// <summary>Slots of the delta's items (moved base items and added items not removed), in ID order, ties by slot.</summary>
    internal int[] DeltaSlots { get; }
    /// <summary>Their IDs as vocabulary tokens.</summary>
    internal int[][] DeltaTokens { get; }

    private Dictionary<string, int>? _tailSlotOf;

    /// <summary>
    /// The item number of corpus id <paramref name="id"/>, or -1. The base's id map is built once per
    /// base (on first use; a fold makes a new base) and each snapshot adds a map of its tail only, so
    /// a catalog changing under search load does not rebuild a map of every id per change (it did:
    /// a third of the server's CPU with 100 items a second added and removed and every hit's ID asked).
    /// </summary>
    public int IndexOf(string id)
    {
        int slot = Base.SlotOf(id);
        if (slot < 0 || IsRemoved(slot))
        {
            var tail = _tailSlotOf;
            if (tail is null)
            {
                tail = new Dictionary<string, int>(TailIds.Length, StringComparer.Ordinal);
                for (int t = 0; t < TailIds.Length; t++)
                    if (!IsRemoved(Base.Ids.Length + t)) tail[TailIds[t]] = Base.Ids.Length + t;
                _tailSlotOf = tail; // two threads may both build it: the same map, one wins
            }
            if (!tail.TryGetValue(id, out slot)) return -1;
        }
        return slot - LiveSidIndex.LowerBound(Removed, slot); // positions close up over removed slots
    }

    private bool IsRemoved(int slot) => Array.BinarySearch(Removed, slot) >= 0;

    /// <summary>The index of the items' IDs (vocabulary tokens); its item numbers are positions in <see cref="ItemIds"/>.</summary>
    public LiveSidIndex Trie { get; }
    /// <summary>Corpus id of each item.</summary>
    public IReadOnlyList<string> ItemIds { get; }
    /// <summary>Items.</summary>
    public int Count { get; }
    /// <summary>Per-item prior used to order items that share an ID (null: catalog order only); added items have 0.</summary>
    public IReadOnlyList<float>? Prior { get; }
    /// <summary>The ID of corpus id <paramref name="id"/> as codes per level, the collision token last; null when the snapshot does not hold it.</summary>
    public int[]? SidOf(string id) => IndexOf(id) is var item and >= 0 ? Codes(item).ToArray() : null;

    /// <summary>Item <paramref name="item"/>'s ID as codes per level, the collision token last.</summary>
    public ReadOnlySpan<int> Codes(int item) => SlotCodes(Slot(item));

    /// <summary>Items changed since the base was built (added, moved and removed): what a change costs in proportion to.</summary>
    public int DeltaSize => TailIds.Length + Moved.Count + Removed.Length;

    internal int[] SlotCodes(int slot)
        => slot >= Base.Ids.Length ? TailCodes[slot - Base.Ids.Length] : Moved.TryGetValue(slot, out var codes) ? codes : Base.Codes.Get(slot);

    internal string SlotId(int slot) => slot < Base.Ids.Length ? Base.Ids[slot] : TailIds[slot - Base.Ids.Length];

    /// <summary>The slot of position <paramref name="item"/>: the k-th removed slot is passed while it lies at or before item + k.</summary>
    internal int Slot(int item)
    {
        if ((uint)item >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(item), $"item {item} of {Count}");
        int lo = 0, hi = Removed.Length;
        while (lo < hi)
        {
            int k = (lo + hi) >>> 1;
            if (Removed[k] <= item + k) lo = k + 1; else hi = k;
        }
        return item + lo;
    }

    /// <summary>Slots in position order (removed ones skipped).</summary>
    internal IEnumerable<int> LiveSlots()
    {
        int r = 0, slots = Base.Ids.Length + TailIds.Length;
        for (int s = 0; s < slots; s++)
        {
            if (r < Removed.Length && Removed[r] == s) { r++; continue; }
            yield return s;
        }
    }

    private sealed class PositionView<T>(GenerativeSnapshot snapshot, Func<int, T> atSlot) : IReadOnlyList<T>
    {
        public T this[int index] => atSlot(snapshot.Slot(index));
        public int Count => snapshot.Count;
        public IEnumerator<T> GetEnumerator() { foreach (int s in snapshot.LiveSlots()) yield return atSlot(s); }
        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}

/// <summary>The immutable base of a catalog: ids, IDs packed by level, priors and their compact trie (item i is slot i).</summary>
internal sealed record CatalogBase(string[] Ids, LevelCodes Codes, float[]? Prior, CompactSidTrie Trie)
{
    // Lazy: the searches that meet a new base wait for one build of the map instead of each making its
    // own (a map of every id: about 5 ms at 55k items, seconds at 10M).
    private readonly Lazy<Dictionary<string, int>> _slotOf = new(() =>
    {
        var map = new Dictionary<string, int>(Ids.Length, StringComparer.Ordinal);
        for (int i = 0; i < Ids.Length; i++) map[Ids[i]] = i;
        return map;
    });

    /// <summary>The slot of base id <paramref name="id"/> (live or not), or -1; the map is built on first use.</summary>
    public int SlotOf(string id) => _slotOf.Value.GetValueOrDefault(id, -1);

    /// <summary>Builds the id map now (a serving retriever's writer does, after a change, outside the catalog's lock), so that no search waits for it.</summary>
    public void BuildIdMap() => _ = _slotOf.Value;
}
