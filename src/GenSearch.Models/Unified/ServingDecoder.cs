using GenSearch.Tensors;
using GenSearch.Tensors.Kernels;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace GenSearch.Models.Unified;

/// <summary>
/// The decoder of a <see cref="UnifiedModel"/> in the form beam search serves it: fixed weights, no
/// autograd, the same function as <see cref="UnifiedModel.LevelLogits"/> (a twin test holds them
/// together). Level n's hidden pre-activation W_n [q; P] + b_n splits as (W_n^q q + b_n) + W_n^P P, and
/// P is the sum of the prefix's code vectors, so W_n^P P = the sum over the prefix of W_n^P c_m(code_m):
/// a table lookup per level of the prefix, computed once per model. The query part is computed once
/// per query, not once per beam. What is left per beam row is the output layer and the distances to
/// the level's codes: the [rows, 2p] x [2p, H] product that was two thirds of the decoder's
/// multiply-adds is gone (beam 50: 50 rows at each of the last two levels).
/// </summary>
public sealed class ServingDecoder
{
    private readonly UnifiedModel _model;
    private readonly float[][] _codebooks;    // [levels][K * p]
    private readonly float[][] _codebookNorms; // [levels][K]
    private readonly float[][][] _codeParts;  // [level n][prefix level m < n][K * H]: C_m (W_n^P)^T
    private readonly int _p, _hidden, _codes, _levels;

    /// <summary>The decoder of <paramref name="model"/> over its levels' code vectors <paramref name="codebooks"/> (each [K, p], as <see cref="UnifiedModel.Codebook"/> gives them).</summary>
    public ServingDecoder(UnifiedModel model, IReadOnlyList<Tensor> codebooks)
    {
        _model = model;
        _p = model.Config.Dim; _hidden = model.Config.DecoderHidden; _codes = model.Config.Codes; _levels = model.Config.Levels;
        if (codebooks.Count != _levels) throw new ArgumentException($"{codebooks.Count} codebooks for {_levels} levels");
        _codebooks = codebooks.Select(c => c.Data.AsSpan(0, _codes * _p).ToArray()).ToArray();
        _codebookNorms = _codebooks.Select(book => Enumerable.Range(0, _codes).Select(k => TensorPrimitives.SumOfSquares(book.AsSpan(k * _p, _p))).ToArray()).ToArray();
        _codeParts = new float[_levels][][];
        for (int n = 0; n < _levels; n++)
        {
            var w = model.DecoderHiddenLayer(n).Weight.Data; // [H, 2p]: columns 0..p-1 read q, p..2p-1 read P
            _codeParts[n] = new float[n][];
            for (int m = 0; m < n; m++)
            {
                _codeParts[n][m] = new float[_codes * _hidden];
                Gemm.Sgemm(false, true, _codes, _hidden, _p, 1f, _codebooks[m], _p, w.AsSpan(_p), 2 * _p, 0f, _codeParts[n][m], _hidden);
            }
        }
    }

    /// <summary>Level <paramref name="level"/>'s query part W^q q + b [queries, H] of query vectors <paramref name="queries"/> [queries, p].</summary>
    public float[] QueryPart(ReadOnlySpan<float> queries, int level)
    {
        int rows = queries.Length / _p;
        var layer = _model.DecoderHiddenLayer(level);
        var result = new float[rows * _hidden];
        Gemm.SgemmBias(false, true, rows, _hidden, _p, 1f, queries, _p, layer.Weight.Data, 2 * _p, 0f, result, _hidden, layer.Bias!.Data);
        return result;
    }

    /// <summary>
    /// Level <paramref name="level"/>'s next-code log-probabilities [rows, K] into <paramref name="logProbs"/>:
    /// row r's query vector is <paramref name="queries"/>[r], its query part (from <see cref="QueryPart"/>)
    /// <paramref name="queryParts"/>[r], its prefix's codes <paramref name="prefixCodes"/>[r * levels ..]
    /// (the first <paramref name="level"/> of them) and their code-vector sum <paramref name="prefixSums"/>[r].
    /// </summary>
    public void LogProbabilities(ReadOnlySpan<float> queries, ReadOnlySpan<float> queryParts, ReadOnlySpan<int> prefixCodes,
        ReadOnlySpan<float> prefixSums, int level, Span<float> logProbs)
    {
        int rows = queries.Length / _p, H = _hidden, K = _codes, p = _p;
        var hidden = new float[rows * H];
        for (int r = 0; r < rows; r++)
        {
            var h = hidden.AsSpan(r * H, H);
            queryParts.Slice(r * H, H).CopyTo(h);
            for (int m = 0; m < level; m++)
                TensorPrimitives.Add(h, _codeParts[level][m].AsSpan(prefixCodes[r * _levels + m] * H, H), h);
        }
        Activations.Gelu(hidden, hidden);
        // s = q - P + f(h): the output layer, then the part of q the prefix has not explained.
        var state = new float[rows * p];
        _model.DecoderOutLayer(level).Infer(hidden, state);
        TensorPrimitives.Add(state, queries[..(rows * p)], state);
        TensorPrimitives.Subtract(state, prefixSums[..(rows * p)], state);
        // -||s - c||^2 / T = (2 s.c - ||s||^2 - ||c||^2) / T, then log-softmax per row.
        var scores = logProbs[..(rows * K)];
        Gemm.Sgemm(false, true, rows, K, p, 2f, state, p, _codebooks[level], p, 0f, scores, K);
        float scale = 1f / _model.Config.DecoderTemperature;
        var norms = _codebookNorms[level];
        for (int r = 0; r < rows; r++)
        {
            var row = scores.Slice(r * K, K);
            TensorPrimitives.Subtract(row, norms, row);
            float sNorm = TensorPrimitives.SumOfSquares(state.AsSpan(r * p, p));
            for (int k = 0; k < K; k++) row[k] = MathF.Min(row[k] - sNorm, 0f) * scale; // a distance is never negative
            SoftmaxKernels.LogSoftmax(row, row);
        }
    }
}
