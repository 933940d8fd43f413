using GenSearch.Models;
using GenSearch.Models.Generative;
using GenSearch.Nn;
using GenSearch.Tensors;

namespace GenSearch.Retrieval.Generative;

/// <summary>
/// A <see cref="SidGenerator"/> seen from beam search: it encodes a batch of queries once, then
/// decodes one token per step for every live beam with the decoder's KV caches, which move with
/// their beams when rows are pruned or duplicated.
/// </summary>
public sealed class GeneratorScorer : IStepScorer
{
    private readonly SidGenerator _generator;
    private readonly DecoderState _state;

    /// <summary>Encodes <paramref name="queries"/> (one row each) and gets ready to decode.</summary>
    public GeneratorScorer(SidGenerator generator, TokenBatch queries)
    {
        _generator = generator;
        using var _ = Tensor.NoGrad();
        var memory = generator.Model.Encode(queries.Tokens, queries.Batch, queries.Padding);
        _state = generator.Model.StartDecoding(memory, queries.Padding);
    }

    /// <inheritdoc/>
    public int Vocabulary => _generator.Vocabulary.Size;

    /// <inheritdoc/>
    public float[] NextLogProbabilities(int[] lastTokens)
    {
        using var _ = Tensor.NoGrad();
        return _generator.Model.DecodeStep(_state, lastTokens).LogSoftmax().Data;
    }

    /// <inheritdoc/>
    public void SelectRows(int[] rows) => _state.SelectRows(rows);
}
