using GenSearch.Models.TwoTower;
using GenSearch.Tensors;

namespace GenSearch.Models.Unified;

/// <summary>
/// The joint loss of the unified model, L = l1 L_contrast + l2 L_vq + l3 L_ntp (DESIGN.md), as functions
/// of tensors so that each term's gradient is checked by finite differences. sim(q, d) = 1 - ||q - d||^2.
/// </summary>
public static class UnifiedLosses
{
    /// <summary>
    /// In-batch softmax over sim = 1 - ||q - d||^2 / <paramref name="temperature"/>: query b's positive
    /// is items[<paramref name="positives"/>[b]]; columns where <paramref name="masked"/>(b, j) holds
    /// are left out (other positives of the query; negatives meant for deeper levels). Weighted mean of -log p.
    /// </summary>
    public static Tensor DistanceSoftmax(Tensor queries, Tensor items, int[] positives, float temperature, float[]? weights, Func<int, int, bool>? masked)
    {
        int b = queries.Shape[0];
        if (positives.Length != b) throw new ArgumentException($"{positives.Length} positives for {b} queries");
        return RetrievalLosses.SoftmaxOverColumns(Tensor.PairwiseSquaredDistance(queries, items).Scale(-1f / temperature), positives, weights, masked);
    }

    /// <summary>
    /// UniSearch's residual coarse-to-fine contrastive loss: the mean over levels n of
    /// InfoNCE(q, sg(d(1) + .. + d(n-1)) + d(n)), so level n's term trains d(n) (and q) but not the coarser
    /// latents, which their own levels train. <paramref name="masked"/>(n, b, j) leaves column j out of level n.
    /// </summary>
    public static Tensor ResidualContrast(Tensor queries, IReadOnlyList<Tensor> levels, int[] positives, float temperature, float[]? weights,
        Func<int, int, int, bool>? masked)
    {
        Tensor? total = null, prefix = null;
        for (int n = 0; n < levels.Count; n++)
        {
            var target = prefix is null ? levels[n] : prefix.Detach() + levels[n];
            int level = n;
            var term = DistanceSoftmax(queries, target, positives, temperature, weights, masked is null ? null : (b, j) => masked(level, b, j));
            total = total is null ? term : total + term;
            prefix = prefix is null ? levels[n] : prefix + levels[n];
        }
        return total!.Scale(1f / levels.Count);
    }

    /// <summary>
    /// The graded listwise loss (ListNet, as the towers') over sim = 1 - ||q - d||^2: queries [R, p],
    /// candidates [R, C, p], grades [R * C] (NaN = padding).
    /// </summary>
    public static Tensor GradedListwise(Tensor queries, Tensor candidates, float[] grades, float temperature)
    {
        int r = queries.Shape[0], p = queries.Shape[1];
        var scores = (candidates - queries.Reshape(r, 1, p)).Square().Sum(2).Scale(-1f / temperature);
        return RetrievalLosses.GradedListwise(scores, grades);
    }

    /// <summary>
    /// Next-token prediction of each row's ID, teacher-forced: the mean over levels of the weighted
    /// cross-entropy of code[b, n] given q[b] and the codes before it. <paramref name="codes"/> is [rows, L].
    /// </summary>
    public static Tensor NextToken(UnifiedModel model, Tensor queries, int[] codes, float[]? weights)
    {
        int rows = queries.Shape[0], L = model.Config.Levels;
        if (codes.Length != rows * L) throw new ArgumentException($"{codes.Length} codes for {rows} rows of {L} levels");
        Tensor? total = null;
        for (int n = 0; n < L; n++)
        {
            var logits = model.LevelLogits(queries, model.PrefixSum(codes, rows, n), n);
            var target = new int[rows];
            for (int b = 0; b < rows; b++) target[b] = codes[b * L + n];
            var term = Tensor.CrossEntropy(logits, target, weights);
            total = total is null ? term : total + term;
        }
        return total!.Scale(1f / L);
    }
}
