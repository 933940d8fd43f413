using GenSearch.Tensors;

namespace GenSearch.Nn.Tests;

public class DecodingTests
{
    private static EncoderDecoder SmallModel(int seed) => new(new EncoderDecoderConfig
    {
        SourceVocabulary = 20, TargetVocabulary = 12, Dim = 16, Heads = 4, EncoderLayers = 2, DecoderLayers = 2,
        FfnDim = 32, Dropout = 0.1f, MaxSourceLength = 7, MaxTargetLength = 6,
    }, new Rng((ulong)seed));

    [Fact]
    public void KvCacheStepsGiveTheSameLogitsAsFullDecoding()
    {
        var model = SmallModel(5);
        model.Eval();
        using var _ = Tensor.NoGrad();
        int batch = 3, s = 7, t = 6;
        var rng = new Rng(6);
        var source = Enumerable.Range(0, batch * s).Select(_ => rng.NextInt(20)).ToArray();
        var target = Enumerable.Range(0, batch * t).Select(_ => rng.NextInt(12)).ToArray();
        var padding = Enumerable.Range(0, batch * s).Select(i => i % s >= s - (i / s)).ToArray(); // row b has b padded positions
        var memory = model.Encode(source, batch, padding);
        var full = model.Decode(memory, padding, target, batch); // [B, T, V]

        var state = model.StartDecoding(memory, padding);
        for (int step = 0; step < t; step++)
        {
            var tokens = Enumerable.Range(0, batch).Select(b => target[b * t + step]).ToArray();
            var logits = model.DecodeStep(state, tokens); // [B, V]
            for (int b = 0; b < batch; b++)
                for (int v = 0; v < 12; v++)
                    Assert.Equal(full.Data[(b * t + step) * 12 + v], logits.Data[b * 12 + v], 4);
        }
    }

    [Fact]
    public void SelectRowsReordersCachedState()
    {
        var model = SmallModel(7);
        model.Eval();
        using var _ = Tensor.NoGrad();
        var source = new[] { 1, 2, 3, 4, 5, 6, 7, 7, 6, 5, 4, 3, 2, 1 };
        var memory = model.Encode(source, 2);
        var state = model.StartDecoding(memory, null);
        model.DecodeStep(state, [1, 2]);
        var swappedState = model.StartDecoding(memory, null);
        model.DecodeStep(swappedState, [1, 2]);
        swappedState.SelectRows([1, 0]);
        var a = model.DecodeStep(state, [3, 4]);
        var b = model.DecodeStep(swappedState, [4, 3]);
        for (int v = 0; v < 12; v++)
        {
            Assert.Equal(a.Data[v], b.Data[12 + v], 5);
            Assert.Equal(a.Data[12 + v], b.Data[v], 5);
        }
    }

    [Fact]
    public void DropoutIsOffInEvaluationAndSeededInTraining()
    {
        var source = Enumerable.Range(0, 14).Select(i => i % 20).ToArray();
        var m1 = SmallModel(8); var m2 = SmallModel(8);
        Assert.Equal(m1.Encode(source, 2).Data, m2.Encode(source, 2).Data); // same seed, same dropout masks
        m1.Eval();
        Assert.Equal(m1.Encode(source, 2).Data, m1.Encode(source, 2).Data);
    }
}
