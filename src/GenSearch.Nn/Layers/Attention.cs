using GenSearch.Tensors;
using GenSearch.Tensors.Kernels;

namespace GenSearch.Nn;

/// <summary>
/// Keys and values already computed for one attention layer during step-by-step decoding, [B, T, D].
/// Self-attention appends the new step's keys; cross-attention computes the memory's keys once.
/// </summary>
public sealed class KvCache
{
    /// <summary>[B, T, D] projected keys so far, or null before the first step.</summary>
    public Tensor? Keys { get; internal set; }

    /// <summary>[B, T, D] projected values so far.</summary>
    public Tensor? Values { get; internal set; }

    /// <summary>Positions cached.</summary>
    public int Length => Keys?.Shape[1] ?? 0;

    /// <summary>
    /// Keeps, for each new batch row i, the cached row <paramref name="rows"/>[i]: beam search calls this
    /// when surviving beams are reordered or duplicated.
    /// </summary>
    public void SelectRows(int[] rows)
    {
        Keys = Keys is null ? null : SelectBatchRows(Keys, rows);
        Values = Values is null ? null : SelectBatchRows(Values, rows);
    }

    internal static Tensor SelectBatchRows(Tensor t, int[] rows)
    {
        int rowSize = t.Size / t.Shape[0];
        var data = new float[rows.Length * rowSize];
        for (int i = 0; i < rows.Length; i++) Array.Copy(t.Data, rows[i] * rowSize, data, i * rowSize, rowSize);
        return new Tensor(data, [rows.Length, .. t.Shape[1..]]);
    }
}

/// <summary>
/// Multi-head attention with query, key, value and output projections; self-attention when no memory
/// is given, cross-attention to the memory otherwise. Heads are column blocks of the projections and
/// the core is one kernel per head (<see cref="AttentionKernels.Head"/>), run by the fused op
/// <see cref="Tensor.Attention"/> in <see cref="Forward"/> and directly by the inference forms
/// (<c>Infer...</c>: no autograd, buffers from an <see cref="InferenceScratch"/>, the same weights).
/// </summary>
public sealed class MultiHeadAttention : Module
{
    private readonly int _heads, _dim;
    private readonly float _scale;
    private readonly Linear _query, _key, _value, _output;

    /// <summary>Attention over vectors of <paramref name="dim"/> split into <paramref name="heads"/> heads.</summary>
    public MultiHeadAttention(int dim, int heads, Rng rng)
    {
        if (dim % heads != 0) throw new ArgumentException($"dimension {dim} does not split into {heads} heads");
        _heads = heads;
        _dim = dim;
        _scale = 1f / MathF.Sqrt(dim / heads); // as Tensor.Attention scales
        _query = RegisterModule("query", new Linear(dim, dim, rng));
        _key = RegisterModule("key", new Linear(dim, dim, rng));
        _value = RegisterModule("value", new Linear(dim, dim, rng));
        _output = RegisterModule("output", new Linear(dim, dim, rng));
    }

    /// <summary>
    /// x [B, Tq, D] attends to itself (memory null) or to memory [B, Tk, D].
    /// With a <paramref name="cache"/>, self-attention appends this call's keys and values to the
    /// cache and attends to all of them; cross-attention projects the memory once and reuses it.
    /// </summary>
    public Tensor Forward(Tensor x, Tensor? memory = null, bool causal = false, bool[]? keyPadding = null, KvCache? cache = null)
    {
        var q = _query.Forward(x);
        Tensor k, v;
        if (memory is not null)
        {
            if (cache?.Keys is not null) { k = cache.Keys; v = cache.Values!; }
            else
            {
                k = _key.Forward(memory); v = _value.Forward(memory);
                if (cache is not null) { cache.Keys = k; cache.Values = v; }
            }
        }
        else
        {
            k = _key.Forward(x); v = _value.Forward(x);
            if (cache is not null)
            {
                if (cache.Keys is not null)
                {
                    k = Tensor.Concat([cache.Keys, k], 1);
                    v = Tensor.Concat([cache.Values!, v], 1);
                }
                cache.Keys = k; cache.Values = v;
            }
        }
        var attended = Tensor.Attention(q, k, v, _heads, causal, keyPadding);
        return _output.Forward(attended);
    }

    /// <summary>
    /// Inference form of self-attention without a cache (<c>Forward(x, keyPadding: padding)</c>):
    /// x [groups * T, D] -> y [groups * T, D], each group of T rows attending to its own rows;
    /// <paramref name="keyPadding"/> [groups * T] (empty: none) masks keys.
    /// </summary>
    public void InferSelf(ReadOnlySpan<float> x, int groups, ReadOnlySpan<bool> keyPadding, InferenceScratch scratch, Span<float> y)
    {
        int n = x.Length, t = n / _dim / groups;
        Span<float> q = scratch.Queries(n), k = scratch.Keys(n), v = scratch.Values(n), attended = scratch.Attended(n), p = scratch.Scores(t * t);
        _query.Infer(x, q);
        _key.Infer(x, k);
        _value.Infer(x, v);
        for (int g = 0; g < groups; g++)
        {
            int at = g * t * _dim;
            AttendHeads(q[at..], t, k[at..], v[at..], t, causal: false, keyPadding.IsEmpty ? default : keyPadding.Slice(g * t, t), p, attended[at..]);
        }
        _output.Infer(attended, y);
    }

    /// <summary>
    /// Inference form of causal self-attention with a cache, one decoding step: x [R, D] holds each
    /// row's newest position <paramref name="position"/>, whose keys and values are written into
    /// <paramref name="cache"/> (layer <paramref name="layer"/>); each row then attends to its own
    /// positions 0..position. y [R, D].
    /// </summary>
    public void InferStep(ReadOnlySpan<float> x, RowKvCache cache, int layer, int position, InferenceScratch scratch, Span<float> y)
    {
        int n = x.Length, rows = n / _dim, d = _dim;
        Span<float> q = scratch.Queries(n), k = scratch.Keys(n), v = scratch.Values(n), attended = scratch.Attended(n), p = scratch.Scores(position + 1);
        _query.Infer(x, q);
        _key.Infer(x, k);
        _value.Infer(x, v);
        for (int r = 0; r < rows; r++)
        {
            Span<float> keys = cache.Keys(layer, r), values = cache.Values(layer, r);
            k.Slice(r * d, d).CopyTo(keys.Slice(position * d, d));
            v.Slice(r * d, d).CopyTo(values.Slice(position * d, d));
            AttendHeads(q.Slice(r * d, d), 1, keys, values, position + 1, causal: true, default, p, attended.Slice(r * d, d));
        }
        _output.Infer(attended, y);
    }

    /// <summary>Inference form of the keys and values cross-attention computes from memory [N, D] (each [N, D]).</summary>
    public void InferKeysValues(ReadOnlySpan<float> memory, Span<float> keys, Span<float> values)
    {
        _key.Infer(memory, keys);
        _value.Infer(memory, values);
    }

    /// <summary>
    /// Inference form of cross-attention: x [R, D], row r belonging to query <paramref name="rowQuery"/>[r],
    /// attends to that query's memory keys and values in <paramref name="memory"/> (layer <paramref name="layer"/>),
    /// never copied per row: each run of adjacent rows of one query takes one product per head. y [R, D].
    /// </summary>
    public void InferCross(ReadOnlySpan<float> x, ReadOnlySpan<int> rowQuery, CrossMemory memory, int layer, InferenceScratch scratch, Span<float> y)
    {
        int n = x.Length, rows = n / _dim, d = _dim, s = memory.SourceLength;
        Span<float> q = scratch.Queries(n), attended = scratch.Attended(n);
        ReadOnlySpan<float> keys = memory.Keys(layer), values = memory.Values(layer);
        _query.Infer(x, q);
        for (int first = 0; first < rows;)
        {
            int query = rowQuery[first], end = first + 1;
            while (end < rows && rowQuery[end] == query) end++;
            int count = end - first, at = query * s * d;
            AttendHeads(q[(first * d)..], count, keys[at..], values[at..], s, causal: false, memory.Padding(query),
                scratch.Scores(count * s), attended[(first * d)..]);
            first = end;
        }
        _output.Infer(attended, y);
    }

    /// <summary>Every head of <paramref name="queries"/> rows of q [.., D] against <paramref name="keys"/> rows of k and v [.., D] into o [.., D].</summary>
    private void AttendHeads(ReadOnlySpan<float> q, int queries, ReadOnlySpan<float> k, ReadOnlySpan<float> v, int keys, bool causal,
        ReadOnlySpan<bool> keyPadding, Span<float> p, Span<float> o)
    {
        int dh = _dim / _heads;
        for (int h = 0; h < _heads; h++)
            AttentionKernels.Head(q[(h * dh)..], _dim, k[(h * dh)..], v[(h * dh)..], _dim, queries, keys, dh, _scale, causal, keyPadding, p, o[(h * dh)..], _dim);
    }
}

/// <summary>Position-wise feed-forward block: Linear -> GELU -> dropout -> Linear.</summary>
public sealed class FeedForward : Module
{
    private readonly Linear _up, _down;
    private readonly float _dropout;
    private readonly Rng _rng;

    /// <summary>dim -> hidden -> dim.</summary>
    public FeedForward(int dim, int hidden, float dropout, Rng rng)
    {
        _up = RegisterModule("up", new Linear(dim, hidden, rng));
        _down = RegisterModule("down", new Linear(hidden, dim, rng));
        _dropout = dropout;
        _rng = rng;
    }

    /// <summary>x [..., dim] -> [..., dim].</summary>
    public Tensor Forward(Tensor x) => _down.Forward(_up.Forward(x).Gelu().Dropout(_dropout, _rng, Training));

    /// <summary>Inference form of <see cref="Forward"/> (no dropout): x [rows, dim] -> y [rows, dim].</summary>
    public void Infer(ReadOnlySpan<float> x, InferenceScratch scratch, Span<float> y)
    {
        var hidden = scratch.Hidden(x.Length / _up.Weight.Shape[1] * _up.Weight.Shape[0]);
        _up.Infer(x, hidden);
        Activations.Gelu(hidden, hidden);
        _down.Infer(hidden, y);
    }
}
