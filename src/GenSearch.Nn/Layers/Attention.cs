using GenSearch.Tensors;

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
/// the core is one fused op (<see cref="Tensor.Attention"/>).
/// </summary>
public sealed class MultiHeadAttention : Module
{
    private readonly int _heads;
    private readonly Linear _query, _key, _value, _output;

    internal int Heads => _heads;
    internal Linear Query => _query;
    internal Linear Key => _key;
    internal Linear Value => _value;
    internal Linear Output => _output;

    /// <summary>Attention over vectors of <paramref name="dim"/> split into <paramref name="heads"/> heads.</summary>
    public MultiHeadAttention(int dim, int heads, Rng rng)
    {
        if (dim % heads != 0) throw new ArgumentException($"dimension {dim} does not split into {heads} heads");
        _heads = heads;
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
}

/// <summary>Position-wise feed-forward block: Linear -> GELU -> dropout -> Linear.</summary>
public sealed class FeedForward : Module
{
    private readonly Linear _up, _down;
    private readonly float _dropout;
    private readonly Rng _rng;

    internal Linear Up => _up;
    internal Linear Down => _down;

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
}
