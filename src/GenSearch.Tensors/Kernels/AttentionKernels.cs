namespace GenSearch.Tensors.Kernels;

/// <summary>
/// Scaled dot-product attention of one head, span in and span out: what <see cref="Tensor.Attention"/>
/// runs per (batch, head) and what inference runs per head on reused buffers, so the scores, the
/// masks and the softmax are written once. Rows are strided: a head is a column block of a wider
/// [rows, D] matrix, so no permute is needed. The slow twin (<see cref="HeadReference"/>) loops in double.
/// </summary>
public static class AttentionKernels
{
    /// <summary>
    /// output[i] = sum_j p[i, j] v[j], p[i] = softmax_j(scale q[i] . k[j]) over visible keys, for
    /// <paramref name="queries"/> rows of q (row i at i * <paramref name="qStride"/>) and
    /// <paramref name="keys"/> rows of k and v (row j at j * <paramref name="kvStride"/>), each
    /// <paramref name="width"/> wide; output row i at i * <paramref name="outStride"/>.
    /// Key j is hidden from query i when <paramref name="causal"/> and j &gt; i + keys - queries (the
    /// usual mask, and with a KV cache the same mask again), or when <paramref name="keyPadding"/>[j]
    /// (empty: none is). <paramref name="probabilities"/> [queries, keys] receives p (the backward keeps it).
    /// <para>
    /// One query row (a decoding step against its own cache) takes one short dot product per key and
    /// one y += p v per key, in registers; more rows take two GEMMs.
    /// </para>
    /// </summary>
    public static void Head(ReadOnlySpan<float> q, int qStride, ReadOnlySpan<float> k, ReadOnlySpan<float> v, int kvStride,
        int queries, int keys, int width, float scale, bool causal, ReadOnlySpan<bool> keyPadding,
        Span<float> probabilities, Span<float> output, int outStride)
    {
        if (!keyPadding.IsEmpty && keyPadding.Length < keys) Throw.Argument("Attention head: key padding shorter than the keys");
        var p = probabilities[..(queries * keys)];
        if (queries == 1)
        {
            var row = q[..width];
            for (int j = 0; j < keys; j++) p[j] = scale * Blas1.Dot(row, k.Slice(j * kvStride, width));
        }
        else
        {
            Gemm.Sgemm(false, true, queries, keys, width, scale, q, qStride, k, kvStride, 0f, p, keys);
        }
        int offset = keys - queries;
        for (int i = 0; i < queries; i++)
        {
            var row = p.Slice(i * keys, keys);
            if (causal) row[Math.Min(keys, Math.Max(0, i + offset + 1))..].Fill(float.NegativeInfinity);
            if (!keyPadding.IsEmpty)
                for (int j = 0; j < keys; j++) if (keyPadding[j]) row[j] = float.NegativeInfinity;
            SoftmaxKernels.Softmax(row, row);
        }
        if (queries == 1)
        {
            var o = output[..width];
            o.Clear();
            for (int j = 0; j < keys; j++) Blas1.AddScaled(v.Slice(j * kvStride, width), p[j], o);
        }
        else
        {
            Gemm.Sgemm(false, false, queries, width, keys, 1f, p, keys, v, kvStride, 0f, output, outStride);
        }
    }

    /// <summary>The slow twin of <see cref="Head"/>: scores, masks, softmax and weighted sum in double, one element at a time.</summary>
    public static void HeadReference(ReadOnlySpan<float> q, int qStride, ReadOnlySpan<float> k, ReadOnlySpan<float> v, int kvStride,
        int queries, int keys, int width, float scale, bool causal, ReadOnlySpan<bool> keyPadding,
        Span<float> probabilities, Span<float> output, int outStride)
    {
        var s = new double[keys];
        for (int i = 0; i < queries; i++)
        {
            double max = double.NegativeInfinity;
            for (int j = 0; j < keys; j++)
            {
                bool hidden = (causal && j > i + keys - queries) || (!keyPadding.IsEmpty && keyPadding[j]);
                double dot = 0;
                for (int c = 0; c < width; c++) dot += (double)q[i * qStride + c] * k[j * kvStride + c];
                s[j] = hidden ? double.NegativeInfinity : scale * dot;
                max = Math.Max(max, s[j]);
            }
            double sum = 0;
            for (int j = 0; j < keys; j++) sum += s[j] = double.IsNegativeInfinity(max) ? 1 : Math.Exp(s[j] - max);
            for (int j = 0; j < keys; j++) probabilities[i * keys + j] = (float)(s[j] /= sum);
            for (int c = 0; c < width; c++)
            {
                double o = 0;
                for (int j = 0; j < keys; j++) o += s[j] * v[j * kvStride + c];
                output[i * outStride + c] = (float)o;
            }
        }
    }
}
