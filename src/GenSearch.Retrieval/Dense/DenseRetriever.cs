using GenSearch.Data;
using GenSearch.Models;
using GenSearch.Models.TwoTower;
using GenSearch.Tensors;
using GenSearch.Text;

namespace GenSearch.Retrieval.Dense;

/// <summary>
/// Dense retrieval: the query tower's vector searched against the item tower's vectors of the whole
/// catalog in a vector index (exact by default; HNSW for large catalogs). Scores are cosines.
/// </summary>
public sealed class DenseRetriever : IRetriever
{
    private readonly TwoTowerModel _model;
    private readonly WordPieceTokenizer _tokenizer;
    private readonly IVectorIndex _index;
    private readonly string[] _itemIds;
    private readonly int _maxQueryTokens;

    /// <summary>A retriever over <paramref name="index"/>, whose row i is item <paramref name="itemIds"/>[i].</summary>
    public DenseRetriever(TwoTowerModel model, WordPieceTokenizer tokenizer, IVectorIndex index, string[] itemIds, int maxQueryTokens = 16)
    {
        if (index.Count != itemIds.Length) throw new ArgumentException($"index holds {index.Count} vectors for {itemIds.Length} items");
        _model = model; _tokenizer = tokenizer; _index = index; _itemIds = itemIds; _maxQueryTokens = maxQueryTokens;
    }

    /// <inheritdoc/>
    public string Name => "dense";

    /// <inheritdoc/>
    public int Count => _itemIds.Length;

    /// <inheritdoc/>
    public IReadOnlyList<SearchHit>[] Search(IReadOnlyList<Query> queries, int k)
    {
        if (k <= 0) throw new ArgumentOutOfRangeException(nameof(k), "k must be positive");
        var vectors = Encode(_model.QueryTower, _tokenizer, queries.Select(q => q.Text).ToList(), _maxQueryTokens);
        return _index.Search(vectors, k).Select(hits => (IReadOnlyList<SearchHit>)hits.Select(h => new SearchHit(_itemIds[h.Id], h.Score)).ToArray()).ToArray();
    }

    /// <summary>Unit vectors of <paramref name="texts"/> from <paramref name="tower"/>, row-major [n, O], in batches.</summary>
    public static float[] Encode(TextEncoder tower, WordPieceTokenizer tokenizer, IReadOnlyList<string> texts, int maxTokens, int batchSize = 256)
    {
        tower.Eval();
        int dim = tower.Config.OutputDim;
        var result = new float[texts.Count * dim];
        using var _ = Tensor.NoGrad();
        for (int start = 0; start < texts.Count; start += batchSize)
        {
            int count = Math.Min(batchSize, texts.Count - start);
            var batch = TokenBatch.Encode(tokenizer, texts.Skip(start).Take(count).ToList(), Math.Min(maxTokens, tower.Config.MaxLength));
            tower.Forward(batch.Tokens, batch.Padding, count).Data.CopyTo(result, start * dim);
        }
        return result;
    }
}
