using System.Numerics.Tensors;
using GenSearch.Tensors;
using Tensor = GenSearch.Tensors.Tensor;

namespace GenSearch.Nn;

/// <summary>
/// Pre-norm transformer encoder layer (as in GPT-2 and PyTorch's norm_first=True):
/// x = x + dropout(attention(norm1(x))); x = x + dropout(ffn(norm2(x))).
/// <see cref="Forward"/> trains (autograd); <see cref="Infer"/> is the same layer in inference mode.
/// </summary>
public sealed class TransformerEncoderLayer : Module
{
    private readonly LayerNorm _norm1, _norm2;
    private readonly MultiHeadAttention _attention;
    private readonly FeedForward _ffn;
    private readonly float _dropout;
    private readonly Rng _rng;

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

    /// <summary>
    /// Inference form of <see cref="Forward"/> (dropout off), in place: x [groups * T, D], each group of
    /// T rows one sequence; <paramref name="padding"/> [groups * T] (empty: none) marks padding keys.
    /// </summary>
    public void Infer(Span<float> x, int groups, ReadOnlySpan<bool> padding, InferenceScratch scratch)
    {
        Span<float> h = scratch.Normed(x.Length), branch = scratch.Branch(x.Length);
        _norm1.Infer(x, h);
        _attention.InferSelf(h, groups, padding, scratch, branch);
        TensorPrimitives.Add(x, branch, x);
        _norm2.Infer(x, h);
        _ffn.Infer(h, scratch, branch);
        TensorPrimitives.Add(x, branch, x);
    }
}

/// <summary>
/// Pre-norm transformer decoder layer: causal self-attention, cross-attention to the encoder's
/// memory, feed-forward; each as x = x + dropout(block(norm(x))).
/// <see cref="Forward"/> trains (autograd); <see cref="InferStep"/> is one decoding step of the same layer in inference mode.
/// </summary>
public sealed class TransformerDecoderLayer : Module
{
    private readonly LayerNorm _norm1, _norm2, _norm3;
    private readonly MultiHeadAttention _selfAttention, _crossAttention;
    private readonly FeedForward _ffn;
    private readonly float _dropout;
    private readonly Rng _rng;

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

    /// <summary>Inference form of the cross-attention's keys and values of memory [N, D] (each [N, D]), computed once per search.</summary>
    public void InferMemory(ReadOnlySpan<float> memory, Span<float> keys, Span<float> values) => _crossAttention.InferKeysValues(memory, keys, values);

    /// <summary>
    /// Inference form of <see cref="Forward"/> with caches (dropout off), one step, in place: x [R, D]
    /// holds each row's newest position <paramref name="position"/>; its self-attention keys and values
    /// go into <paramref name="cache"/> as layer <paramref name="layer"/>, and row r attends to the
    /// memory of query <paramref name="rowQuery"/>[r].
    /// </summary>
    public void InferStep(Span<float> x, int position, RowKvCache cache, int layer, CrossMemory memory, ReadOnlySpan<int> rowQuery, InferenceScratch scratch)
    {
        Span<float> h = scratch.Normed(x.Length), branch = scratch.Branch(x.Length);
        _norm1.Infer(x, h);
        _selfAttention.InferStep(h, cache, layer, position, scratch, branch);
        TensorPrimitives.Add(x, branch, x);
        _norm2.Infer(x, h);
        _crossAttention.InferCross(h, rowQuery, memory, layer, scratch, branch);
        TensorPrimitives.Add(x, branch, x);
        _norm3.Infer(x, h);
        _ffn.Infer(h, scratch, branch);
        TensorPrimitives.Add(x, branch, x);
    }
}
