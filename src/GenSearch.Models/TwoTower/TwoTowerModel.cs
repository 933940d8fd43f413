using GenSearch.Nn;
using GenSearch.Tensors;

namespace GenSearch.Models.TwoTower;

/// <summary>Sizes and loss settings of a <see cref="TwoTowerModel"/>.</summary>
public sealed record TwoTowerConfig
{
    /// <summary>Both towers' sizes (they differ only in weights).</summary>
    public TextEncoderConfig Encoder { get; init; } = new();
    /// <summary>Whether the towers share one token-embedding table (helps when queries and titles share words).</summary>
    public bool ShareTokenEmbedding { get; init; } = true;
    /// <summary>Softmax temperature over cosine scores.</summary>
    public float Temperature { get; init; } = 0.05f;
}

/// <summary>
/// Dense retrieval with two towers (the MMSE paper's retrieval stage): a query tower and an item
/// tower map text to unit vectors; relevance is their dot product (cosine). Item vectors are
/// computed once for the catalog and searched with a vector index.
/// </summary>
public sealed class TwoTowerModel : Module
{
    /// <summary>The sizes this model was built with.</summary>
    public TwoTowerConfig Config { get; }

    /// <summary>Maps query text to a vector.</summary>
    public TextEncoder QueryTower { get; }

    /// <summary>Maps item text to a vector.</summary>
    public TextEncoder ItemTower { get; }

    /// <summary>A model with weights drawn from <paramref name="rng"/>.</summary>
    public TwoTowerModel(TwoTowerConfig config, Rng rng)
    {
        Config = config;
        Embedding? shared = config.ShareTokenEmbedding
            ? RegisterModule("tokens", new Embedding(config.Encoder.Vocabulary, config.Encoder.Dim, rng))
            : null;
        QueryTower = RegisterModule("query", new TextEncoder(config.Encoder, rng, shared));
        ItemTower = RegisterModule("item", new TextEncoder(config.Encoder, rng, shared));
    }
}

/// <summary>The losses that train retrieval towers.</summary>
public static class RetrievalLosses
{
    /// <summary>Stands in for -infinity in masked logits: finite, so 0 * it stays 0 in the cross-entropy.</summary>
    private const float Masked = -1e9f;

    /// <summary>
    /// Softmax over in-batch and hard negatives: queries [B, O], items [N, O]; query b's positive is
    /// items[<paramref name="positives"/>[b]] and every other item is a negative, except items that are
    /// also positives of query b (<paramref name="alsoRelevant"/>(b, n) true), which are masked out
    /// rather than pushed away. Weighted mean of -log p(positive) over queries.
    /// </summary>
    public static Tensor InBatchSoftmax(Tensor queries, Tensor items, int[] positives, float temperature,
        float[]? weights = null, Func<int, int, bool>? alsoRelevant = null)
    {
        int b = queries.Shape[0];
        if (positives.Length != b) throw new ArgumentException($"{positives.Length} positives for {b} queries");
        return SoftmaxOverColumns(Tensor.MatMul(queries, items, transB: true).Scale(1f / temperature), positives, weights, alsoRelevant); // [B, N]
    }

    /// <summary>
    /// Weighted mean of -log p(positive) over the rows of <paramref name="logits"/> [B, N], row b's positive
    /// in column <paramref name="positives"/>[b]; columns where <paramref name="masked"/>(b, n) holds (other
    /// than the positive) are left out of row b's softmax.
    /// </summary>
    internal static Tensor SoftmaxOverColumns(Tensor logits, int[] positives, float[]? weights, Func<int, int, bool>? masked)
    {
        int b = logits.Shape[0], n = logits.Shape[1];
        if (masked is not null)
        {
            var mask = new bool[b * n];
            bool any = false;
            for (int q = 0; q < b; q++)
                for (int i = 0; i < n; i++)
                    if (i != positives[q] && masked(q, i)) { mask[q * n + i] = true; any = true; }
            if (any) logits = logits.MaskedFill(mask, [b, n], Masked);
        }
        return Tensor.CrossEntropy(logits, positives, weights);
    }

    /// <summary>
    /// Listwise ranking over graded labels (ListNet): for each query, a softmax over its judged
    /// candidates' scores is pulled towards the distribution proportional to 2^grade - 1.
    /// queries [B, O], candidates [B, C, O], grades [B * C] with NaN marking padding; queries whose
    /// candidates all have grade 0 add nothing.
    /// </summary>
    public static Tensor GradedListwise(Tensor queries, Tensor candidates, float[] grades, float temperature)
    {
        int b = queries.Shape[0], c = candidates.Shape[1], o = queries.Shape[1];
        if (grades.Length != b * c) throw new ArgumentException($"{grades.Length} grades for {b} x {c} candidates");
        var scores = Tensor.MatMul(queries.Reshape(b, 1, o), candidates, transB: true).Reshape(b, c).Scale(1f / temperature);
        return GradedListwise(scores, grades);
    }

    /// <summary>
    /// <see cref="GradedListwise(Tensor, Tensor, float[], float)"/> from ready scores [B, C] (already
    /// divided by the temperature), for models whose similarity is not a dot product.
    /// </summary>
    public static Tensor GradedListwise(Tensor scores, float[] grades)
    {
        int b = scores.Shape[0], c = scores.Shape[1];
        if (grades.Length != b * c) throw new ArgumentException($"{grades.Length} grades for {b} x {c} candidates");
        var padding = grades.Select(float.IsNaN).ToArray();
        var target = new float[b * c];
        int used = 0;
        for (int q = 0; q < b; q++)
        {
            double total = 0;
            for (int i = 0; i < c; i++) if (!padding[q * c + i]) total += Math.Pow(2, grades[q * c + i]) - 1;
            if (total <= 0) continue;
            used++;
            for (int i = 0; i < c; i++)
                if (!padding[q * c + i]) target[q * c + i] = (float)((Math.Pow(2, grades[q * c + i]) - 1) / total);
        }
        if (used == 0) return Tensor.Scalar(0f);
        var logProbs = scores.MaskedFill(padding, [b, c], Masked).LogSoftmax();
        return (logProbs * new Tensor(target, b, c)).SumAll().Scale(-1f / used);
    }
}
