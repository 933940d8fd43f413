namespace GenSearch.Retrieval.Generative;

/// <summary>
/// What constrained decoding needs from a set of valid sequences: a start state, the tokens allowed
/// after a state, and the state after a token. The beam search sees only this, never a trie.
/// </summary>
public interface IPrefixConstraint
{
    /// <summary>The state of the empty prefix.</summary>
    int Root { get; }

    /// <summary>The most tokens <see cref="Allowed"/> writes for any state (the size its buffer needs).</summary>
    int MaxAllowed { get; }

    /// <summary>
    /// Writes the tokens that extend the prefix of <paramref name="state"/> towards a valid sequence,
    /// ascending and distinct, to <paramref name="tokens"/> (at least <see cref="MaxAllowed"/> long)
    /// and returns how many. A buffer rather than a span of the constraint's own memory: a compact
    /// trie stores codes, not tokens, and a layered one merges its layers.
    /// </summary>
    int Allowed(int state, Span<int> tokens);

    /// <summary>The state after appending <paramref name="token"/>, or -1 when that leaves the valid set.</summary>
    int Advance(int state, int token);

    /// <summary>Whether the prefix of <paramref name="state"/> is itself a complete sequence.</summary>
    bool IsComplete(int state);
}

/// <summary>
/// The semantic IDs of a catalog as generative retrieval decodes against them: a prefix constraint
/// whose complete states name the items whose ID ends there. <see cref="SidTrie"/> (any IDs),
/// <see cref="CompactSidTrie"/> (fixed-depth IDs, 7 to 11 bytes an item) and <see cref="LiveSidIndex"/>
/// (a compact base plus the changes since) implement it.
/// </summary>
public interface ISidIndex : IPrefixConstraint
{
    /// <summary>Number of items indexed.</summary>
    int ItemCount { get; }

    /// <summary>Length of the longest ID.</summary>
    int LongestId { get; }

    /// <summary>Bytes of the structure (what serving the IDs costs), item names not included.</summary>
    long Bytes { get; }

    /// <summary>Items whose ID ends exactly at <paramref name="state"/>, ascending.</summary>
    int[] ItemsAt(int state);

    /// <summary>
    /// Appends to <paramref name="items"/> every item whose ID starts with the prefix of
    /// <paramref name="state"/> (ends at it or below), in no set order, allocating nothing: what
    /// <see cref="PrefixConstraints.ItemsUnderByWalking"/> finds, read off the index's own layout.
    /// </summary>
    void ItemsUnder(int state, List<int> items);
}

/// <summary>Helpers over any <see cref="IPrefixConstraint"/>.</summary>
public static class PrefixConstraints
{
    /// <summary>The state reached by <paramref name="id"/>, or -1 when no valid sequence starts with it.</summary>
    public static int Find(this IPrefixConstraint constraint, ReadOnlySpan<int> id)
    {
        int state = constraint.Root;
        foreach (int t in id)
        {
            state = constraint.Advance(state, t);
            if (state < 0) return -1;
        }
        return state;
    }

    /// <summary>
    /// The slow twin of <see cref="ISidIndex.ItemsUnder"/>: the items at <paramref name="state"/> and at
    /// every state below it, found by walking the allowed tokens.
    /// </summary>
    public static void ItemsUnderByWalking(this ISidIndex index, int state, List<int> items)
    {
        items.AddRange(index.ItemsAt(state));
        foreach (int token in index.AllowedTokens(state)) index.ItemsUnderByWalking(index.Advance(state, token), items);
    }

    /// <summary>The tokens allowed after <paramref name="state"/>, as a new array (tests and slow paths).</summary>
    public static int[] AllowedTokens(this IPrefixConstraint constraint, int state)
    {
        var buffer = new int[constraint.MaxAllowed];
        return buffer.AsSpan(0, constraint.Allowed(state, buffer)).ToArray();
    }
}
