using GenSearch.Tensors;

namespace GenSearch.Training;

/// <summary>Settings of <see cref="PseudoQueries"/>.</summary>
public sealed record PseudoQueryOptions
{
    /// <summary>Longest pseudo-query, in words (shoppers' queries are short: homedepot's average three words).</summary>
    public int MaxWords { get; init; } = 6;
    /// <summary>Share of pseudo-queries that are the whole title.</summary>
    public float WholeTitleShare { get; init; } = 0.2f;
    /// <summary>Share of the cut ones that are one contiguous run of words; the others pick words from anywhere in order.</summary>
    public float ContiguousShare { get; init; } = 0.5f;
}

/// <summary>
/// Query-like texts cut from an item's title, for indexing pairs (title -> item). Real queries are a
/// few of a title's words ("36 in. vanity" for "Glacier Bay 36 in. Vanity in White with ..."), so
/// training only on whole titles teaches the towers to match long texts; random cuts, drawn anew
/// every time a pair is used, teach them to match the few words a shopper types (the independent
/// cropping of Contriever, at word level). Whole titles are kept for a share of pairs.
/// </summary>
public static class PseudoQueries
{
    /// <summary>
    /// A pseudo-query from <paramref name="title"/>: the whole title, a contiguous run of 1 to
    /// MaxWords words, or that many words taken from anywhere in the title in their order.
    /// Deterministic given the generator's state.
    /// </summary>
    public static string Cut(string title, Rng rng, PseudoQueryOptions options)
    {
        var words = title.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // The draws happen whatever the title's length, so one short title does not shift the
        // generator for every pair after it.
        float whole = rng.NextFloat(), contiguous = rng.NextFloat();
        int length = 1 + rng.NextInt(Math.Max(1, Math.Min(options.MaxWords, words.Length)));
        if (words.Length <= 1 || whole < options.WholeTitleShare || length >= words.Length) return title;
        if (contiguous < options.ContiguousShare)
        {
            int start = rng.NextInt(words.Length - length + 1);
            return string.Join(' ', words, start, length);
        }
        // An ordered random subset: a partial Fisher-Yates shuffle of positions, then sorted.
        var positions = Enumerable.Range(0, words.Length).ToArray();
        for (int i = 0; i < length; i++)
        {
            int j = i + rng.NextInt(words.Length - i);
            (positions[i], positions[j]) = (positions[j], positions[i]);
        }
        Array.Sort(positions, 0, length);
        return string.Join(' ', positions.Take(length).Select(p => words[p]));
    }
}
