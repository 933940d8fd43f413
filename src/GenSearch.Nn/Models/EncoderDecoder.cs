using System.Numerics.Tensors;
using GenSearch.Tensors;
using Tensor = GenSearch.Tensors.Tensor;

namespace GenSearch.Nn;

/// <summary>Sizes of an <see cref="EncoderDecoder"/>. The defaults are the reference benchmark model.</summary>
public sealed record EncoderDecoderConfig
{
    /// <summary>Source token vocabulary (text subwords for the search generator).</summary>
    public int SourceVocabulary { get; init; } = 512;
    /// <summary>Target token vocabulary (semantic-ID tokens for the search generator).</summary>
    public int TargetVocabulary { get; init; } = 512;
    /// <summary>Model width D.</summary>
    public int Dim { get; init; } = 256;
    /// <summary>Attention heads; D must divide by it.</summary>
    public int Heads { get; init; } = 4;
    /// <summary>Encoder layers.</summary>
    public int EncoderLayers { get; init; } = 2;
    /// <summary>Decoder layers.</summary>
    public int DecoderLayers { get; init; } = 2;
    /// <summary>Hidden width of the feed-forward blocks.</summary>
    public int FfnDim { get; init; } = 1024;
    /// <summary>Dropout on residual branches and inside the feed-forward block.</summary>
    public float Dropout { get; init; } = 0.1f;
    /// <summary>Longest source (learned positions).</summary>
    public int MaxSourceLength { get; init; } = 16;
    /// <summary>Longest target (learned positions).</summary>
    public int MaxTargetLength { get; init; } = 8;
}

/// <summary>
/// A pre-norm transformer encoder-decoder with learned positions, read top to bottom like nanoGPT.
/// Shapes: B batch, S source length, T target length, D width, V target vocabulary; in inference
/// mode Q queries and R decoding rows (beams).
/// The caller owns the token conventions (a start token, padding ids, what the targets are).
/// Two modes over the same parameters: <see cref="Encode"/>, <see cref="Decode"/> and
/// <see cref="DecodeStep"/> build autograd graphs (training, and the reference the tests hold
/// inference against); <see cref="InferEncode"/>, <see cref="InferCrossMemory"/> and
/// <see cref="InferDecodeStep"/> compose the layers' <c>Infer</c> forms on reused buffers
/// (<see cref="BeamDecoder"/> keeps those buffers and the beams' state).
/// </summary>
public sealed class EncoderDecoder : Module
{
    /// <summary>The sizes this model was built with.</summary>
    public EncoderDecoderConfig Config { get; }

    private readonly Embedding _sourceTokens, _sourcePositions, _targetTokens, _targetPositions;
    private readonly TransformerEncoderLayer[] _encoder;
    private readonly TransformerDecoderLayer[] _decoder;
    private readonly LayerNorm _encoderNorm, _decoderNorm;
    private readonly Linear _head;
    private readonly Rng _rng;

    /// <summary>A model with weights drawn from <paramref name="rng"/>, which also drives dropout.</summary>
    public EncoderDecoder(EncoderDecoderConfig config, Rng rng)
    {
        Config = config;
        _rng = rng;
        int d = config.Dim;
        _sourceTokens = RegisterModule("source_tokens", new Embedding(config.SourceVocabulary, d, rng));
        _sourcePositions = RegisterModule("source_positions", new Embedding(config.MaxSourceLength, d, rng));
        _targetTokens = RegisterModule("target_tokens", new Embedding(config.TargetVocabulary, d, rng));
        _targetPositions = RegisterModule("target_positions", new Embedding(config.MaxTargetLength, d, rng));
        var encoderLayers = RegisterModule("encoder", new ModuleList<TransformerEncoderLayer>());
        _encoder = Enumerable.Range(0, config.EncoderLayers)
            .Select(_ => encoderLayers.Add(new TransformerEncoderLayer(d, config.Heads, config.FfnDim, config.Dropout, rng))).ToArray();
        _encoderNorm = RegisterModule("encoder_norm", new LayerNorm(d));
        var decoderLayers = RegisterModule("decoder", new ModuleList<TransformerDecoderLayer>());
        _decoder = Enumerable.Range(0, config.DecoderLayers)
            .Select(_ => decoderLayers.Add(new TransformerDecoderLayer(d, config.Heads, config.FfnDim, config.Dropout, rng))).ToArray();
        _decoderNorm = RegisterModule("decoder_norm", new LayerNorm(d));
        _head = RegisterModule("head", new Linear(d, config.TargetVocabulary, rng));
    }

    /// <summary>source [B * S] token ids -> memory [B, S, D]. <paramref name="padding"/> [B * S], true = padding.</summary>
    public Tensor Encode(int[] source, int batch, bool[]? padding = null)
    {
        int s = CheckLength(source.Length, batch, Config.MaxSourceLength, "source");
        var x = _sourceTokens.Forward(source, batch, s) + _sourcePositions.Forward(Positions(0, s), s);
        x = x.Dropout(Config.Dropout, _rng, Training);
        foreach (var layer in _encoder) x = layer.Forward(x, padding);
        return _encoderNorm.Forward(x);
    }

    /// <summary>Teacher-forced decoding: target inputs [B * T] -> logits [B, T, V].</summary>
    public Tensor Decode(Tensor memory, bool[]? memoryPadding, int[] targetInput, int batch)
    {
        int t = CheckLength(targetInput.Length, batch, Config.MaxTargetLength, "target");
        var x = _targetTokens.Forward(targetInput, batch, t) + _targetPositions.Forward(Positions(0, t), t);
        x = x.Dropout(Config.Dropout, _rng, Training);
        foreach (var layer in _decoder) x = layer.Forward(x, memory, memoryPadding);
        return _head.Forward(_decoderNorm.Forward(x));
    }

    /// <summary>Fresh caches for <see cref="DecodeStep"/>: one self and one cross cache per decoder layer.</summary>
    public DecoderState StartDecoding(Tensor memory, bool[]? memoryPadding)
        => new(memory, memoryPadding, _decoder.Select(_ => new KvCache()).ToArray(), _decoder.Select(_ => new KvCache()).ToArray());

    /// <summary>
    /// One decoding step with KV caches: the newest token of each row [B] -> logits [B, V] for the next.
    /// Gives the same numbers as <see cref="Decode"/> over the whole prefix (tested).
    /// </summary>
    public Tensor DecodeStep(DecoderState state, int[] lastTokens)
    {
        int batch = lastTokens.Length, position = state.Length;
        if (position >= Config.MaxTargetLength) throw new InvalidOperationException($"decoding past the longest target ({Config.MaxTargetLength})");
        var x = _targetTokens.Forward(lastTokens, batch, 1) + _targetPositions.Forward([position], 1);
        x = x.Dropout(Config.Dropout, _rng, Training);
        for (int i = 0; i < _decoder.Length; i++)
            x = _decoder[i].Forward(x, state.Memory, state.MemoryPadding, state.SelfCaches[i], state.CrossCaches[i]);
        state.Length++;
        return _head.Forward(_decoderNorm.Forward(x)).Reshape(batch, Config.TargetVocabulary);
    }

    /// <summary>
    /// Inference form of <see cref="Encode"/> (dropout off): source [Q * S] token ids (<paramref name="padding"/>
    /// [Q * S], true = padding) -> memory [Q * S, D], a span of <paramref name="scratch"/> valid until its next use.
    /// </summary>
    public ReadOnlySpan<float> InferEncode(ReadOnlySpan<int> source, int batch, bool[]? padding, InferenceScratch scratch)
    {
        int s = CheckLength(source.Length, batch, Config.MaxSourceLength, "source"), n = source.Length, d = Config.Dim;
        if (padding is not null && padding.Length != n) throw new ArgumentException($"source padding has {padding.Length} entries, needs {n}");
        var x = scratch.Residual(n * d);
        for (int i = 0; i < n; i++) TensorPrimitives.Add(_sourceTokens.Row(source[i]), _sourcePositions.Row(i % s), x.Slice(i * d, d));
        foreach (var layer in _encoder) layer.Infer(x, batch, padding, scratch);
        var memory = scratch.Memory(n * d);
        _encoderNorm.Infer(x, memory);
        return memory;
    }

    /// <summary>
    /// Inference form of the cross caches <see cref="DecodeStep"/> fills on its first step: every decoder
    /// layer's keys and values of memory [Q * S, D], into <paramref name="target"/>, once per search.
    /// </summary>
    public void InferCrossMemory(ReadOnlySpan<float> memory, int queries, bool[]? padding, CrossMemory target)
    {
        int d = Config.Dim;
        if (queries <= 0 || memory.Length % (queries * d) != 0) throw new ArgumentException($"memory of {memory.Length} floats is not [{queries}, S, {d}]");
        target.Reset(queries, memory.Length / (queries * d), padding);
        for (int l = 0; l < _decoder.Length; l++) _decoder[l].InferMemory(memory, target.Keys(l), target.Values(l));
    }

    /// <summary>
    /// Inference form of <see cref="DecodeStep"/> (dropout off): row r has just emitted
    /// <paramref name="lastTokens"/>[r] at <paramref name="position"/> -> <paramref name="logits"/> [R, V]
    /// for its next token. Row r's earlier positions are in <paramref name="cache"/>; it attends to the
    /// memory of query <paramref name="rowQuery"/>[r].
    /// </summary>
    public void InferDecodeStep(ReadOnlySpan<int> lastTokens, int position, RowKvCache cache, CrossMemory memory, ReadOnlySpan<int> rowQuery,
        InferenceScratch scratch, Span<float> logits)
    {
        int rows = lastTokens.Length, d = Config.Dim;
        if (position >= Config.MaxTargetLength) throw new InvalidOperationException($"decoding past the longest target ({Config.MaxTargetLength})");
        var x = scratch.Residual(rows * d);
        var positionRow = _targetPositions.Row(position);
        for (int r = 0; r < rows; r++) TensorPrimitives.Add(_targetTokens.Row(lastTokens[r]), positionRow, x.Slice(r * d, d));
        for (int l = 0; l < _decoder.Length; l++) _decoder[l].InferStep(x, position, cache, l, memory, rowQuery, scratch);
        var h = scratch.Normed(rows * d);
        _decoderNorm.Infer(x, h);
        _head.Infer(h, logits);
    }

    /// <summary>
    /// Mean next-token cross-entropy: source [B * S], target input [B * T] (a start token, then the
    /// target shifted right), target output [B * T] (ids to predict; <see cref="Tensor.IgnoreIndex"/> skips).
    /// </summary>
    public Tensor Loss(int[] source, int[] targetInput, int[] targetOutput, int batch, bool[]? sourcePadding = null, float[]? rowWeights = null)
    {
        var logits = Decode(Encode(source, batch, sourcePadding), sourcePadding, targetInput, batch);
        int v = Config.TargetVocabulary, t = targetInput.Length / batch;
        float[]? weights = rowWeights is null ? null : Enumerable.Range(0, batch * t).Select(i => rowWeights[i / t]).ToArray();
        return Tensor.CrossEntropy(logits.Reshape(batch * t, v), targetOutput, weights);
    }

    private static int CheckLength(int count, int batch, int max, string what)
    {
        if (batch <= 0 || count % batch != 0) throw new ArgumentException($"{count} {what} tokens do not split into {batch} rows");
        int length = count / batch;
        if (length == 0 || length > max) throw new ArgumentException($"{what} length {length} is outside 1..{max}");
        return length;
    }

    private static int[] Positions(int start, int count) => Enumerable.Range(start, count).ToArray();
}

/// <summary>What step-by-step decoding carries between steps: the memory and each layer's caches.</summary>
public sealed class DecoderState(Tensor memory, bool[]? memoryPadding, KvCache[] selfCaches, KvCache[] crossCaches)
{
    /// <summary>[B, S, D] encoder output.</summary>
    public Tensor Memory { get; private set; } = memory;
    /// <summary>[B * S] source padding, or null.</summary>
    public bool[]? MemoryPadding { get; private set; } = memoryPadding;
    /// <summary>Per decoder layer, the self-attention cache.</summary>
    public KvCache[] SelfCaches { get; } = selfCaches;
    /// <summary>Per decoder layer, the cross-attention cache.</summary>
    public KvCache[] CrossCaches { get; } = crossCaches;
    /// <summary>Positions decoded so far.</summary>
    public int Length { get; internal set; }

    /// <summary>Keeps, for each new row i, old row <paramref name="rows"/>[i] (beam reordering).</summary>
    public void SelectRows(int[] rows)
    {
        Memory = KvCache.SelectBatchRows(Memory, rows);
        if (MemoryPadding is not null)
        {
            int len = Memory.Shape[1];
            var padding = new bool[rows.Length * len];
            for (int i = 0; i < rows.Length; i++) Array.Copy(MemoryPadding, rows[i] * len, padding, i * len, len);
            MemoryPadding = padding;
        }
        foreach (var c in SelfCaches) c.SelectRows(rows);
        foreach (var c in CrossCaches) c.SelectRows(rows);
    }
}

/// <summary>An ordered list of sub-modules named 0, 1, 2, ...</summary>
public sealed class ModuleList<T> : Module where T : Module
{
    private int _count;

    /// <summary>Appends <paramref name="module"/> and returns it.</summary>
    public T Add(T module) => RegisterModule((_count++).ToString(System.Globalization.CultureInfo.InvariantCulture), module);
}
