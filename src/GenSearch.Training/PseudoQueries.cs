using GenSearch.Tensors;
using GenSearch.Text;

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

/// <summary>
/// The query side of training pairs as subword rows ([cls] ... [sep]): judged queries are tokenized
/// once; an indexing pair's title is cut anew (<see cref="PseudoQueries.Cut"/>) each time it is used,
/// or used whole when no cut options are given.
/// </summary>
public sealed class PairQueryRows
{
    private readonly IReadOnlyList<TrainingPair> _pairs;
    private readonly WordPieceTokenizer _tokenizer;
    private readonly int _maxTokens;
    private readonly PseudoQueryOptions? _cuts;
    private readonly int[]?[] _fixed;

    /// <summary>Rows for <paramref name="pairs"/>, cut to <paramref name="maxTokens"/> subwords.</summary>
    public PairQueryRows(IReadOnlyList<TrainingPair> pairs, WordPieceTokenizer tokenizer, int maxTokens, PseudoQueryOptions? cuts)
    {
        _pairs = pairs; _tokenizer = tokenizer; _maxTokens = maxTokens; _cuts = cuts;
        _fixed = pairs.Select(p => p.QueryIndex >= 0 || cuts is null ? tokenizer.EncodeWithSpecials(p.QueryText, maxTokens) : null).ToArray();
    }

    /// <summary>The row of pair <paramref name="pair"/>; a cut draws from <paramref name="draw"/>.</summary>
    public int[] Row(int pair, Rng draw) =>
        _fixed[pair] ?? _tokenizer.EncodeWithSpecials(PseudoQueries.Cut(_pairs[pair].QueryText, draw, _cuts!), _maxTokens);

    /// <summary>
    /// The generator of one batch's random choices (title cuts, negative draws): fixed by the seed,
    /// the epoch and the batch's first example, so choices differ between epochs and come out the
    /// same when a killed run resumes.
    /// </summary>
    public static Rng BatchGenerator(ulong seed, int epoch, int[] batch) =>
        new(seed ^ (ulong)(epoch + 1) * 0xD1B54A32D192ED03UL ^ (ulong)batch[0] * 0x9E3779B97F4A7C15UL);
}
