using GenSearch.Nn;
using GenSearch.Tensors;
using GenSearch.Text;

namespace GenSearch.Models.TwoTower;

/// <summary>Sizes of an <see cref="NgramTowerModel"/>.</summary>
public sealed record NgramTowerConfig
{
    /// <summary>Rows of the feature table (the <see cref="NgramVocabulary"/>'s size).</summary>
    public int Features { get; init; }
    /// <summary>Vector size.</summary>
    public int Dim { get; init; } = 256;
    /// <summary>Softmax temperature over cosine scores.</summary>
    public float Temperature { get; init; } = 0.05f;
}

/// <summary>
/// Two towers that embed a text as the mean of its n-gram features' vectors (words, word pairs and
/// character trigrams; <see cref="NgramFeaturizer"/>), unit length, one table shared by query and
/// item so that a word means the same on both sides. This is the tower of Amazon's semantic product
/// search: on short product titles trained from scratch it learns what a word-level transformer
/// cannot from 8,000 queries (misspellings, sizes, which words name the product), and a step costs
/// a few table rows per text instead of attention over every token, so it sees fifty times the
/// examples in the same minutes. The table is <see cref="Tensor.RowSparse"/>: a step moves only the
/// rows its batch used.
/// </summary>
public sealed class NgramTowerModel : Module
{
    /// <summary>The sizes this model was built with.</summary>
    public NgramTowerConfig Config { get; }

    /// <summary>[features, dim].</summary>
    public Tensor Table { get; }

    /// <summary>A model with the table drawn from N(0, 0.1^2) by <paramref name="rng"/>.</summary>
    public NgramTowerModel(NgramTowerConfig config, Rng rng)
    {
        if (config.Features <= 0 || config.Dim <= 0) throw new ArgumentException($"an n-gram tower needs features and a dimension, got {config.Features} x {config.Dim}");
        Config = config;
        Table = RegisterParameter("features", Tensor.Randn(rng, 0.1f, config.Features, config.Dim));
        Table.RowSparse = true;
    }

    /// <summary>
    /// Feature-id rows (one per text) -> unit vectors [rows, dim]. A row without features gives a
    /// zero vector, which scores 0 against everything.
    /// </summary>
    public Tensor Forward(IReadOnlyList<int[]> rows) => UnitBags(Table, rows);

    /// <summary>
    /// Unit-length means of <paramref name="table"/>'s rows named by each feature-id row [rows, dim]; a row
    /// without features gives zeros. The text embedder of the n-gram towers and of the unified model.
    /// </summary>
    internal static Tensor UnitBags(Tensor table, IReadOnlyList<int[]> rows)
    {
        if (rows.Count == 0) throw new ArgumentException("no rows to encode");
        var offsets = new int[rows.Count];
        int total = 0;
        for (int r = 0; r < rows.Count; r++) { offsets[r] = total; total += rows[r].Length; }
        var ids = new int[total];
        for (int r = 0; r < rows.Count; r++) rows[r].CopyTo(ids, offsets[r]);
        return TextEncoder.L2Normalize(Tensor.EmbeddingBag(table, ids, offsets));
    }

    /// <summary>Unit vectors of <paramref name="texts"/>, row-major [n, dim], without gradients.</summary>
    public float[] Encode(NgramVocabulary vocabulary, IReadOnlyList<string> texts) => Encode(texts.Select(vocabulary.Encode).ToArray());

    /// <summary>Unit vectors of feature-id rows (from <see cref="NgramVocabulary.Encode"/>), row-major [n, dim], without gradients.</summary>
    public float[] Encode(IReadOnlyList<int[]> rows, int batchSize = 4096)
    {
        var result = new float[rows.Count * Config.Dim];
        using var _ = Tensor.NoGrad();
        for (int start = 0; start < rows.Count; start += batchSize)
        {
            var chunk = rows.Skip(start).Take(Math.Min(batchSize, rows.Count - start)).ToArray();
            Forward(chunk).Data.CopyTo(result, start * Config.Dim);
        }
        return result;
    }
}
