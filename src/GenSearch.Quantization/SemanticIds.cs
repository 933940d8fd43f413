using System.Globalization;
using System.Text;
using GenSearch.Tensors.IO;

namespace GenSearch.Quantization;

/// <summary>
/// The Hourglass paper's mitigations for a concentrated middle level of residual IDs (Kuai et al. 2024:
/// data sparsity and long tails make a few intermediate tokens take most items).
/// </summary>
public enum HourglassMitigation
{
    /// <summary>Keep every token.</summary>
    None,
    /// <summary>Remove the level from every ID (the paper's heuristic of dropping the concentrated layer).</summary>
    RemoveLevel,
    /// <summary>Drop the level's over-concentrated tokens from the IDs that carry them: IDs become variable-length.</summary>
    DropTopTokens,
    /// <summary>Replace the level's over-concentrated tokens by one shared "merged" token (code K), keeping IDs fixed-length.</summary>
    MergeTopTokens,
}

/// <summary>How codes become semantic IDs: mitigation and disambiguation, with defaults.</summary>
public sealed record SemanticIdOptions
{
    /// <summary>Hourglass mitigation. Default none.</summary>
    public HourglassMitigation Mitigation { get; init; } = HourglassMitigation.None;

    /// <summary>Level the mitigation applies to; -1 picks the level after the first with the largest top-1% share. Default -1.</summary>
    public int MitigationLevel { get; init; } = -1;

    /// <summary>Over-concentrated tokens: the <c>TopTokens</c> most frequent; when 0, every token holding more than
    /// <see cref="ConcentrationFactor"/> times a uniform share (items / K). Default 0.</summary>
    public int TopTokens { get; init; }

    /// <summary>See <see cref="TopTokens"/>. Default 4.</summary>
    public double ConcentrationFactor { get; init; } = 4.0;

    /// <summary>
    /// True (default, as TIGER): every ID ends with a disambiguating token, 0 for an item alone on its ID and
    /// 0, 1, 2, ... for items sharing one, so all IDs have the same length. False: only colliding items get it.
    /// </summary>
    public bool AlwaysAppendSuffix { get; init; } = true;
}

/// <summary>Items that share a full ID before disambiguation.</summary>
/// <param name="Items">Items tokenized.</param>
/// <param name="DistinctIds">Distinct IDs before the disambiguating token.</param>
/// <param name="CollidingGroups">IDs shared by two or more items.</param>
/// <param name="CollidingItems">Items on a shared ID.</param>
/// <param name="LargestGroup">Most items on one ID (1 when there is no collision).</param>
public sealed record CollisionSummary(int Items, int DistinctIds, int CollidingGroups, int CollidingItems, int LargestGroup)
{
    /// <summary>1 - distinct IDs / items: the share of items that need the disambiguating token to be told apart.</summary>
    public double CollisionRate => Items == 0 ? 0 : 1.0 - (double)DistinctIds / Items;
}

/// <summary>
/// Semantic IDs of a collection: per item, <see cref="Levels"/> level tokens then one disambiguating token,
/// stored row-major in <see cref="Tokens"/> (<see cref="Width"/> per item); -1 marks a token that is absent
/// (a removed or dropped level, or no suffix). Level tokens are per-level codes; <see cref="GlobalTokens"/>
/// maps them into one vocabulary with per-position offsets, so variable-length IDs stay unambiguous.
/// </summary>
public sealed class SemanticIds
{
    private SemanticIds(int[] tokens, int count, int levels, int[] sizes, CollisionSummary collisions, IReadOnlyList<int> mitigated)
    {
        Tokens = tokens; Count = count; Levels = levels; TokenSizes = sizes; Collisions = collisions; MitigatedTokens = mitigated;
    }

    /// <summary>Items.</summary>
    public int Count { get; }
    /// <summary>Level tokens per item (the quantizer's levels).</summary>
    public int Levels { get; }
    /// <summary>Tokens per row: <see cref="Levels"/> + 1 (the disambiguating token).</summary>
    public int Width => Levels + 1;
    /// <summary>Row-major tokens, -1 when absent.</summary>
    public int[] Tokens { get; }
    /// <summary>Vocabulary size of each position: the level's codebook (+1 when a merged token exists), then the suffix range.</summary>
    public IReadOnlyList<int> TokenSizes { get; }
    /// <summary>Collisions on the level tokens, before disambiguation.</summary>
    public CollisionSummary Collisions { get; }
    /// <summary>The level tokens the Hourglass mitigation dropped or merged (empty when none).</summary>
    public IReadOnlyList<int> MitigatedTokens { get; }

    /// <summary>Item <paramref name="i"/>'s row, -1 for absent tokens.</summary>
    public ReadOnlySpan<int> Row(int i) => Tokens.AsSpan(i * Width, Width);

    /// <summary>Item <paramref name="i"/>'s ID in one vocabulary: position p's token plus the sizes of positions before p; absent tokens skipped.</summary>
    public int[] GlobalTokens(int i)
    {
        var result = new List<int>(Width);
        int offset = 0;
        for (int p = 0; p < Width; p++)
        {
            int t = Tokens[i * Width + p];
            if (t >= 0) result.Add(offset + t);
            offset += TokenSizes[p];
        }
        return [.. result];
    }

    /// <summary>
    /// Builds IDs from quantizer codes (<paramref name="count"/> x <paramref name="codebookSizes"/>.Count, row-major):
    /// applies the Hourglass mitigation, then gives items that share an ID the disambiguating tokens 0, 1, 2, ...
    /// in item order.
    /// </summary>
    public static SemanticIds Build(ReadOnlySpan<int> codes, int count, IReadOnlyList<int> codebookSizes, SemanticIdOptions? options = null)
    {
        options ??= new SemanticIdOptions();
        int levels = codebookSizes.Count, width = levels + 1;
        if (codes.Length < (long)count * levels) throw new ArgumentException($"codes hold {codes.Length} ints, fewer than {count} x {levels}");
        var tokens = new int[(long)count * width];
        var sizes = new int[width];
        for (int l = 0; l < levels; l++) sizes[l] = codebookSizes[l];
        for (int i = 0; i < count; i++)
        {
            for (int l = 0; l < levels; l++)
            {
                int c = codes[i * levels + l];
                if ((uint)c >= (uint)codebookSizes[l]) throw new ArgumentOutOfRangeException(nameof(codes), $"item {i} level {l}: code {c} outside 0..{codebookSizes[l] - 1}");
                tokens[i * width + l] = c;
            }
            tokens[i * width + levels] = -1;
        }
        var mitigated = Mitigate(tokens, count, width, sizes, options);

        // Disambiguate: sort by the level tokens; runs of equal rows are the colliding groups.
        var order = RowOrder.Sort(tokens, count, width, levels, sizes);
        int distinct = 0, groups = 0, colliding = 0, largest = count == 0 ? 0 : 1;
        for (int s = 0; s < count;)
        {
            int e = s + 1;
            while (e < count && RowOrder.SamePrefix(tokens, width, order[s], order[e], levels)) e++;
            int size = e - s;
            distinct++;
            if (size > 1) { groups++; colliding += size; largest = Math.Max(largest, size); }
            for (int j = s; j < e; j++)
                tokens[order[j] * width + levels] = size > 1 || options.AlwaysAppendSuffix ? j - s : -1;
            s = e;
        }
        sizes[levels] = Math.Max(1, largest);
        return new SemanticIds(tokens, count, levels, sizes, new CollisionSummary(count, distinct, groups, colliding, largest), mitigated);
    }

    private static List<int> Mitigate(int[] tokens, int count, int width, int[] sizes, SemanticIdOptions options)
    {
        var chosen = new List<int>();
        if (options.Mitigation == HourglassMitigation.None || count == 0) return chosen;
        int levels = width - 1;
        int level = options.MitigationLevel >= 0 ? options.MitigationLevel : MostConcentratedLevel(tokens, count, width, sizes);
        if (level >= levels) throw new ArgumentException($"MitigationLevel {level} is not a level (0..{levels - 1})");
        if (options.Mitigation == HourglassMitigation.RemoveLevel)
        {
            for (int i = 0; i < count; i++) tokens[i * width + level] = -1;
            return chosen;
        }
        var histogram = Histogram(tokens, count, width, level, sizes[level]);
        var ranked = Enumerable.Range(0, sizes[level]).Where(t => histogram[t] > 0)
            .OrderByDescending(t => histogram[t]).ThenBy(t => t).ToList();
        if (options.TopTokens > 0) chosen.AddRange(ranked.Take(options.TopTokens));
        else
        {
            double threshold = options.ConcentrationFactor * count / sizes[level];
            chosen.AddRange(ranked.Where(t => histogram[t] > threshold));
        }
        var set = new HashSet<int>(chosen);
        int merged = sizes[level]; // the merged token is one past the codebook
        for (int i = 0; i < count; i++)
        {
            ref int t = ref tokens[i * width + level];
            if (t >= 0 && set.Contains(t)) t = options.Mitigation == HourglassMitigation.DropTopTokens ? -1 : merged;
        }
        if (options.Mitigation == HourglassMitigation.MergeTopTokens && set.Count > 0) sizes[level]++;
        return chosen;
    }

    /// <summary>Among levels after the first (the first when there is one level), the one whose top 1% of tokens hold the largest share.</summary>
    private static int MostConcentratedLevel(int[] tokens, int count, int width, int[] sizes)
    {
        int levels = width - 1, best = levels > 1 ? 1 : 0;
        double bestShare = -1;
        for (int l = levels > 1 ? 1 : 0; l < levels; l++)
        {
            double share = CodebookHealth.TopShare(Histogram(tokens, count, width, l, sizes[l]), 0.01);
            if (share > bestShare) { bestShare = share; best = l; }
        }
        return best;
    }

    internal static long[] Histogram(ReadOnlySpan<int> tokens, int count, int width, int position, int size)
    {
        var h = new long[size];
        for (int i = 0; i < count; i++)
        {
            int t = tokens[i * width + position];
            if (t >= 0) h[t]++;
        }
        return h;
    }

    /// <summary>
    /// Writes the IDs as a tab-separated file: a header <c>item&lt;TAB&gt;sid</c>, then one line per item,
    /// the item's id (from <paramref name="itemIds"/>, or its row number) and its tokens separated by
    /// spaces, "-" for an absent token. Atomic: a temporary file renamed into place.
    /// </summary>
    public void WriteTsv(string path, IReadOnlyList<string>? itemIds = null)
    {
        if (itemIds != null && itemIds.Count != Count) throw new ArgumentException($"{itemIds.Count} item ids for {Count} items");
        string temp = path + ".tmp";
        using (var w = new StreamWriter(temp, false, new UTF8Encoding(false)))
        {
            w.Write("item\tsid\n");
            var sb = new StringBuilder();
            for (int i = 0; i < Count; i++)
            {
                sb.Clear().Append(itemIds?[i] ?? i.ToString(CultureInfo.InvariantCulture)).Append('\t');
                for (int p = 0; p < Width; p++)
                {
                    if (p > 0) sb.Append(' ');
                    int t = Tokens[i * Width + p];
                    if (t < 0) sb.Append('-'); else sb.Append(t.ToString(CultureInfo.InvariantCulture));
                }
                w.Write(sb.Append('\n'));
            }
        }
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>The IDs as an I32 tensor "sids" [items, width] (-1 absent) plus the per-position vocabulary sizes, for safetensors.</summary>
    public SafeTensorEntry[] ToTensors() =>
    [
        SafeTensorEntry.I32("sids", [Count, Width], (int[])Tokens.Clone()),
        SafeTensorEntry.I32("token_sizes", [Width], [.. TokenSizes]),
    ];
}
