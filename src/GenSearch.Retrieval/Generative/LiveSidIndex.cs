using System.Buffers;

namespace GenSearch.Retrieval.Generative;

/// <summary>
/// The IDs of a live catalog as one <see cref="ISidIndex"/>: a large immutable
/// <see cref="CompactSidTrie"/> (the base), a small <see cref="SidTrie"/> over the items added or
/// moved since (the delta), and the base entries no longer live (dead: removed or moved). A change
/// rebuilds only the delta and the dead list, so its cost follows the changes since the base was
/// built, not the catalog; <see cref="GenerativeCatalog"/> folds them into a new base past a limit.
/// <para>
/// Items are catalog positions: base item p (a base slot) and delta item i (slot
/// <c>deltaSlots[i]</c>) are reported as slot minus the removed slots before it, so positions close
/// up over removed items as the catalog's do. States: a base state (a prefix the base holds, live or
/// shadowed by the delta) keeps its number, and finds its delta twin (the same prefix in the delta)
/// in a table; a prefix only the delta holds is <c>base states + delta state</c>.
/// </para>
/// </summary>
public sealed class LiveSidIndex : ISidIndex
{
    private readonly CompactSidTrie _base;
    private readonly SidTrie _delta;
    private readonly int[] _deltaSlots;        // [delta items] slot of each delta item
    private readonly int[] _deadEntries;       // sorted base entries that no longer count
    private readonly int[] _removedSlots;      // sorted slots of removed items (base and delta): positions close up over them
    private readonly Dictionary<int, int> _twin; // base state -> delta state of the same prefix
    private readonly HashSet<int> _deadStates = []; // base states every entry under which is dead
    private readonly Dictionary<int, List<int>> _deadChildren = []; // base state -> tokens to its dead children, ascending
    private readonly int _deltaOffset;         // states >= this are delta-only

    /// <summary>
    /// The union of <paramref name="baseTrie"/> less <paramref name="deadEntries"/> (sorted, distinct)
    /// and <paramref name="delta"/>, whose item i is slot <paramref name="deltaSlots"/>[i];
    /// <paramref name="removedSlots"/> (sorted, distinct) are the slots items are numbered around.
    /// </summary>
    public LiveSidIndex(CompactSidTrie baseTrie, int[] deadEntries, SidTrie delta, int[] deltaSlots, int[] removedSlots)
    {
        if (deltaSlots.Length != delta.ItemCount) throw new ArgumentException($"{deltaSlots.Length} slots for {delta.ItemCount} delta items");
        if (delta.ItemCount > 0 && delta.LongestId != baseTrie.Levels && baseTrie.ItemCount > 0)
            throw new ArgumentException($"delta IDs of length {delta.LongestId} over a base of {baseTrie.Levels} levels");
        _base = baseTrie; _delta = delta; _deltaSlots = deltaSlots; _deadEntries = deadEntries; _removedSlots = removedSlots;
        _deltaOffset = baseTrie.StateCount;
        _twin = [];
        if (delta.ItemCount > 0) Pair(baseTrie.Root, delta.Root);
        FindDeadStates();
        ItemCount = baseTrie.ItemCount - deadEntries.Length + delta.ItemCount;
        MaxAllowed = baseTrie.MaxAllowed + delta.MaxAllowed;
        LongestId = Math.Max(baseTrie.ItemCount > deadEntries.Length ? baseTrie.Levels : 0, delta.LongestId);
    }

    /// <summary>Records the delta twin of every base prefix the delta holds too (depth-first from a pair).</summary>
    private void Pair(int baseState, int deltaState)
    {
        _twin[baseState] = deltaState;
        foreach (int token in _delta.Allowed(deltaState))
        {
            int b = _base.Advance(baseState, token);
            if (b >= 0) Pair(b, _delta.Advance(deltaState, token));
        }
    }

    /// <summary>
    /// Marks every base state all of whose entries are dead, climbing from each dead entry's leaf
    /// while the node is all dead, so a search asks a set instead of counting (O(dead x depth) here).
    /// </summary>
    private void FindDeadStates()
    {
        foreach (int entry in _deadEntries)
        {
            int node = _base.LeafOf(entry);
            while (node != _base.Root && !_deadStates.Contains(node))
            {
                var (lo, hi) = _base.EntryRange(node);
                if (DeadBetween(lo, hi) < hi - lo) break;
                _deadStates.Add(node);
                int parent = _base.Parent(node);
                if (!_deadChildren.TryGetValue(parent, out var tokens)) _deadChildren[parent] = tokens = [];
                tokens.Add(_base.TokenOf(node));
                node = parent;
            }
        }
        foreach (var tokens in _deadChildren.Values) tokens.Sort();
    }

    /// <summary>The immutable base.</summary>
    public CompactSidTrie Base => _base;

    /// <summary>The trie of items added or moved since the base was built.</summary>
    public SidTrie Delta => _delta;

    /// <summary>Base entries that no longer count (removed or moved items).</summary>
    public int DeadCount => _deadEntries.Length;

    /// <inheritdoc/>
    public int ItemCount { get; }

    /// <inheritdoc/>
    public int LongestId { get; }

    /// <inheritdoc/>
    public int Root => 0;

    /// <inheritdoc/>
    public int MaxAllowed { get; }

    /// <summary>
    /// Base, delta and the lists, plus about 40 bytes per entry of the twin and dead-state tables (a
    /// hash entry and its share of the buckets); the removed-slot list is counted here as search reads it.
    /// </summary>
    public long Bytes => _base.Bytes + _delta.Bytes + 4L * (_deltaSlots.Length + _deadEntries.Length + _removedSlots.Length)
                         + 40L * (_twin.Count + _deadStates.Count + _deadChildren.Count);

    /// <summary>Whether base state <paramref name="state"/> has an entry that still counts.</summary>
    private bool LiveInBase(int state) => _deadStates.Count == 0 || !_deadStates.Contains(state);

    /// <summary>Dead entries in [lo, hi).</summary>
    private int DeadBetween(int lo, int hi)
    {
        if (_deadEntries.Length == 0 || lo >= hi) return 0;
        return LowerBound(_deadEntries, hi) - LowerBound(_deadEntries, lo);
    }

    /// <summary>The first index of <paramref name="sorted"/> whose value is at least <paramref name="value"/> (its length when none is).</summary>
    internal static int LowerBound(int[] sorted, int value)
    {
        int lo = 0, hi = sorted.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (sorted[mid] < value) lo = mid + 1; else hi = mid;
        }
        return lo;
    }

    /// <inheritdoc/>
    public int Allowed(int state, Span<int> tokens)
    {
        if (state >= _deltaOffset) return _delta.Allowed(state - _deltaOffset, tokens);
        bool hasTwin = _twin.TryGetValue(state, out int twin);
        // Base tokens, less those whose subtree is all dead (checked only where something under state died).
        int written = _base.Allowed(state, tokens);
        if (_deadChildren.Count > 0 && _deadChildren.TryGetValue(state, out var dead))
        {
            int kept = 0, d = 0;
            for (int i = 0; i < written; i++)
            {
                while (d < dead.Count && dead[d] < tokens[i]) d++;
                if (d < dead.Count && dead[d] == tokens[i]) continue;
                tokens[kept++] = tokens[i];
            }
            written = kept;
        }
        if (!hasTwin) return written;
        // Merge the delta's tokens in (both ascending; a token in both appears once).
        var extra = _delta.Allowed(twin);
        if (extra.Length == 0) return written;
        int[]? rented = null;
        Span<int> mine = written <= 256 ? stackalloc int[256] : (rented = ArrayPool<int>.Shared.Rent(written));
        tokens[..written].CopyTo(mine);
        int a = 0, b = 0, r = 0;
        while (a < written || b < extra.Length)
        {
            int next = b == extra.Length || (a < written && mine[a] <= extra[b]) ? mine[a] : extra[b];
            if (a < written && mine[a] == next) a++;
            if (b < extra.Length && extra[b] == next) b++;
            tokens[r++] = next;
        }
        if (rented is not null) ArrayPool<int>.Shared.Return(rented);
        return r;
    }

    /// <inheritdoc/>
    public int Advance(int state, int token)
    {
        if (state >= _deltaOffset)
        {
            int d = _delta.Advance(state - _deltaOffset, token);
            return d < 0 ? -1 : _deltaOffset + d;
        }
        int child = _base.Advance(state, token);
        if (child >= 0 && (_twin.ContainsKey(child) || LiveInBase(child))) return child;
        if (child < 0 && _twin.TryGetValue(state, out int twin))
        {
            int d = _delta.Advance(twin, token);
            if (d >= 0) return _deltaOffset + d; // a prefix only the delta holds (else the twin table would name child)
        }
        return -1;
    }

    /// <inheritdoc/>
    public bool IsComplete(int state)
    {
        if (state >= _deltaOffset) return _delta.IsComplete(state - _deltaOffset);
        if (_base.IsComplete(state) && LiveInBase(state)) return true;
        return _twin.TryGetValue(state, out int twin) && _delta.IsComplete(twin);
    }

    /// <inheritdoc/>
    public void ItemsUnder(int state, List<int> items)
    {
        int start = items.Count;
        SlotsUnder(state, items);
        if (_removedSlots.Length > 0)
            for (int k = start; k < items.Count; k++) items[k] -= LowerBound(_removedSlots, items[k]);
    }

    /// <summary>
    /// Appends the slots (not positions: no removed slot is counted off) of the live items at or below
    /// <paramref name="state"/>, for a reader whose per-item data is kept by slot, which a change does
    /// not renumber (<see cref="UnifiedRetriever"/>'s latents).
    /// </summary>
    internal void SlotsUnder(int state, List<int> slots)
    {
        if (state >= _deltaOffset) { AddDeltaUnder(state - _deltaOffset, slots); return; }
        if (_base.ItemCount > 0 && LiveInBase(state))
        {
            var (lo, hi) = _base.EntryRange(state);
            int dead = LowerBound(_deadEntries, lo);
            for (int e = lo; e < hi; e++)
            {
                if (dead < _deadEntries.Length && _deadEntries[dead] == e) { dead++; continue; }
                slots.Add(_base.ItemAt(e));
            }
        }
        if (_twin.TryGetValue(state, out int twin)) AddDeltaUnder(twin, slots);
    }

    /// <summary>
    /// The base entries under <paramref name="state"/>, dead ones included ([0, 0) for a prefix only the delta
    /// holds, or one all of whose base entries are dead): a reader with a per-entry table of the base takes the
    /// range at once and skips <see cref="DeadEntries"/> itself; the delta's items come from <see cref="DeltaSlotsUnder"/>.
    /// </summary>
    internal (int Lo, int Hi) BaseEntriesUnder(int state)
        => state < _deltaOffset && _base.ItemCount > 0 && LiveInBase(state) ? _base.EntryRange(state) : (0, 0);

    /// <summary>Sorted base entries that no longer count.</summary>
    internal ReadOnlySpan<int> DeadEntries => _deadEntries;

    /// <summary>Appends the slots of the delta's items under <paramref name="state"/> (a base state's through its twin).</summary>
    internal void DeltaSlotsUnder(int state, List<int> slots)
    {
        if (state >= _deltaOffset) AddDeltaUnder(state - _deltaOffset, slots);
        else if (_twin.TryGetValue(state, out int twin)) AddDeltaUnder(twin, slots);
    }

    /// <summary>Appends the slots of the delta's items under delta state <paramref name="state"/>.</summary>
    private void AddDeltaUnder(int state, List<int> items)
    {
        int from = items.Count;
        _delta.ItemsUnder(state, items);
        for (int k = from; k < items.Count; k++) items[k] = _deltaSlots[items[k]];
    }

    /// <inheritdoc/>
    public int[] ItemsAt(int state)
    {
        var slots = new List<int>();
        if (state >= _deltaOffset)
            foreach (int i in _delta.ItemsAt(state - _deltaOffset)) slots.Add(_deltaSlots[i]);
        else
        {
            if (_base.IsComplete(state))
            {
                var (lo, hi) = _base.EntryRange(state);
                int dead = LowerBound(_deadEntries, lo);
                for (int e = lo; e < hi; e++)
                {
                    while (dead < _deadEntries.Length && _deadEntries[dead] < e) dead++;
                    if (dead < _deadEntries.Length && _deadEntries[dead] == e) continue;
                    slots.Add(_base.ItemAt(e));
                }
            }
            if (_twin.TryGetValue(state, out int twin))
                foreach (int i in _delta.ItemsAt(twin)) slots.Add(_deltaSlots[i]);
        }
        var items = new int[slots.Count];
        for (int i = 0; i < items.Length; i++) items[i] = slots[i] - LowerBound(_removedSlots, slots[i]);
        Array.Sort(items);
        return items;
    }
}
