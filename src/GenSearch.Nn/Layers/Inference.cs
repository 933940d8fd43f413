namespace GenSearch.Nn;

/// <summary>
/// Scratch for the inference forms of the layers (their <c>Infer</c> methods): arrays that grow to
/// the largest request and are then reused, so a warm inference call allocates nothing. One per
/// concurrent caller. Each buffer has one user at a time: the layer names which one it takes.
/// </summary>
public sealed class InferenceScratch
{
    private float[] _residual = [], _memory = [], _normed = [], _branch = [];
    private float[] _queries = [], _keys = [], _values = [], _attended = [], _scores = [], _hidden = [];

    /// <summary>The residual stream x of a model's forward.</summary>
    internal Span<float> Residual(int length) => Take(ref _residual, length);
    /// <summary>An encoder's output.</summary>
    internal Span<float> Memory(int length) => Take(ref _memory, length);
    /// <summary>norm(x), the input of a residual branch.</summary>
    internal Span<float> Normed(int length) => Take(ref _normed, length);
    /// <summary>A residual branch's output, before it is added to x.</summary>
    internal Span<float> Branch(int length) => Take(ref _branch, length);
    /// <summary>Attention's projected queries, keys and values, and the heads' outputs.</summary>
    internal Span<float> Queries(int length) => Take(ref _queries, length);
    internal Span<float> Keys(int length) => Take(ref _keys, length);
    internal Span<float> Values(int length) => Take(ref _values, length);
    internal Span<float> Attended(int length) => Take(ref _attended, length);
    /// <summary>Attention probabilities of one head.</summary>
    internal Span<float> Scores(int length) => Take(ref _scores, length);
    /// <summary>The feed-forward block's hidden layer.</summary>
    internal Span<float> Hidden(int length) => Take(ref _hidden, length);

    private static Span<float> Take(ref float[] buffer, int length)
    {
        if (buffer.Length < length) buffer = new float[length];
        return buffer.AsSpan(0, length);
    }
}

/// <summary>
/// Inference-mode self-attention cache of a decoder: every layer's keys and values of the positions
/// each row (beam) has decoded so far, as 2 x layers sections (keys and values of layer 0, then of
/// layer 1, ...) of [rows, MaxLength, D]. Rows are reordered with <see cref="SelectRows"/>, which
/// copies only the used positions; buffers are kept from use to use.
/// <para>
/// A row's block is padded by one cache line past MaxLength x D floats, so that rows are not a power
/// of two apart: with 8 positions of 256 floats they would be 8 KiB apart, and position t of every
/// row would fall into the same few cache sets when a step reads it for all 50 beams.
/// </para>
/// </summary>
public sealed class RowKvCache
{
    private const int Pad = 16; // floats: one 64-byte cache line
    private readonly int _sections, _maxLength, _dim, _rowStride;
    private float[] _data = [], _spare = [];

    /// <summary>A cache for <paramref name="layers"/> layers of width <paramref name="dim"/>, up to <paramref name="maxLength"/> positions.</summary>
    public RowKvCache(int layers, int maxLength, int dim)
    {
        (_sections, _maxLength, _dim) = (2 * layers, maxLength, dim);
        _rowStride = maxLength * dim + Pad;
    }

    /// <summary>Longest sequence cached.</summary>
    public int MaxLength => _maxLength;

    /// <summary>Rows the buffers hold now.</summary>
    public int Capacity { get; private set; }

    /// <summary>[MaxLength, D] keys of <paramref name="row"/> in <paramref name="layer"/>.</summary>
    internal Span<float> Keys(int layer, int row) => _data.AsSpan(((2 * layer) * Capacity + row) * _rowStride, _maxLength * _dim);

    /// <summary>[MaxLength, D] values of <paramref name="row"/> in <paramref name="layer"/>.</summary>
    internal Span<float> Values(int layer, int row) => _data.AsSpan(((2 * layer + 1) * Capacity + row) * _rowStride, _maxLength * _dim);

    /// <summary>Grows to hold <paramref name="rows"/> rows (at least doubling), keeping what is cached.</summary>
    public void Reserve(int rows)
    {
        if (rows <= Capacity) return;
        int capacity = Math.Max(rows, 2 * Capacity);
        var grown = new float[_sections * capacity * _rowStride];
        for (int s = 0; s < _sections; s++)
            _data.AsSpan(s * Capacity * _rowStride, Capacity * _rowStride).CopyTo(grown.AsSpan(s * capacity * _rowStride));
        _data = grown;
        _spare = new float[grown.Length];
        Capacity = capacity;
    }

    /// <summary>
    /// From now on row i holds what row <paramref name="rows"/>[i] held, for the first
    /// <paramref name="length"/> positions of every layer (rows may repeat or vanish).
    /// </summary>
    public void SelectRows(ReadOnlySpan<int> rows, int length)
    {
        Reserve(rows.Length);
        int used = length * _dim;
        for (int s = 0; s < _sections; s++)
        {
            int section = s * Capacity * _rowStride;
            for (int i = 0; i < rows.Length; i++)
                _data.AsSpan(section + rows[i] * _rowStride, used).CopyTo(_spare.AsSpan(section + i * _rowStride, used));
        }
        (_data, _spare) = (_spare, _data);
    }
}

/// <summary>
/// Inference-mode cross-attention memory of a decoder: every layer's keys and values of the
/// encoder's output, [Q * S, D] per layer, projected once per query and shared by all of its rows
/// (beams), with the source padding [Q * S].
/// </summary>
public sealed class CrossMemory
{
    private readonly float[][] _keys, _values;
    private readonly int _dim;
    private bool[]? _padding;

    /// <summary>Memory for <paramref name="layers"/> layers of width <paramref name="dim"/>; empty until <see cref="Reset"/>.</summary>
    public CrossMemory(int layers, int dim)
    {
        _dim = dim;
        _keys = new float[layers][];
        _values = new float[layers][];
        for (int l = 0; l < layers; l++) _keys[l] = _values[l] = [];
    }

    /// <summary>Queries held.</summary>
    public int Queries { get; private set; }

    /// <summary>Source positions per query (S).</summary>
    public int SourceLength { get; private set; }

    /// <summary>Makes room for <paramref name="queries"/> x <paramref name="sourceLength"/> positions with <paramref name="padding"/> [Q * S] (true = padding; null: none).</summary>
    public void Reset(int queries, int sourceLength, bool[]? padding)
    {
        if (padding is not null && padding.Length != queries * sourceLength)
            throw new ArgumentException($"memory padding has {padding.Length} entries, needs {queries * sourceLength}");
        (Queries, SourceLength, _padding) = (queries, sourceLength, padding);
        int length = queries * sourceLength * _dim;
        for (int l = 0; l < _keys.Length; l++)
            if (_keys[l].Length < length) (_keys[l], _values[l]) = (new float[length], new float[length]);
    }

    /// <summary>[Q * S, D] keys of <paramref name="layer"/>.</summary>
    internal Span<float> Keys(int layer) => _keys[layer].AsSpan(0, Queries * SourceLength * _dim);

    /// <summary>[Q * S, D] values of <paramref name="layer"/>.</summary>
    internal Span<float> Values(int layer) => _values[layer].AsSpan(0, Queries * SourceLength * _dim);

    /// <summary>[S] padding of <paramref name="query"/>, empty when there is none.</summary>
    internal ReadOnlySpan<bool> Padding(int query) => _padding is null ? default : _padding.AsSpan(query * SourceLength, SourceLength);
}
