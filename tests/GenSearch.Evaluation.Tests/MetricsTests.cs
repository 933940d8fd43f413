using GenSearch.Evaluation;

namespace GenSearch.Evaluation.Tests;

public class MetricsTests
{
    // One query, judged d2 = 3, d4 = 1, d5 = 4 (d5 is never retrieved); relevant means grade >= 3: {d2, d5}.
    private static readonly Dictionary<string, int> Judged = new() { ["d2"] = 3, ["d4"] = 1, ["d5"] = 4 };
    private static readonly string[] Ranked = ["d1", "d2", "d3", "d4"];

    [Fact]
    public void Recall_counts_relevant_found_over_relevant_judged()
    {
        Assert.Equal(0.0, Metrics.RecallAt(Ranked, Judged, 1, 3));
        Assert.Equal(0.5, Metrics.RecallAt(Ranked, Judged, 2, 3));
        Assert.Equal(0.5, Metrics.RecallAt(Ranked, Judged, 10, 3));
        Assert.Equal(2.0 / 3, Metrics.RecallAt(Ranked, Judged, 10, 1), 12); // threshold 1: {d2, d4, d5}
    }

    [Fact]
    public void Mrr_and_hit_rate_use_the_first_relevant_rank()
    {
        Assert.Equal(0.0, Metrics.ReciprocalRankAt(Ranked, Judged, 1, 3));
        Assert.Equal(0.5, Metrics.ReciprocalRankAt(Ranked, Judged, 10, 3));
        Assert.Equal(0.0, Metrics.HitRateAt(Ranked, Judged, 1, 3));
        Assert.Equal(1.0, Metrics.HitRateAt(Ranked, Judged, 2, 3));
        Assert.Equal(0.25, Metrics.ReciprocalRankAt(["x", "y", "z", "d5"], Judged, 10, 4));
    }

    [Fact]
    public void Judged_is_the_share_of_the_top_k_with_a_judgment_of_any_grade()
    {
        Assert.Equal(0.0, Metrics.JudgedAt(Ranked, Judged, 1));
        Assert.Equal(0.5, Metrics.JudgedAt(Ranked, Judged, 2));     // d2
        Assert.Equal(0.5, Metrics.JudgedAt(Ranked, Judged, 4));     // d2 and d4 (grade 1 counts: judged, not relevant)
        Assert.Equal(0.2, Metrics.JudgedAt(Ranked, Judged, 10), 12); // a short list: missing places are unjudged
        Assert.Equal(1.0, Metrics.JudgedAt(["d2", "d2", "d4"], Judged, 2)); // a repeated id counts once
    }

    [Fact]
    public void Condensed_ndcg_scores_the_ranking_with_unjudged_items_removed()
    {
        // Condensed: [d2 (3), d4 (1)]. DCG@10 = 7 + 1/log2(3); IDCG@10 = 15 + 7/log2(3) + 1/log2(4): 0.3831459635497467 by hand.
        Assert.Equal(0.3831459635497467, Metrics.CondensedNdcgAt(Ranked, Judged, 10), 12);
        // At 1 the condensed list's first item is d2 (rank 2 in the run): 7 / 15.
        Assert.Equal(7.0 / 15, Metrics.CondensedNdcgAt(Ranked, Judged, 1), 12);
        // Unjudged items in between change nothing; NDCG itself drops.
        string[] padded = ["u1", "d5", "u2", "u3", "d2", "d4"];
        Assert.Equal(1.0, Metrics.CondensedNdcgAt(padded, Judged, 3), 12);
        Assert.True(Metrics.NdcgAt(padded, Judged, 3) < 1);
    }

    [Fact]
    public void Ndcg_uses_exponential_gain_and_all_judged_grades()
    {
        // DCG@3 = (2^3-1)/log2(3); IDCG@3 = 15/1 + 7/log2(3) + 1/log2(4) -> 0.2217511329806709 by hand.
        Assert.Equal(0.2217511329806709, Metrics.NdcgAt(Ranked, Judged, 3), 12);
        // At 10, d4 (grade 1) at rank 4 adds 1/log2(5): 0.24337523255308394.
        Assert.Equal(0.24337523255308394, Metrics.NdcgAt(Ranked, Judged, 10), 12);
        Assert.Equal(1.0, Metrics.NdcgAt(["d5", "d2", "d4"], Judged, 10), 12);
        Assert.Equal(0.0, Metrics.NdcgAt(["d1"], Judged, 10));
    }

    [Fact]
    public void A_repeated_id_counts_once()
    {
        Assert.Equal(0.5, Metrics.RecallAt(["d2", "d2", "d2"], Judged, 10, 3));
        Assert.Equal(0.5, Metrics.RecallAt(["d2", "d2", "d1"], Judged, 2, 3));
        Assert.Equal(1.0, Metrics.RecallAt(["d2", "d2", "d5"], Judged, 2, 3)); // top 2 distinct: d2, d5
    }

    [Fact]
    public void No_relevant_items_or_bad_k()
    {
        var none = new Dictionary<string, int> { ["a"] = 0 };
        Assert.Equal(0.0, Metrics.RecallAt(["a"], none, 10, 1));
        Assert.Equal(0.0, Metrics.NdcgAt(["a"], none, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => Metrics.RecallAt(["a"], none, 0, 1));
    }
}
