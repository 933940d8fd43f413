using GenSearch.Tensors;
using GenSearch.Tensors.Kernels;

namespace GenSearch.Nn;

/// <summary>
/// The state of step-by-step decoding for beam search, over an <see cref="EncoderDecoder"/> in
/// inference mode: the model computes (<see cref="EncoderDecoder.InferEncode"/>,
/// <see cref="EncoderDecoder.InferDecodeStep"/>); this class only keeps what a search carries and
/// reuses: the buffers, the cross-attention memory of each query, the self-attention cache of each
/// row (beam), which query each row belongs to, and the reordering of rows. Once its buffers have
/// grown, a step allocates nothing.
/// <para>
/// Rows are beams. All rows of a query share that query's memory: the cross-attention keys and
/// values are projected once per query, never copied per beam, and the rows of one query (adjacent,
/// as beam search keeps them) are scored against them with one product per head. Only the
/// self-attention caches move with their rows.
/// </para>
/// Shapes: Q queries, S source positions, R rows, V vocabulary.
/// </summary>
public sealed class BeamDecoder
{
    private readonly EncoderDecoder _model;
    private readonly InferenceScratch _scratch = new();
    private readonly CrossMemory _memory;
    private readonly RowKvCache _cache;
    private int[] _rowQuery = [], _spareRowQuery = []; // [R]: the query of each row
    private float[] _logProbs = [];                    // [R, V]

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
        _memory = new CrossMemory(config.DecoderLayers, config.Dim);
        _cache = new RowKvCache(config.DecoderLayers, config.MaxTargetLength, config.Dim);
    }

    /// <summary>A decoder for <paramref name="model"/>, started on <paramref name="memory"/> (see <see cref="Start(Tensor, bool[])"/>).</summary>
    public BeamDecoder(EncoderDecoder model, Tensor memory, bool[]? memoryPadding) : this(model) => Start(memory, memoryPadding);

    /// <summary>
    /// Starts a search over <paramref name="memory"/> [Q, S, D] (the encoder's output; <paramref name="memoryPadding"/>
    /// [Q * S] marks padding): one row per query, row q being query q, nothing decoded yet.
    /// </summary>
    public void Start(Tensor memory, bool[]? memoryPadding)
    {
        int d = _model.Config.Dim;
        if (memory.Rank != 3 || memory.Shape[2] != d)
            throw new ArgumentException($"memory must be [Q, S, {d}], got [{string.Join(", ", memory.Shape)}]");
        CheckEvaluation();
        StartCore(memory.Data, memory.Shape[0], memoryPadding);
    }

    /// <summary>
    /// Encodes <paramref name="source"/> [Q * S] token ids (<paramref name="padding"/> [Q * S], true =
    /// padding) with the model's encoder in inference mode and starts a search over the result, as
    /// <see cref="EncoderDecoder.Encode"/> followed by <see cref="Start(Tensor, bool[])"/> would.
    /// </summary>
    public void Start(int[] source, int queries, bool[]? padding)
    {
        CheckEvaluation();
        StartCore(_model.InferEncode(source, queries, padding, _scratch), queries, padding);
    }

    private void StartCore(ReadOnlySpan<float> memory, int queries, bool[]? padding)
    {
        _model.InferCrossMemory(memory, queries, padding, _memory);
        Reserve(queries);
        for (int q = 0; q < queries; q++) _rowQuery[q] = q;
        Rows = queries;
        Length = 0;
    }

    private void CheckEvaluation()
    {
        if (_model.Training) throw new InvalidOperationException("BeamDecoder needs the model in evaluation mode (call Eval())");
    }

    /// <summary>Live rows.</summary>
    public int Rows { get; private set; }

    /// <summary>Positions decoded so far.</summary>
    public int Length { get; private set; }

    /// <summary>Size of the target vocabulary.</summary>
    public int Vocabulary => _model.Config.TargetVocabulary;

    /// <summary>The query each row belongs to.</summary>
    public ReadOnlySpan<int> RowQueries => _rowQuery.AsSpan(0, Rows);

    /// <summary>
    /// One step: row r has just emitted <paramref name="lastTokens"/>[r] (the start token first) ->
    /// log-probabilities [Rows, V] of its next token. The span is valid until the next Step, SelectRows or Start.
    /// </summary>
    public ReadOnlySpan<float> Step(ReadOnlySpan<int> lastTokens)
    {
        int rows = Rows, v = Vocabulary;
        if (lastTokens.Length != rows) throw new ArgumentException($"{lastTokens.Length} tokens for {rows} rows");
        var logProbs = _logProbs.AsSpan(0, rows * v);
        _model.InferDecodeStep(lastTokens, Length, _cache, _memory, RowQueries, _scratch, logProbs);
        Length++;
        for (int r = 0; r < rows; r++) SoftmaxKernels.LogSoftmax(logProbs.Slice(r * v, v), logProbs.Slice(r * v, v));
        return logProbs;
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
        _cache.SelectRows(rows, Length);
        for (int i = 0; i < rows.Length; i++) _spareRowQuery[i] = _rowQuery[rows[i]];
        (_rowQuery, _spareRowQuery) = (_spareRowQuery, _rowQuery);
        Rows = rows.Length;
    }

    /// <summary>Grows every per-row buffer to hold <paramref name="rows"/> rows, keeping cached contents.</summary>
    private void Reserve(int rows)
    {
        _cache.Reserve(rows);
        if (rows <= _rowQuery.Length) return;
        int capacity = Math.Max(rows, 2 * _rowQuery.Length);
        var grown = new int[capacity];
        _rowQuery.AsSpan().CopyTo(grown);
        _rowQuery = grown;
        _spareRowQuery = new int[capacity];
        _logProbs = new float[capacity * Vocabulary];
    }
}
