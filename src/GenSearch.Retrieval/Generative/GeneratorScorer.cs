using GenSearch.Models;
using GenSearch.Models.Generative;
using GenSearch.Nn;

namespace GenSearch.Retrieval.Generative;

/// <summary>
/// A <see cref="SidGenerator"/> seen from beam search: it encodes a batch of queries once, then
/// decodes one token per step for every live beam with a <see cref="BeamDecoder"/>, whose
/// self-attention caches move with their beams when rows are pruned or duplicated while each
/// query's encoder memory stays shared by all its beams.
/// </summary>
public sealed class GeneratorScorer : IStepScorer
{
    private readonly BeamDecoder _decoder;
    private readonly List<int[]> _fed = []; // tokens fed without scores, oldest first, decoded when scores are next asked for

    /// <summary>
    /// Encodes <paramref name="queries"/> (one row each) and gets ready to decode, on
    /// <paramref name="decoder"/> when given (a decoder of this generator's model whose buffers are
    /// reused; it must not be in use elsewhere until this search ends). The generator must be in evaluation mode.
    /// </summary>
    public GeneratorScorer(SidGenerator generator, TokenBatch queries, BeamDecoder? decoder = null)
    {
        _decoder = decoder ?? new BeamDecoder(generator.Model);
        _decoder.Start(queries.Tokens, queries.Batch, queries.Padding);
    }

    /// <inheritdoc/>
    public int Vocabulary => _decoder.Vocabulary;

    /// <inheritdoc/>
    public ReadOnlySpan<float> NextLogProbabilities(int[] lastTokens)
    {
        // Positions fed earlier enter the caches first; their own log-probabilities are not needed.
        foreach (var fed in _fed) _decoder.Step(fed);
        _fed.Clear();
        return _decoder.Step(lastTokens);
    }

    /// <inheritdoc/>
    public void Feed(int[] lastTokens)
    {
        if (lastTokens.Length != _decoder.Rows) throw new ArgumentException($"{lastTokens.Length} tokens for {_decoder.Rows} rows");
        _fed.Add((int[])lastTokens.Clone());
    }

    /// <inheritdoc/>
    public void SelectRows(int[] rows)
    {
        _decoder.SelectRows(rows);
        for (int i = 0; i < _fed.Count; i++) _fed[i] = rows.Select(r => _fed[i][r]).ToArray();
    }
}
