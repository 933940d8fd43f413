using GenSearch.Tensors;

namespace GenSearch.Nn.Tests;

/// <summary>
/// Each layer's inference form (<c>Infer</c>: spans, reused buffers, no autograd) against its autograd
/// <c>Forward</c> on the same parameters; the whole decoder step is held against the autograd path in
/// <see cref="BeamDecoderTests"/>.
/// </summary>
public class InferenceTests
{
    private static float[] Random(int seed, int n) => Tensor.Uniform(new Rng((ulong)seed), -1f, 1f, n).Data;

    private static void AssertClose(float[] expected, ReadOnlySpan<float> actual, float tolerance = 1e-4f)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * (1 + Math.Abs(expected[i])), $"element {i}: {actual[i]} vs {expected[i]}");
    }

    [Fact]
    public void LinearLayerNormAndFeedForwardMatchForward()
    {
        using var _ = Tensor.NoGrad();
        var rng = new Rng(1);
        int rows = 5, d = 12;
        var x = Random(2, rows * d);
        var scratch = new InferenceScratch();
        var linear = new Linear(d, 7, rng);
        var y = new float[rows * 7];
        linear.Infer(x, y);
        AssertClose(linear.Forward(new Tensor(x, rows, d)).Data, y);

        var norm = new LayerNorm(d);
        norm.Gamma.Data.AsSpan().Fill(1.5f);
        var normed = new float[rows * d];
        norm.Infer(x, normed);
        AssertClose(norm.Forward(new Tensor(x, rows, d)).Data, normed);

        var ffn = new FeedForward(d, 20, dropout: 0.5f, rng);
        ffn.Eval();
        var f = new float[rows * d];
        ffn.Infer(x, scratch, f);
        AssertClose(ffn.Forward(new Tensor(x, rows, d)).Data, f);

        var table = new Embedding(9, d, rng);
        Assert.Equal(table.Forward([4], 1).Data, table.Row(4).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => table.Row(9).ToArray());
    }

    [Fact]
    public void SelfAttentionAndEncoderLayerMatchForwardWithPadding()
    {
        using var _ = Tensor.NoGrad();
        var rng = new Rng(3);
        int groups = 3, t = 5, d = 16;
        var x = Random(4, groups * t * d);
        var padding = Enumerable.Range(0, groups * t).Select(i => i % t >= t - i / t).ToArray(); // group g has g padded keys
        var scratch = new InferenceScratch();

        var attention = new MultiHeadAttention(d, 4, rng);
        var y = new float[x.Length];
        attention.InferSelf(x, groups, padding, scratch, y);
        AssertClose(attention.Forward(new Tensor(x, groups, t, d), keyPadding: padding).Data, y);

        var layer = new TransformerEncoderLayer(d, 4, 32, dropout: 0.3f, rng);
        layer.Eval();
        var expected = layer.Forward(new Tensor(x, groups, t, d), padding).Data;
        var inPlace = (float[])x.Clone();
        layer.Infer(inPlace, groups, padding, scratch);
        AssertClose(expected, inPlace);
    }

    [Fact]
    public void InferEncodeMatchesEncode()
    {
        var model = new EncoderDecoder(new EncoderDecoderConfig
        {
            SourceVocabulary = 20, TargetVocabulary = 12, Dim = 16, Heads = 4, EncoderLayers = 2, DecoderLayers = 2,
            FfnDim = 32, Dropout = 0.1f, MaxSourceLength = 7, MaxTargetLength = 6,
        }, new Rng(5));
        model.Eval();
        using var _ = Tensor.NoGrad();
        var rng = new Rng(6);
        int batch = 3, s = 7;
        var source = Enumerable.Range(0, batch * s).Select(_ => rng.NextInt(20)).ToArray();
        var padding = Enumerable.Range(0, batch * s).Select(i => i % s >= s - (i / s)).ToArray();
        var scratch = new InferenceScratch();
        model.InferEncode([1, 2, 3], 1, null, scratch); // a different, shorter search first: buffers are reused
        AssertClose(model.Encode(source, batch, padding).Data, model.InferEncode(source, batch, padding, scratch));
        AssertClose(model.Encode(source, batch).Data, model.InferEncode(source, batch, null, scratch));
    }
}
