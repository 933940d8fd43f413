using GenSearch.Text;
using GenSearch.Nn;
using GenSearch.Tensors;

namespace GenSearch.Models;

/// <summary>Sizes of a <see cref="TextEncoder"/>.</summary>
public sealed record TextEncoderConfig
{
    /// <summary>Subword vocabulary size.</summary>
    public int Vocabulary { get; init; } = 8192;
    /// <summary>Transformer width.</summary>
    public int Dim { get; init; } = 128;
    /// <summary>Attention heads.</summary>
    public int Heads { get; init; } = 4;
    /// <summary>Encoder layers.</summary>
    public int Layers { get; init; } = 2;
    /// <summary>Feed-forward width.</summary>
    public int FfnDim { get; init; } = 512;
    /// <summary>Dropout in training.</summary>
    public float Dropout { get; init; } = 0.1f;
    /// <summary>Longest token sequence (learned positions); longer inputs are cut by the caller.</summary>
    public int MaxLength { get; init; } = 32;
    /// <summary>Width of the output vector.</summary>
    public int OutputDim { get; init; } = 128;
}

/// <summary>
/// Text to one vector: token embeddings plus learned positions, pre-norm transformer encoder layers,
/// a final norm, a mean over the non-padding positions, a linear projection and L2 normalisation
/// (so that a dot product of two outputs is their cosine).
/// Shapes: B texts, T tokens (padded), D width, O output width.
/// </summary>
public sealed class TextEncoder : Module
{
    private readonly Embedding _tokens, _positions;
    private readonly TransformerEncoderLayer[] _layers;
    private readonly LayerNorm _norm;
    private readonly Linear _projection;
    private readonly Rng _rng;

    /// <summary>The sizes this encoder was built with.</summary>
    public TextEncoderConfig Config { get; }

    /// <summary>An encoder with weights drawn from <paramref name="rng"/>; pass a shared <paramref name="tokens"/> table to tie towers.</summary>
    public TextEncoder(TextEncoderConfig config, Rng rng, Embedding? tokens = null)
    {
        Config = config;
        _rng = rng;
        _tokens = tokens ?? RegisterModule("tokens", new Embedding(config.Vocabulary, config.Dim, rng));
        _positions = RegisterModule("positions", new Embedding(config.MaxLength, config.Dim, rng));
        var layers = RegisterModule("layers", new ModuleList<TransformerEncoderLayer>());
        _layers = Enumerable.Range(0, config.Layers)
            .Select(_ => layers.Add(new TransformerEncoderLayer(config.Dim, config.Heads, config.FfnDim, config.Dropout, rng))).ToArray();
        _norm = RegisterModule("norm", new LayerNorm(config.Dim));
        _projection = RegisterModule("projection", new Linear(config.Dim, config.OutputDim, rng));
    }

    /// <summary>
    /// tokens [B * T] (row-major, padded with any id where <paramref name="padding"/> is true) -> [B, O], unit length.
    /// Every row needs at least one non-padding token.
    /// </summary>
    public Tensor Forward(int[] tokens, bool[] padding, int batch)
    {
        if (batch <= 0 || tokens.Length % batch != 0 || padding.Length != tokens.Length)
            throw new ArgumentException($"{tokens.Length} tokens and {padding.Length} padding flags do not form {batch} rows");
        int t = tokens.Length / batch;
        if (t > Config.MaxLength) throw new ArgumentException($"sequence length {t} exceeds the encoder's {Config.MaxLength}");
        var x = _tokens.Forward(tokens, batch, t) + _positions.Forward(Enumerable.Range(0, t).ToArray(), t); // [B, T, D]
        x = x.Dropout(Config.Dropout, _rng, Training);
        foreach (var layer in _layers) x = layer.Forward(x, padding);
        x = _norm.Forward(x);
        // Mean over real tokens: weights [B, T, 1] are 1/count on real tokens, 0 on padding.
        var weights = new float[batch * t];
        for (int b = 0; b < batch; b++)
        {
            int count = 0;
            for (int i = 0; i < t; i++) if (!padding[b * t + i]) count++;
            if (count == 0) throw new ArgumentException($"row {b} has no tokens");
            for (int i = 0; i < t; i++) weights[b * t + i] = padding[b * t + i] ? 0f : 1f / count;
        }
        var pooled = (x * new Tensor(weights, batch, t, 1)).Sum(1); // [B, D]
        return L2Normalize(_projection.Forward(pooled));
    }

    /// <summary>
    /// Encoded rows ([cls] ... [sep], any lengths up to MaxLength) -> [rows, O], in the given order.
    /// Rows are sorted by length and encoded <paramref name="rowsPerChunk"/> at a time, each chunk
    /// padded only to its own longest row: titles run from 3 to 32 subwords, so one block padded to
    /// the longest wastes about half its work. The result equals one padded <see cref="Forward"/>
    /// (padding is masked and pooled out) up to rounding and dropout draws; gradients flow to every row.
    /// </summary>
    public Tensor ForwardRows(IReadOnlyList<int[]> rows, int rowsPerChunk = 64)
    {
        if (rows.Count == 0) throw new ArgumentException("no rows to encode");
        if (rowsPerChunk <= 0) throw new ArgumentOutOfRangeException(nameof(rowsPerChunk));
        var order = Enumerable.Range(0, rows.Count).OrderBy(i => rows[i].Length).ToArray();
        var chunks = new List<Tensor>();
        for (int start = 0; start < order.Length; start += rowsPerChunk)
        {
            var chunk = TokenBatch.FromRows(order.Skip(start).Take(rowsPerChunk).Select(i => rows[i]).ToArray());
            chunks.Add(Forward(chunk.Tokens, chunk.Padding, chunk.Batch));
        }
        var sorted = chunks.Count == 1 ? chunks[0] : Tensor.Concat(chunks, 0);
        // Back to the callers' order: row i of the result is sorted row position[i].
        var position = new int[order.Length];
        for (int p = 0; p < order.Length; p++) position[order[p]] = p;
        return Tensor.Embedding(sorted, position, position.Length);
    }

    /// <summary>
    /// Unit vectors of <paramref name="texts"/>, row-major [n, O], without autograd, <paramref name="batchSize"/>
    /// texts at a time, each cut to <paramref name="maxTokens"/> subwords ([cls] and [sep] included).
    /// Leaves the encoder in evaluation mode.
    /// </summary>
    public float[] Encode(WordPieceTokenizer tokenizer, IReadOnlyList<string> texts, int maxTokens, int batchSize = 256)
    {
        Eval();
        int dim = Config.OutputDim, limit = Math.Min(maxTokens, Config.MaxLength);
        var result = new float[texts.Count * dim];
        using var _ = Tensor.NoGrad();
        for (int start = 0; start < texts.Count; start += batchSize)
        {
            int count = Math.Min(batchSize, texts.Count - start);
            var rows = texts.Skip(start).Take(count).Select(t => tokenizer.EncodeWithSpecials(t, limit)).ToArray();
            ForwardRows(rows).Data.CopyTo(result, start * dim);
        }
        return result;
    }

    /// <summary>Rows scaled to unit length: x / sqrt(sum(x^2) + eps).</summary>
    public static Tensor L2Normalize(Tensor x, float eps = 1e-12f) => x / x.Square().Sum(-1, keepDim: true).AddScalar(eps).Sqrt();
}
