namespace GenSearch.Tensors.Tests;

/// <summary>The fused attention op against the same computation spelled out in plain ops, per head.</summary>
public class AttentionTests
{
    /// <summary>
    /// The twin: permute to [B, H, T, Dh], scores = Q K^T * scale, mask with MaskedFill(-inf),
    /// Softmax, times V, permute back. Query i sees key j when j &lt;= i + (Tk - Tq) (causal) and key j
    /// is not padding.
    /// </summary>
    private static Tensor Composed(Tensor q, Tensor k, Tensor v, int heads, bool causal, bool[]? keyPadding)
    {
        int batch = q.Shape[0], tq = q.Shape[1], tk = k.Shape[1], dim = q.Shape[2], dh = dim / heads;
        Tensor Heads(Tensor x, int t) => x.Reshape(batch, t, heads, dh).Permute(0, 2, 1, 3);
        var scores = Tensor.MatMul(Heads(q, tq), Heads(k, tk), transB: true) * (1f / MathF.Sqrt(dh)); // [B, H, Tq, Tk]
        var mask = new bool[batch * tq * tk];
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < tq; i++)
                for (int j = 0; j < tk; j++)
                    mask[(b * tq + i) * tk + j] = (causal && j > i + (tk - tq)) || (keyPadding is not null && keyPadding[b * tk + j]);
        var probs = scores.MaskedFill(mask, [batch, 1, tq, tk], float.NegativeInfinity).Softmax();
        return Tensor.MatMul(probs, Heads(v, tk)).Permute(0, 2, 1, 3).Reshape(batch, tq, dim);
    }

    private static bool[] Padding(int seed, int batch, int tk, bool keepFirst)
    {
        var rng = new Rng((ulong)seed);
        var pad = new bool[batch * tk];
        for (int i = 0; i < pad.Length; i++) pad[i] = (!keepFirst || i % tk != 0) && rng.NextFloat() < 0.3f;
        return pad;
    }

    public static TheoryData<int, int, int, int, int, bool, bool> Cases => new()
    {
        // batch, Tq, Tk, dim, heads, causal, padding
        { 1, 1, 1, 4, 1, false, false },
        { 2, 5, 5, 8, 2, false, false },
        { 2, 5, 5, 8, 2, true, false },
        { 2, 5, 7, 12, 3, false, true },
        { 2, 6, 6, 16, 4, true, true },
        { 3, 1, 9, 8, 2, true, false },   // one new query after 8 cached keys
        { 2, 3, 8, 8, 1, true, true },    // several new queries, KV-cache offset 5
        { 1, 4, 4, 8, 8, true, false },   // head size 1
        { 2, 9, 17, 24, 3, false, true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void FusedAttentionMatchesPlainOpsForwardAndBackward(int batch, int tq, int tk, int dim, int heads, bool causal, bool padding)
    {
        var pad = padding ? Padding(batch * 100 + tk, batch, tk, keepFirst: true) : null;
        var q = Twins.Random(1, batch, tq, dim); var k = Twins.Random(2, batch, tk, dim); var v = Twins.Random(3, batch, tk, dim);
        var q2 = Tensor.FromArray(q.Data, q.Shape); var k2 = Tensor.FromArray(k.Data, k.Shape); var v2 = Tensor.FromArray(v.Data, v.Shape);
        foreach (var t in new[] { q, k, v, q2, k2, v2 }) t.RequiresGrad = true;

        var fused = Tensor.Attention(q, k, v, heads, causal, pad);
        var composed = Composed(q2, k2, v2, heads, causal, pad);
        Assert.Equal([batch, tq, dim], fused.Shape);
        Twins.AssertClose(composed.Data, fused.Data, rtol: 1e-4, atol: 1e-5, context: "attention forward");

        var upstream = Twins.Random(4, batch, tq, dim);
        (fused * upstream).SumAll().Backward();
        (composed * upstream).SumAll().Backward();
        Twins.AssertClose(q2.Grad!, q.Grad!, rtol: 1e-3, atol: 1e-5, context: "dQ");
        Twins.AssertClose(k2.Grad!, k.Grad!, rtol: 1e-3, atol: 1e-5, context: "dK");
        Twins.AssertClose(v2.Grad!, v.Grad!, rtol: 1e-3, atol: 1e-5, context: "dV");
    }

    [Fact]
    public void CausalWithCacheEqualsTheLastRowsOfFullCausalAttention()
    {
        // Decoding Tq new tokens against all Tk keys must give what full causal attention gives those rows.
        int batch = 2, t = 9, dim = 8, heads = 2;
        var q = Twins.Random(5, batch, t, dim); var k = Twins.Random(6, batch, t, dim); var v = Twins.Random(7, batch, t, dim);
        var full = Tensor.Attention(q, k, v, heads, causal: true);
        foreach (int tq in new[] { 1, 3, t })
        {
            var step = Tensor.Attention(q.Slice(1, t - tq, tq), k, v, heads, causal: true);
            Twins.AssertClose(full.Slice(1, t - tq, tq).Data, step.Data, rtol: 1e-5, atol: 1e-6, context: $"cache Tq={tq}");
        }
    }

    [Fact]
    public void FirstCausalQueryCopiesTheFirstValue()
    {
        // Query 0 sees only key 0, so its output is exactly value row 0, whatever the scores.
        var q = Twins.Random(8, 1, 4, 6); var k = Twins.Random(9, 1, 4, 6); var v = Twins.Random(10, 1, 4, 6);
        var y = Tensor.Attention(q, k, v, heads: 3, causal: true);
        Twins.AssertClose(v.Data[..6], y.Data[..6], rtol: 1e-6, atol: 1e-7, context: "first query");
    }

    [Fact]
    public void FullyPaddedRowIsFiniteAndMatchesTheComposition()
    {
        int batch = 2, t = 4, dim = 4;
        var pad = new bool[batch * t];
        for (int j = 0; j < t; j++) pad[j] = true; // batch 0: every key is padding
        pad[t + 2] = true;
        var q = Twins.Random(11, batch, t, dim); var k = Twins.Random(12, batch, t, dim); var v = Twins.Random(13, batch, t, dim);
        var fused = Tensor.Attention(q, k, v, 2, keyPadding: pad);
        Assert.All(fused.Data, x => Assert.True(float.IsFinite(x)));
        Twins.AssertClose(Composed(q, k, v, 2, false, pad).Data, fused.Data, rtol: 1e-4, atol: 1e-5, context: "fully padded");
    }

    [Fact]
    public void LargeBatchTimesHeadsSplitOverThreadsMatchesComposition()
    {
        int batch = 6, t = 5, dim = 32, heads = 8;
        var q = Twins.Random(14, batch, t, dim); var k = Twins.Random(15, batch, t, dim); var v = Twins.Random(16, batch, t, dim);
        var pad = Padding(17, batch, t, keepFirst: true);
        Twins.AssertClose(Composed(q, k, v, heads, true, pad).Data, Tensor.Attention(q, k, v, heads, true, pad).Data, rtol: 1e-4, atol: 1e-5, context: "many heads");
    }

    [Fact]
    public void BadArgumentsAreClearErrors()
    {
        var x = Tensor.Zeros(2, 3, 8);
        var ex = Assert.Throws<ArgumentException>(() => Tensor.Attention(x, Tensor.Zeros(2, 3, 6), Tensor.Zeros(2, 3, 6), 2));
        Assert.Contains("Attention", ex.Message);
        Assert.Contains("[2, 3, 6]", ex.Message);
        Assert.Throws<ArgumentException>(() => Tensor.Attention(x, x, x, 3));
        Assert.Throws<ArgumentException>(() => Tensor.Attention(x, x, x, 0));
        Assert.Throws<ArgumentException>(() => Tensor.Attention(x, x, x, 2, keyPadding: new bool[5]));
        ex = Assert.Throws<ArgumentException>(() => Tensor.Attention(Tensor.Zeros(2, 4, 8), x, x, 2, causal: true));
        Assert.Contains("Tq <= Tk", ex.Message);
    }
}
