using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace GenSearch.Quantization;

/// <summary>One level's health. Shares are of the items that carry a token at this level.</summary>
/// <param name="Level">0 = coarsest.</param>
/// <param name="CodebookSize">Tokens the level can use (K, +1 with a merged token).</param>
/// <param name="Items">Items that carry a token at this level (fewer than all when tokens were dropped).</param>
/// <param name="UsedTokens">Distinct tokens used.</param>
/// <param name="Utilisation">UsedTokens / CodebookSize.</param>
/// <param name="EntropyBits">Shannon entropy of the token distribution, in bits.</param>
/// <param name="Perplexity">2^EntropyBits: the number of equally used tokens with the same entropy.</param>
/// <param name="NormalisedEntropy">EntropyBits / log2(CodebookSize): 1 when every token is used equally.</param>
/// <param name="TopTokens">How many tokens form the top 1%: ceil(CodebookSize / 100).</param>
/// <param name="TopShare">Share of items on the TopTokens most frequent tokens (uniform use gives about 1%).</param>
/// <param name="LargestBucket">Most items on one token.</param>
/// <param name="LargestBucketShare">LargestBucket / Items.</param>
/// <param name="UsedPrefixes">Distinct ID prefixes through this level (an absent token counts as a value).</param>
/// <param name="PossiblePrefixes">Product of the codebook sizes through this level.</param>
/// <param name="PathSparsity">UsedPrefixes / PossiblePrefixes: how much of the code tree is in use.</param>
/// <param name="PrefixCollisionRate">1 - UsedPrefixes / all items: share of items not told apart by the prefix through this level.</param>
public sealed record LevelHealth(int Level, int CodebookSize, int Items, int UsedTokens, double Utilisation,
    double EntropyBits, double Perplexity, double NormalisedEntropy, int TopTokens, double TopShare,
    long LargestBucket, double LargestBucketShare, long UsedPrefixes, double PossiblePrefixes, double PathSparsity,
    double PrefixCollisionRate);

/// <summary>
/// The codebook health report (the Hourglass paper's measures): per level utilisation, entropy and
/// perplexity, the share of items on the top 1% of tokens, the largest bucket, path sparsity and the
/// prefix collision rate; full-ID collisions; and warnings for the known failure modes. Renders as a
/// table (<see cref="ToTable"/>, Markdown that reads well in a terminal) and JSON (<see cref="ToJson"/>).
/// </summary>
public sealed record CodebookHealth(IReadOnlyList<LevelHealth> Levels, CollisionSummary Collisions, IReadOnlyList<string> Warnings)
{
    /// <summary>Utilisation below this is flagged as codebook collapse. 0.9, the project's target.</summary>
    public const double MinHealthyUtilisation = 0.9;

    /// <summary>The report on <paramref name="ids"/>' level tokens (the disambiguating token excluded).</summary>
    public static CodebookHealth Compute(SemanticIds ids)
        => Compute(ids.Tokens, ids.Count, ids.Width, ids.Levels, ids.TokenSizes);

    /// <summary>The report on raw quantizer codes (<paramref name="count"/> x sizes.Count, no absent tokens).</summary>
    public static CodebookHealth Compute(ReadOnlySpan<int> codes, int count, IReadOnlyList<int> codebookSizes)
        => Compute(codes, count, codebookSizes.Count, codebookSizes.Count, codebookSizes);

    /// <summary>
    /// The report on the first <paramref name="levels"/> positions of <paramref name="count"/> rows of
    /// <paramref name="width"/> tokens (-1 = absent), position p drawing from <paramref name="sizes"/>[p] tokens.
    /// </summary>
    public static CodebookHealth Compute(ReadOnlySpan<int> tokens, int count, int width, int levels, IReadOnlyList<int> sizes)
    {
        var order = RowOrder.Sort(tokens, count, width, levels, sizes);
        // boundaryDepth[j]: the first position where sorted rows j-1 and j differ (levels when equal).
        var firstDiff = new int[count];
        for (int j = 1; j < count; j++)
        {
            int a = order[j - 1] * width, b = order[j] * width, p = 0;
            while (p < levels && tokens[a + p] == tokens[b + p]) p++;
            firstDiff[j] = p;
        }
        var result = new List<LevelHealth>(levels);
        double possible = 1;
        for (int l = 0; l < levels; l++)
        {
            var h = SemanticIds.Histogram(tokens, count, width, l, sizes[l]);
            long present = h.Sum();
            int used = h.Count(c => c > 0);
            double entropy = 0;
            foreach (long c in h)
                if (c > 0) { double p = (double)c / present; entropy -= p * Math.Log2(p); }
            long largest = h.Length == 0 ? 0 : h.Max();
            long prefixes = count == 0 ? 0 : 1 + firstDiff.Skip(1).LongCount(f => f <= l);
            possible *= sizes[l];
            result.Add(new LevelHealth(l, sizes[l], (int)present, used, (double)used / sizes[l],
                entropy, Math.Pow(2, entropy), sizes[l] > 1 ? entropy / Math.Log2(sizes[l]) : 1,
                TopCount(sizes[l], 0.01), TopShare(h, 0.01), largest, present == 0 ? 0 : (double)largest / present,
                prefixes, possible, prefixes / possible, count == 0 ? 0 : 1.0 - (double)prefixes / count));
        }
        long distinct = result.Count > 0 ? result[^1].UsedPrefixes : Math.Min(count, 1);
        int groups = 0, colliding = 0, largestGroup = count == 0 ? 0 : 1;
        for (int s = 0; s < count;)
        {
            int e = s + 1;
            while (e < count && firstDiff[e] == levels) e++;
            if (e - s > 1) { groups++; colliding += e - s; largestGroup = Math.Max(largestGroup, e - s); }
            s = e;
        }
        var collisions = new CollisionSummary(count, (int)distinct, groups, colliding, largestGroup);
        return new CodebookHealth(result, collisions, Diagnose(result, collisions));
    }

    /// <summary>Tokens in the top <paramref name="fraction"/> of a codebook of <paramref name="size"/>: ceil(fraction x size), at least 1.</summary>
    public static int TopCount(int size, double fraction) => Math.Max(1, (int)Math.Ceiling(fraction * size - 1e-9));

    /// <summary>Share of the histogram's mass on its top <see cref="TopCount"/> entries.</summary>
    public static double TopShare(long[] histogram, double fraction)
    {
        long total = histogram.Sum();
        if (total == 0) return 0;
        return (double)histogram.OrderDescending().Take(TopCount(histogram.Length, fraction)).Sum() / total;
    }

    private static List<string> Diagnose(List<LevelHealth> levels, CollisionSummary collisions)
    {
        var w = new List<string>();
        foreach (var l in levels)
        {
            if (l.Utilisation < MinHealthyUtilisation)
                w.Add($"level {l.Level}: utilisation {Pct(l.Utilisation, 1)} is below {Pct(MinHealthyUtilisation, 0)} (codebook collapse)");
            if (l.TopShare > 10.0 * l.TopTokens / l.CodebookSize && l.TopShare > 0.1)
                w.Add($"level {l.Level}: the top 1% of tokens hold {Pct(l.TopShare, 1)} of items (over-concentrated)");
        }
        // Hourglass: a middle level markedly less even than the levels on both sides of it.
        for (int i = 1; i + 1 < levels.Count; i++)
        {
            double mid = levels[i].NormalisedEntropy;
            if (mid + 0.1 < levels[i - 1].NormalisedEntropy && mid + 0.1 < levels[i + 1].NormalisedEntropy)
                w.Add($"level {i}: normalised entropy {mid:F3} is below both neighbours' (hourglass); see SemanticIdOptions.Mitigation");
        }
        if (collisions.LargestGroup > 1)
            w.Add($"{collisions.CollidingItems} items share {collisions.CollidingGroups} IDs (largest group {collisions.LargestGroup}); the disambiguating token tells them apart");
        return w;
    }

    private static string Pct(double x, int digits) => (100 * x).ToString("F" + digits, CultureInfo.InvariantCulture) + "%";

    /// <summary>The report as a Markdown table plus collision and warning lines.</summary>
    public string ToTable()
    {
        var sb = new StringBuilder();
        var ci = CultureInfo.InvariantCulture;
        sb.AppendLine("| level | K | items | used | util | entropy (bits) | perplexity | norm. entropy | top 1% share | largest bucket | used prefixes / possible | path sparsity | prefix collision rate |");
        sb.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var l in Levels)
        {
            sb.AppendLine(string.Format(ci,
                "| {0} | {1} | {2} | {3} | {4} | {5:F3} | {6:F1} | {7:F3} | {8} ({9} tok) | {10} ({11}) | {12} / {13:G6} | {14:G4} | {15} |",
                l.Level, l.CodebookSize, l.Items, l.UsedTokens, Pct(l.Utilisation, 1), l.EntropyBits, l.Perplexity, l.NormalisedEntropy,
                Pct(l.TopShare, 2), l.TopTokens, l.LargestBucket, Pct(l.LargestBucketShare, 2), l.UsedPrefixes, l.PossiblePrefixes, l.PathSparsity,
                Pct(l.PrefixCollisionRate, 2)));
        }
        sb.AppendLine();
        sb.AppendLine(string.Format(ci, "Collisions: {0} items, {1} distinct IDs, {2} shared IDs holding {3} items, largest group {4}, collision rate {5}.",
            Collisions.Items, Collisions.DistinctIds, Collisions.CollidingGroups, Collisions.CollidingItems, Collisions.LargestGroup, Pct(Collisions.CollisionRate, 2)));
        foreach (var warning in Warnings) sb.AppendLine("Warning: " + warning);
        return sb.ToString();
    }

    private static readonly JsonSerializerOptions s_json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The report as indented JSON, snake_case names (levels, collisions with collision_rate, warnings).</summary>
    public string ToJson() => JsonSerializer.Serialize(new
    {
        levels = Levels,
        collisions = new
        {
            Collisions.Items, Collisions.DistinctIds, Collisions.CollidingGroups, Collisions.CollidingItems,
            Collisions.LargestGroup, Collisions.CollisionRate,
        },
        warnings = Warnings,
    }, s_json);
}
