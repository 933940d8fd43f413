using GenSearch.Tensors;

namespace GenSearch.Nn;

/// <summary>
/// Pre-norm transformer encoder layer (as in GPT-2 and PyTorch's norm_first=True):
/// x = x + dropout(attention(norm1(x))); x = x + dropout(ffn(norm2(x))).
/// </summary>
public sealed class TransformerEncoderLayer : Module
{
    private readonly LayerNorm _norm1, _norm2;
    private readonly MultiHeadAttention _attention;
    private readonly FeedForward _ffn;
    private readonly float _dropout;
    private readonly Rng _rng;

    internal LayerNorm Norm1 => _norm1;
    internal LayerNorm Norm2 => _norm2;
    internal MultiHeadAttention Attention => _attention;
    internal FeedForward Ffn => _ffn;

    /// <summary>A layer over vectors of <paramref name="dim"/>.</summary>
    public TransformerEncoderLayer(int dim, int heads, int ffnDim, float dropout, Rng rng)
    {
        _norm1 = RegisterModule("norm1", new LayerNorm(dim));
        _attention = RegisterModule("attention", new MultiHeadAttention(dim, heads, rng));
        _norm2 = RegisterModule("norm2", new LayerNorm(dim));
        _ffn = RegisterModule("ffn", new FeedForward(dim, ffnDim, dropout, rng));
        _dropout = dropout;
        _rng = rng;
    }

    /// <summary>x [B, T, D]; <paramref name="padding"/> [B, T] marks padding keys.</summary>
    public Tensor Forward(Tensor x, bool[]? padding = null)
    {
        x = x + _attention.Forward(_norm1.Forward(x), keyPadding: padding).Dropout(_dropout, _rng, Training);
        return x + _ffn.Forward(_norm2.Forward(x)).Dropout(_dropout, _rng, Training);
    }
}

/// <summary>
/// Pre-norm transformer decoder layer: causal self-attention, cross-attention to the encoder's
/// memory, feed-forward; each as x = x + dropout(block(norm(x))).
/// </summary>
public sealed class TransformerDecoderLayer : Module
{
    private readonly LayerNorm _norm1, _norm2, _norm3;
    private readonly MultiHeadAttention _selfAttention, _crossAttention;
    private readonly FeedForward _ffn;
    private readonly float _dropout;
    private readonly Rng _rng;

    internal LayerNorm Norm1 => _norm1;
    internal LayerNorm Norm2 => _norm2;
    internal LayerNorm Norm3 => _norm3;
    internal MultiHeadAttention SelfAttention => _selfAttention;
    internal MultiHeadAttention CrossAttention => _crossAttention;
    internal FeedForward Ffn => _ffn;

    /// <summary>A layer over vectors of <paramref name="dim"/>.</summary>
    public TransformerDecoderLayer(int dim, int heads, int ffnDim, float dropout, Rng rng)
    {
        _norm1 = RegisterModule("norm1", new LayerNorm(dim));
        _selfAttention = RegisterModule("self_attention", new MultiHeadAttention(dim, heads, rng));
        _norm2 = RegisterModule("norm2", new LayerNorm(dim));
        _crossAttention = RegisterModule("cross_attention", new MultiHeadAttention(dim, heads, rng));
        _norm3 = RegisterModule("norm3", new LayerNorm(dim));
        _ffn = RegisterModule("ffn", new FeedForward(dim, ffnDim, dropout, rng));
        _dropout = dropout;
        _rng = rng;
    }

    /// <summary>
    /// x [B, T, D] (the new positions), memory [B, S, D]. With caches, x holds only the newest
    /// position(s) and earlier positions come from <paramref name="selfCache"/>.
    /// </summary>
    public Tensor Forward(Tensor x, Tensor memory, bool[]? memoryPadding = null, KvCache? selfCache = null, KvCache? crossCache = null)
    {
        x = x + _selfAttention.Forward(_norm1.Forward(x), causal: true, cache: selfCache).Dropout(_dropout, _rng, Training);
        x = x + _crossAttention.Forward(_norm2.Forward(x), memory, keyPadding: memoryPadding, cache: crossCache).Dropout(_dropout, _rng, Training);
        return x + _ffn.Forward(_norm3.Forward(x)).Dropout(_dropout, _rng, Training);
    }
}
