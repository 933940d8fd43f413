namespace GenSearch.Quantization.Tests;

public class SemanticIdTests
{
    // Eight items, two levels of sizes 4 and 2; the expected numbers below are worked out by hand.
    private static readonly int[] s_codes = [0, 0, 0, 0, 0, 1, 1, 0, 1, 0, 1, 0, 2, 1, 0, 1];
    private static readonly int[] s_sizes = [4, 2];

    [Fact]
    public void ReportMatchesHandComputedNumbers()
    {
        var r = CodebookHealth.Compute(s_codes, 8, s_sizes);
        var l0 = r.Levels[0];
        // Level 0 buckets: token 0 -> items 0,1,2,7; token 1 -> 3,4,5; token 2 -> 6; token 3 unused.
        Assert.Equal(8, l0.Items);
        Assert.Equal(3, l0.UsedTokens);
        Assert.Equal(0.75, l0.Utilisation);
        double h0 = 0.5 * 1 + 0.375 * Math.Log2(8.0 / 3) + 0.125 * 3; // 1.405639...
        Assert.Equal(h0, l0.EntropyBits, 1e-12);
        Assert.Equal(Math.Pow(2, h0), l0.Perplexity, 1e-12);
        Assert.Equal(h0 / 2, l0.NormalisedEntropy, 1e-12);
        Assert.Equal(1, l0.TopTokens);        // ceil(1% of 4)
        Assert.Equal(0.5, l0.TopShare);       // 4 of 8 items on token 0
        Assert.Equal(4, l0.LargestBucket);
        Assert.Equal(0.5, l0.LargestBucketShare);
        Assert.Equal(3, l0.UsedPrefixes);     // (0), (1), (2)
        Assert.Equal(4, l0.PossiblePrefixes);
        Assert.Equal(0.75, l0.PathSparsity);
        Assert.Equal(1 - 3.0 / 8, l0.PrefixCollisionRate);

        var l1 = r.Levels[1];
        // Level 1: token 0 -> items 0,1,3,4,5; token 1 -> 2,6,7.
        Assert.Equal(2, l1.UsedTokens);
        Assert.Equal(1.0, l1.Utilisation);
        double h1 = -(5.0 / 8 * Math.Log2(5.0 / 8) + 3.0 / 8 * Math.Log2(3.0 / 8)); // 0.954434...
        Assert.Equal(h1, l1.EntropyBits, 1e-12);
        Assert.Equal(h1, l1.NormalisedEntropy, 1e-12);
        Assert.Equal(0.625, l1.TopShare);
        Assert.Equal(5, l1.LargestBucket);
        Assert.Equal(4, l1.UsedPrefixes);     // (0,0) (0,1) (1,0) (2,1)
        Assert.Equal(8, l1.PossiblePrefixes);
        Assert.Equal(0.5, l1.PathSparsity);
        Assert.Equal(0.5, l1.PrefixCollisionRate);

        // Full IDs: (0,0) x2, (0,1) x2, (1,0) x3, (2,1) x1.
        Assert.Equal(new CollisionSummary(8, 4, 3, 7, 3), r.Collisions);
        Assert.Equal(0.5, r.Collisions.CollisionRate);
        Assert.Contains(r.Warnings, w => w.Contains("level 0: utilisation 75.0%"));
        Assert.Contains("largest group 3", r.ToTable());
        Assert.Contains("\"collision_rate\": 0.5", r.ToJson());
        Assert.Contains("\"path_sparsity\": 0.75", r.ToJson());
    }

    [Fact]
    public void CollidingItemsGetDistinctLastTokens()
    {
        var ids = SemanticIds.Build(s_codes, 8, s_sizes);
        Assert.Equal(3, ids.Width);
        Assert.Equal([0, 0, 0], ids.Row(0).ToArray());
        Assert.Equal([0, 0, 1], ids.Row(1).ToArray());
        Assert.Equal([0, 1, 0], ids.Row(2).ToArray());
        Assert.Equal([1, 0, 0], ids.Row(3).ToArray());
        Assert.Equal([1, 0, 1], ids.Row(4).ToArray());
        Assert.Equal([1, 0, 2], ids.Row(5).ToArray());
        Assert.Equal([2, 1, 0], ids.Row(6).ToArray());
        Assert.Equal([0, 1, 1], ids.Row(7).ToArray());
        Assert.Equal([4, 2, 3], ids.TokenSizes);
        Assert.Equal(3, ids.Collisions.LargestGroup);
        Assert.Equal(8, Enumerable.Range(0, 8).Select(i => string.Join(",", ids.Row(i).ToArray())).Distinct().Count());
        Assert.Equal([1, 4 + 0, 6 + 2], ids.GlobalTokens(5));

        var sparse = SemanticIds.Build(s_codes, 8, s_sizes, new SemanticIdOptions { AlwaysAppendSuffix = false });
        Assert.Equal([2, 1, -1], sparse.Row(6).ToArray());
        Assert.Equal([2, 4 + 1], sparse.GlobalTokens(6));
        Assert.Equal([1, 0, 2], sparse.Row(5).ToArray());
    }

    // Six items, three levels of sizes 2, 4, 2; level 1's token 0 holds four of them.
    private static readonly int[] s_hourglass = [0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 1, 0, 1, 0, 1, 2, 1];
    private static readonly int[] s_hourglassSizes = [2, 4, 2];

    [Fact]
    public void DropTopTokensMakesVariableLengthIdsOnTheMostConcentratedLevel()
    {
        var ids = SemanticIds.Build(s_hourglass, 6, s_hourglassSizes,
            new SemanticIdOptions { Mitigation = HourglassMitigation.DropTopTokens, TopTokens = 1 });
        Assert.Equal([0], ids.MitigatedTokens); // level 1 picked automatically (top share 4/6 beats level 2's 3/6)
        Assert.Equal([0, -1, 0, 0], ids.Row(0).ToArray());
        Assert.Equal([0, 1, 0, 0], ids.Row(4).ToArray());
        Assert.Equal(0, ids.Collisions.CollidingGroups);
        Assert.Equal([0, 2 + 4 + 0, 8 + 0], ids.GlobalTokens(0)); // absent level skipped, offsets keep levels apart
        var r = CodebookHealth.Compute(ids);
        Assert.Equal(2, r.Levels[1].Items);
        Assert.Equal(0.5, r.Levels[1].Utilisation);
        Assert.Equal(4, r.Levels[1].UsedPrefixes); // (0,-) (1,-) (0,1) (1,2)
    }

    [Fact]
    public void MergeTopTokensKeepsFixedLengthWithOneSharedToken()
    {
        var ids = SemanticIds.Build(s_hourglass, 6, s_hourglassSizes,
            new SemanticIdOptions { Mitigation = HourglassMitigation.MergeTopTokens, MitigationLevel = 1, TopTokens = 1 });
        Assert.Equal([0, 4, 0, 0], ids.Row(0).ToArray());
        Assert.Equal(5, ids.TokenSizes[1]);
        Assert.Equal(0.6, CodebookHealth.Compute(ids).Levels[1].Utilisation, 1e-12); // tokens 4 (merged), 1 and 2 of 5
    }

    [Fact]
    public void RemoveLevelDropsItEverywhereAndRecountsCollisions()
    {
        var ids = SemanticIds.Build(s_hourglass, 6, s_hourglassSizes,
            new SemanticIdOptions { Mitigation = HourglassMitigation.RemoveLevel, MitigationLevel = 1 });
        // Without level 1: items 0 and 4 are (0,0); items 3 and 5 are (1,1).
        Assert.Equal(new CollisionSummary(6, 4, 2, 4, 2), ids.Collisions);
        Assert.Equal([0, -1, 0, 0], ids.Row(0).ToArray());
        Assert.Equal([0, -1, 0, 1], ids.Row(4).ToArray());
        Assert.Equal([1, -1, 1, 0], ids.Row(3).ToArray());
        Assert.Equal([1, -1, 1, 1], ids.Row(5).ToArray());
    }

    [Fact]
    public void FlagsAnHourglassAndWritesTsv()
    {
        // Level 1 uses one token of four while levels 0 and 2 are even.
        var codes = new List<int>();
        for (int i = 0; i < 16; i++) codes.AddRange([i % 4, 0, i / 4]);
        var r = CodebookHealth.Compute([.. codes], 16, [4, 4, 4]);
        Assert.Contains(r.Warnings, w => w.Contains("level 1") && w.Contains("hourglass"));

        var ids = SemanticIds.Build(s_codes, 8, s_sizes);
        string path = Path.Combine(Path.GetTempPath(), $"sids-{Guid.NewGuid():N}.tsv");
        try
        {
            ids.WriteTsv(path, [.. Enumerable.Range(0, 8).Select(i => $"p{i}")]);
            var lines = File.ReadAllLines(path);
            Assert.Equal("item\tsid", lines[0]);
            Assert.Equal("p5\t1 0 2", lines[6]);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void RejectsCodesOutsideTheCodebook()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => SemanticIds.Build([0, 5], 1, [4, 4]));
        Assert.Contains("item 0 level 1: code 5", e.Message);
    }
}
