using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using GenSearch.Tensors;
using GenSearch.Tensors.Kernels;
using Tensor = GenSearch.Tensors.Tensor;

namespace GenSearch.Nn;

/// <summary>
/// Step-by-step decoding of an <see cref="EncoderDecoder"/> for beam search, inference only: the same
/// arithmetic as <see cref="EncoderDecoder.DecodeStep"/> (tested against <see cref="EncoderDecoder.Decode"/>),
/// without the autograd engine's per-op tensors. Every buffer is kept and reused, so a step allocates
/// nothing once the beam is full.
/// <para>
/// Rows are beams. Each row belongs to one query, and all rows of a query share that query's encoder
/// memory: the cross-attention keys and values are projected once per query, never copied per beam,
/// and the rows of one query (adjacent, as beam search keeps them) are scored against them with one
/// product per head. Only the self-attention caches move with their rows.
/// </para>
/// Shapes: Q queries, S source positions, R rows, T positions decoded, D width, F feed-forward width, V vocabulary.
/// </summary>
public sealed class BeamDecoder
{
    private readonly EncoderDecoder _model;
    private readonly int _dim, _heads, _headDim, _ffn, _vocabulary, _maxLength;
    private readonly float _scale;
    private int _sourceLength;
    private bool[]? _memoryPadding;            // [Q * S]
    private readonly float[][] _crossKeys;     // per layer [Q * S, D]
    private readonly float[][] _crossValues;   // per layer [Q * S, D]
    private float[][] _selfKeys;               // per layer [R capacity, maxLength, D]
    private float[][] _selfValues;
    private float[] _spare;                    // SelectRows copies a cache here, then swaps it in
    private int[] _rowQuery;                   // [R]: the query of each row
    private int[] _spareRowQuery;
    private int _capacity;

    // Step buffers, [R, D] unless noted.
    private float[] _x = [], _h = [], _q = [], _k = [], _v = [], _attended = [], _branch = [];
    private float[] _hidden = [];   // [R, F]
    private float[] _logProbs = []; // [R, V]
    private float[] _scores = [];   // attention scores of one product: [R, max(S, T)]

    // Encoder buffers, [Q * S, D] unless noted; the last layer norm's output (the memory) lands in _eh.
    private float[] _ex = [], _eh = [], _eq = [], _ek = [], _ev = [], _eAttended = [], _eBranch = [];
    private float[] _eHidden = []; // [Q * S, F]
    private float[] _eScores = []; // [S, S]

    /// <summary>
    /// A decoder for <paramref name="model"/>, which must be in evaluation mode (no dropout); call
    /// <see cref="Start(int[], int, bool[])"/> before each search. Its buffers are kept from search to search, so a
    /// server that reuses one decoder per thread allocates nothing per query once they have grown.
    /// Weights are read from the model at every step, never copied, so the decoder does not go stale.
    /// </summary>
    public BeamDecoder(EncoderDecoder model)
    {
        var config = model.Config;
        _model = model;
        _dim = config.Dim;
        _heads = config.Heads;
        _headDim = _dim / _heads;
        _ffn = config.FfnDim;
        _vocabulary = config.TargetVocabulary;
        _maxLength = config.MaxTargetLength;
        _scale = 1f / MathF.Sqrt(_headDim);
        int layers = model.DecoderLayers.Count;
        _crossKeys = new float[layers][];
        _crossValues = new float[layers][];
        _selfKeys = new float[layers][];
        _selfValues = new float[layers][];
        for (int l = 0; l < layers; l++) _crossKeys[l] = _crossValues[l] = _selfKeys[l] = _selfValues[l] = [];
        _spare = [];
        _rowQuery = [];
        _spareRowQuery = [];
    }

    /// <summary>A decoder for <paramref name="model"/>, started on <paramref name="memory"/> (see <see cref="Start(Tensor, bool[])"/>).</summary>
    public BeamDecoder(EncoderDecoder model, Tensor memory, bool[]? memoryPadding) : this(model) => Start(memory, memoryPadding);

    /// <summary>
    /// Starts a search over <paramref name="memory"/> [Q, S, D] (the encoder's output; <paramref name="memoryPadding"/>
    /// [Q * S] marks padding): one row per query, row q being query q, nothing decoded yet.
    /// </summary>
    public void Start(Tensor memory, bool[]? memoryPadding)
    {
        if (memory.Rank != 3 || memory.Shape[2] != _dim)
            throw new ArgumentException($"memory must be [Q, S, {_dim}], got [{string.Join(", ", memory.Shape)}]");
        StartCore(memory.Data, memory.Shape[0], memory.Shape[1], memoryPadding);
    }

    /// <summary>
    /// Encodes <paramref name="source"/> [Q * S] token ids (<paramref name="padding"/> [Q * S], true =
    /// padding) with the model's encoder and starts a search over the result: the arithmetic of
    /// <see cref="EncoderDecoder.Encode"/> followed by <see cref="Start(Tensor, bool[])"/>, in this decoder's buffers.
    /// </summary>
    public void Start(int[] source, int queries, bool[]? padding)
    {
        if (_model.Training) throw new InvalidOperationException("BeamDecoder needs the model in evaluation mode (call Eval())");
        var config = _model.Config;
        if (queries <= 0 || source.Length % queries != 0) throw new ArgumentException($"{source.Length} source tokens do not split into {queries} rows");
        int s = source.Length / queries, n = source.Length, d = _dim, dh = _headDim;
        if (s == 0 || s > config.MaxSourceLength) throw new ArgumentException($"source length {s} is outside 1..{config.MaxSourceLength}");
        if (padding is not null && padding.Length != n) throw new ArgumentException($"source padding has {padding.Length} entries, needs {n}");
        EnsureLength(ref _ex, n * d); EnsureLength(ref _eh, n * d); EnsureLength(ref _eq, n * d); EnsureLength(ref _ek, n * d);
        EnsureLength(ref _ev, n * d); EnsureLength(ref _eAttended, n * d); EnsureLength(ref _eBranch, n * d);
        EnsureLength(ref _eHidden, n * _ffn); EnsureLength(ref _eScores, s * s);

        // x = token embedding + position embedding
        float[] tokens = _model.SourceTokens.Weight.Data, positions = _model.SourcePositions.Weight.Data;
        for (int i = 0; i < n; i++)
        {
            int t = source[i];
            if ((uint)t >= (uint)config.SourceVocabulary) throw new ArgumentOutOfRangeException(nameof(source), $"source token {t} is outside the vocabulary of {config.SourceVocabulary}");
            TensorPrimitives.Add(tokens.AsSpan(t * d, d), positions.AsSpan(i % s * d, d), _ex.AsSpan(i * d, d));
        }
        foreach (var layer in _model.EncoderLayers)
        {
            // x = x + Attention(norm1(x)) over each query's own positions, padding keys masked
            LayerNorm(_ex, n, layer.Norm1, _eh);
            var attention = layer.Attention;
            Project(_eh, n, attention.Query, _eq);
            Project(_eh, n, attention.Key, _ek);
            Project(_eh, n, attention.Value, _ev);
            for (int b = 0; b < queries; b++)
                for (int h = 0; h < _heads; h++)
                {
                    int offset = b * s * d + h * dh;
                    Gemm.Sgemm(false, true, s, s, dh, _scale, _eq.AsSpan(offset), d, _ek.AsSpan(offset), d, 0f, _eScores, s);
                    for (int i = 0; i < s; i++)
                    {
                        var row = _eScores.AsSpan(i * s, s);
                        if (padding is not null)
                            for (int j = 0; j < s; j++) if (padding[b * s + j]) row[j] = float.NegativeInfinity;
                        SoftmaxRow(row);
                    }
                    Gemm.Sgemm(false, false, s, dh, s, 1f, _eScores, s, _ev.AsSpan(offset), d, 0f, _eAttended.AsSpan(offset), d);
                }
            Project(_eAttended, n, attention.Output, _eBranch);
            AddResidual(_ex, _eBranch, n);
            // x = x + Down(gelu(Up(norm2(x))))
            AddFeedForward(_ex, n, layer.Norm2, layer.Ffn, _eh, _eHidden, _eBranch);
        }
        LayerNorm(_ex, n, _model.EncoderNorm, _eh); // the memory
        StartCore(_eh, queries, s, padding);
    }

    private static void EnsureLength(ref float[] buffer, int length)
    {
        if (buffer.Length < length) buffer = new float[length];
    }

    private void StartCore(float[] memory, int queries, int sourceLength, bool[]? memoryPadding)
    {
        if (_model.Training) throw new InvalidOperationException("BeamDecoder needs the model in evaluation mode (call Eval())");
        if (memoryPadding is not null && memoryPadding.Length != queries * sourceLength)
            throw new ArgumentException($"memory padding has {memoryPadding.Length} entries, needs {queries * sourceLength}");
        _sourceLength = sourceLength;
        _memoryPadding = memoryPadding;
        int memoryRows = queries * sourceLength;
        for (int l = 0; l < _crossKeys.Length; l++)
        {
            var cross = _model.DecoderLayers[l].CrossAttention;
            if (_crossKeys[l].Length < memoryRows * _dim)
            {
                _crossKeys[l] = new float[memoryRows * _dim];
                _crossValues[l] = new float[memoryRows * _dim];
            }
            Project(memory, memoryRows, cross.Key, _crossKeys[l]);
            Project(memory, memoryRows, cross.Value, _crossValues[l]);
        }
        // The attention scores buffer depends on the source length as well as on the rows.
        if (_scores.Length < _capacity * Math.Max(sourceLength, _maxLength)) _scores = new float[_capacity * Math.Max(sourceLength, _maxLength)];
        Reserve(queries);
        Rows = queries;
        Length = 0;
        for (int q = 0; q < queries; q++) _rowQuery[q] = q;
    }

    /// <summary>Live rows.</summary>
    public int Rows { get; private set; }

    /// <summary>Positions decoded so far.</summary>
    public int Length { get; private set; }

    /// <summary>Size of the target vocabulary.</summary>
    public int Vocabulary => _vocabulary;

    /// <summary>The query each row belongs to.</summary>
    public ReadOnlySpan<int> RowQueries => _rowQuery.AsSpan(0, Rows);

    /// <summary>
    /// One step: row r has just emitted <paramref name="lastTokens"/>[r] (the start token first) ->
    /// log-probabilities [Rows, V] of its next token. The span is valid until the next Step, SelectRows or Start.
    /// </summary>
    public ReadOnlySpan<float> Step(ReadOnlySpan<int> lastTokens)
    {
        int rows = Rows, d = _dim, position = Length;
        if (lastTokens.Length != rows) throw new ArgumentException($"{lastTokens.Length} tokens for {rows} rows");
        if (position >= _maxLength) throw new InvalidOperationException($"decoding past the longest target ({_maxLength})");

        // x = token embedding + position embedding (dropout is off in evaluation)
        float[] tokens = _model.TargetTokens.Weight.Data, positions = _model.TargetPositions.Weight.Data;
        var pos = positions.AsSpan(position * d, d);
        for (int r = 0; r < rows; r++)
        {
            int t = lastTokens[r];
            if ((uint)t >= (uint)_vocabulary) throw new ArgumentOutOfRangeException(nameof(lastTokens), $"token {t} is outside the vocabulary of {_vocabulary}");
            TensorPrimitives.Add(tokens.AsSpan(t * d, d), pos, _x.AsSpan(r * d, d));
        }

        for (int l = 0; l < _model.DecoderLayers.Count; l++)
        {
            var layer = _model.DecoderLayers[l];
            // x = x + SelfAttention(norm1(x)), the new keys and values appended to the row caches
            LayerNorm(_x, rows, layer.Norm1, _h);
            var self = layer.SelfAttention;
            Project(_h, rows, self.Query, _q);
            Project(_h, rows, self.Key, _k);
            Project(_h, rows, self.Value, _v);
            float[] keys = _selfKeys[l], values = _selfValues[l];
            for (int r = 0; r < rows; r++)
            {
                _k.AsSpan(r * d, d).CopyTo(keys.AsSpan((r * _maxLength + position) * d, d));
                _v.AsSpan(r * d, d).CopyTo(values.AsSpan((r * _maxLength + position) * d, d));
            }
            SelfAttend(keys, values, rows, position + 1);
            Project(_attended, rows, self.Output, _branch);
            AddResidual(_x, _branch, rows);

            // x = x + CrossAttention(norm2(x)) against the query's shared memory keys and values
            LayerNorm(_x, rows, layer.Norm2, _h);
            var cross = layer.CrossAttention;
            Project(_h, rows, cross.Query, _q);
            CrossAttend(_crossKeys[l], _crossValues[l], rows);
            Project(_attended, rows, cross.Output, _branch);
            AddResidual(_x, _branch, rows);

            // x = x + Down(gelu(Up(norm3(x))))
            AddFeedForward(_x, rows, layer.Norm3, layer.Ffn, _h, _hidden, _branch);
        }
        Length++;

        LayerNorm(_x, rows, _model.DecoderNorm, _h);
        Project(_h, rows, _model.Head, _logProbs);
        for (int r = 0; r < rows; r++) LogSoftmaxRow(_logProbs.AsSpan(r * _vocabulary, _vocabulary));
        return _logProbs.AsSpan(0, rows * _vocabulary);
    }

    /// <summary>
    /// From now on, row i is what row <paramref name="rows"/>[i] was (rows may repeat or vanish): the
    /// self-attention caches move with their rows; the shared memory does not move at all.
    /// </summary>
    public void SelectRows(ReadOnlySpan<int> rows)
    {
        foreach (int r in rows)
            if ((uint)r >= (uint)Rows) throw new ArgumentOutOfRangeException(nameof(rows), $"row {r} of {Rows}");
        Reserve(rows.Length);
        int block = _maxLength * _dim, used = Length * _dim;
        for (int l = 0; l < _selfKeys.Length; l++)
        {
            Gather(ref _selfKeys[l], rows, block, used);
            Gather(ref _selfValues[l], rows, block, used);
        }
        for (int i = 0; i < rows.Length; i++) _spareRowQuery[i] = _rowQuery[rows[i]];
        (_rowQuery, _spareRowQuery) = (_spareRowQuery, _rowQuery);
        Rows = rows.Length;
    }

    /// <summary>Copies the used part of each selected row's block into the spare buffer and swaps it in.</summary>
    private void Gather(ref float[] cache, ReadOnlySpan<int> rows, int block, int used)
    {
        for (int i = 0; i < rows.Length; i++) cache.AsSpan(rows[i] * block, used).CopyTo(_spare.AsSpan(i * block, used));
        (cache, _spare) = (_spare, cache);
    }

    /// <summary>Grows every per-row buffer to hold <paramref name="rows"/> rows, keeping cached contents.</summary>
    private void Reserve(int rows)
    {
        if (rows <= _capacity) return;
        int capacity = Math.Max(rows, 2 * _capacity), block = _maxLength * _dim;
        for (int l = 0; l < _selfKeys.Length; l++)
        {
            Grow(ref _selfKeys[l], capacity * block);
            Grow(ref _selfValues[l], capacity * block);
        }
        _spare = new float[capacity * block];
        Grow(ref _rowQuery, capacity);
        _spareRowQuery = new int[capacity];
        (_x, _h, _q, _k, _v, _attended, _branch) = (new float[capacity * _dim], new float[capacity * _dim], new float[capacity * _dim],
            new float[capacity * _dim], new float[capacity * _dim], new float[capacity * _dim], new float[capacity * _dim]);
        _hidden = new float[capacity * _ffn];
        _logProbs = new float[capacity * _vocabulary];
        _scores = new float[capacity * Math.Max(_sourceLength, _maxLength)];
        _capacity = capacity;
    }

    private static void Grow<T>(ref T[] array, int length)
    {
        var grown = new T[length];
        array.AsSpan().CopyTo(grown);
        array = grown;
    }

    /// <summary>
    /// Self-attention of each row's newest query to its own <paramref name="length"/> cached positions
    /// (all visible). A row has at most MaxTargetLength keys per head, so each score is one short dot
    /// product, done in registers: calling the span primitives per head and position cost more than the arithmetic.
    /// </summary>
    private void SelfAttend(float[] keys, float[] values, int rows, int length)
    {
        int d = _dim, dh = _headDim;
        var p = _scores.AsSpan(0, length);
        for (int r = 0; r < rows; r++)
        {
            int cacheRow = r * _maxLength * d;
            for (int h = 0; h < _heads; h++)
            {
                var q = _q.AsSpan(r * d + h * dh, dh);
                for (int t = 0; t < length; t++) p[t] = _scale * Dot(q, keys.AsSpan(cacheRow + t * d + h * dh, dh));
                SoftmaxRow(p);
                var o = _attended.AsSpan(r * d + h * dh, dh);
                o.Clear();
                for (int t = 0; t < length; t++) AddScaled(values.AsSpan(cacheRow + t * d + h * dh, dh), p[t], o);
            }
        }
    }

    private static float Dot(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        int i = 0;
        var sum = Vector256<float>.Zero;
        for (; i <= x.Length - 8; i += 8) sum += Vector256.Create(x.Slice(i, 8)) * Vector256.Create(y.Slice(i, 8));
        float total = Vector256.Sum(sum);
        for (; i < x.Length; i++) total += x[i] * y[i];
        return total;
    }

    /// <summary>o += w * x.</summary>
    private static void AddScaled(ReadOnlySpan<float> x, float w, Span<float> o)
    {
        int i = 0;
        var wv = Vector256.Create(w);
        for (; i <= x.Length - 8; i += 8) (Vector256.Create(o.Slice(i, 8)) + wv * Vector256.Create(x.Slice(i, 8))).CopyTo(o.Slice(i, 8));
        for (; i < x.Length; i++) o[i] += w * x[i];
    }

    /// <summary>
    /// Cross-attention: each run of adjacent rows of one query against that query's memory keys and
    /// values, one [rows x Dh] x [Dh x S] product (and one back) per head.
    /// </summary>
    private void CrossAttend(float[] keys, float[] values, int rows)
    {
        int d = _dim, dh = _headDim, s = _sourceLength;
        for (int first = 0; first < rows;)
        {
            int query = _rowQuery[first], end = first + 1;
            while (end < rows && _rowQuery[end] == query) end++;
            int count = end - first, memoryRow = query * s;
            for (int h = 0; h < _heads; h++)
            {
                // scores [count, S] = scale * Q_h K_h^T, then masks and a row softmax, then O_h = P V_h.
                Gemm.Sgemm(false, true, count, s, dh, _scale, _q.AsSpan(first * d + h * dh), d,
                    keys.AsSpan(memoryRow * d + h * dh), d, 0f, _scores, s);
                for (int i = 0; i < count; i++)
                {
                    var row = _scores.AsSpan(i * s, s);
                    if (_memoryPadding is not null)
                        for (int j = 0; j < s; j++) if (_memoryPadding[memoryRow + j]) row[j] = float.NegativeInfinity;
                    SoftmaxRow(row);
                }
                Gemm.Sgemm(false, false, count, dh, s, 1f, _scores, s, values.AsSpan(memoryRow * d + h * dh), d,
                    0f, _attended.AsSpan(first * d + h * dh), d);
            }
            first = end;
        }
    }

    /// <summary>y [rows, out] = x [rows, in] W^T + b, as <see cref="Tensor.Linear"/> computes it (bias in the GEMM's epilogue).</summary>
    private static void Project(float[] x, int rows, Linear layer, float[] y)
    {
        int inDim = layer.Weight.Shape[1], outDim = layer.Weight.Shape[0];
        if (layer.Bias is not null)
            Gemm.SgemmBias(false, true, rows, outDim, inDim, 1f, x, inDim, layer.Weight.Data, inDim, 0f, y, outDim, layer.Bias.Data);
        else
            Gemm.Sgemm(false, true, rows, outDim, inDim, 1f, x, inDim, layer.Weight.Data, inDim, 0f, y, outDim);
    }

    /// <summary>Row-wise layer normalisation with the kernel <see cref="Tensor.LayerNorm"/> uses.</summary>
    private void LayerNorm(float[] x, int rows, LayerNorm norm, float[] y)
    {
        int n = _dim;
        for (int r = 0; r < rows; r++)
            LayerNormKernels.Forward(x.AsSpan(r * n, n), norm.Gamma.Data, norm.Beta.Data, y.AsSpan(r * n, n), norm.Epsilon);
    }

    /// <summary>x += Down(gelu(Up(norm(x)))) over <paramref name="rows"/> rows, through the given scratch buffers.</summary>
    private void AddFeedForward(float[] x, int rows, LayerNorm norm, FeedForward ffn, float[] normed, float[] hidden, float[] branch)
    {
        LayerNorm(x, rows, norm, normed);
        Project(normed, rows, ffn.Up, hidden);
        Activations.Gelu(hidden.AsSpan(0, rows * _ffn), hidden.AsSpan(0, rows * _ffn));
        Project(hidden, rows, ffn.Down, branch);
        AddResidual(x, branch, rows);
    }

    /// <summary>x += branch over the first <paramref name="rows"/> rows.</summary>
    private void AddResidual(float[] x, float[] branch, int rows) =>
        TensorPrimitives.Add(x.AsSpan(0, rows * _dim), branch.AsSpan(0, rows * _dim), x.AsSpan(0, rows * _dim));

    /// <summary>
    /// In-place softmax of a short row (attention over a few positions, scalar: the span primitives'
    /// per-call cost dominates at this length); -infinity entries get 0, an all -infinity row is
    /// uniform (as the tensor op does).
    /// </summary>
    private static void SoftmaxRow(Span<float> x)
    {
        float max = float.NegativeInfinity;
        foreach (float v in x) max = Math.Max(max, v);
        if (float.IsNegativeInfinity(max)) { x.Fill(1f / x.Length); return; }
        float sum = 0;
        for (int i = 0; i < x.Length; i++) { x[i] = MathF.Exp(x[i] - max); sum += x[i]; }
        float inverse = 1f / sum;
        for (int i = 0; i < x.Length; i++) x[i] *= inverse;
    }

    /// <summary>In-place log-softmax (stable: subtracts the row maximum), summing in chunks of 256 as the tensor op does.</summary>
    private static void LogSoftmaxRow(Span<float> x)
    {
        float max = TensorPrimitives.Max(x);
        TensorPrimitives.Subtract(x, max, x);
        Span<float> e = stackalloc float[256];
        float sum = 0;
        for (int i = 0; i < x.Length; i += e.Length)
        {
            var chunk = x.Slice(i, Math.Min(e.Length, x.Length - i));
            TensorPrimitives.Exp(chunk, e[..chunk.Length]);
            sum += TensorPrimitives.Sum(e[..chunk.Length]);
        }
        TensorPrimitives.Subtract(x, MathF.Log(sum), x);
    }
}
