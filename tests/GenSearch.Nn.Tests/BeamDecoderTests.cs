using GenSearch.Tensors;

namespace GenSearch.Nn.Tests;

/// <summary>
/// The model's inference mode, driven by the beam decoder, against its autograd mode: teacher-forced
/// full decoding, and the autograd KV-cache path under beam reordering.
/// </summary>
public class BeamDecoderTests
{
    private const int Vocabulary = 12;

    private static EncoderDecoder SmallModel(int seed) => new(new EncoderDecoderConfig
    {
        SourceVocabulary = 20, TargetVocabulary = Vocabulary, Dim = 16, Heads = 4, EncoderLayers = 2, DecoderLayers = 2,
        FfnDim = 32, Dropout = 0.1f, MaxSourceLength = 7, MaxTargetLength = 6,
    }, new Rng((ulong)seed));

    private static float[] LogSoftmax(float[] logits, int offset) =>
        new Tensor(logits.AsSpan(offset, Vocabulary).ToArray(), Vocabulary).LogSoftmax().Data;

    [Fact]
    public void StepsGiveTheLogSoftmaxOfFullDecoding()
    {
        var model = SmallModel(5);
        model.Eval();
        using var _ = Tensor.NoGrad();
        int batch = 3, s = 7, t = 6;
        var rng = new Rng(6);
        var source = Enumerable.Range(0, batch * s).Select(_ => rng.NextInt(20)).ToArray();
        var target = Enumerable.Range(0, batch * t).Select(_ => rng.NextInt(Vocabulary)).ToArray();
        var padding = Enumerable.Range(0, batch * s).Select(i => i % s >= s - (i / s)).ToArray(); // row b has b padded positions
        var memory = model.Encode(source, batch, padding);
        var full = model.Decode(memory, padding, target, batch); // [B, T, V]

        var decoder = new BeamDecoder(model, memory, padding);
        for (int step = 0; step < t; step++)
        {
            var tokens = Enumerable.Range(0, batch).Select(b => target[b * t + step]).ToArray();
            var logProbs = decoder.Step(tokens).ToArray(); // [B, V]
            for (int b = 0; b < batch; b++)
            {
                var expected = LogSoftmax(full.Data, (b * t + step) * Vocabulary);
                for (int v = 0; v < Vocabulary; v++) Assert.Equal(expected[v], logProbs[b * Vocabulary + v], 4);
            }
        }
        Assert.Throws<InvalidOperationException>(() => decoder.Step(new int[batch])); // past the longest target
    }

    [Fact]
    public void SharedMemoryBeamsMatchTheReplicatedKvCachePath()
    {
        // Two queries, each expanded to beams that are pruned, duplicated and reordered between steps:
        // inference mode end to end (encoder, shared cross memory, row caches) must give what the
        // autograd encoder and DecoderState give with the memory copied per row.
        var model = SmallModel(9);
        model.Eval();
        using var _ = Tensor.NoGrad();
        var source = new[] { 1, 2, 3, 4, 5, 0, 0, 7, 6, 5, 4, 3, 2, 1 };
        var padding = source.Select((x, i) => i < 7 && i >= 5).ToArray();
        var memory = model.Encode(source, 2, padding);
        var decoder = new BeamDecoder(model);
        decoder.Start(source, 2, padding);
        var state = model.StartDecoding(memory, padding);
        int[][] selections = [[0, 0, 0, 1, 1], [4, 0, 0, 2, 1, 3], [1, 1, 5, 3], [0, 3, 2]];
        int[] tokens = [0, 0];
        var rng = new Random(3);
        for (int step = 0; step < 5; step++)
        {
            var fast = decoder.Step(tokens).ToArray();
            var slow = model.DecodeStep(state, tokens).LogSoftmax().Data;
            Assert.Equal(slow.Length, fast.Length);
            for (int i = 0; i < slow.Length; i++) Assert.Equal(slow[i], fast[i], 4);
            if (step == selections.Length) break;
            var rows = selections[step];
            decoder.SelectRows(rows);
            state.SelectRows(rows);
            // Rows of one query stay adjacent, as beam search keeps them, except in the third selection.
            tokens = rows.Select(_ => rng.Next(Vocabulary)).ToArray();
        }
        Assert.Equal([0, 0, 1], decoder.RowQueries.ToArray());
    }

    [Fact]
    public void AReusedDecoderGivesWhatAFreshOneGives()
    {
        // A first search grows the buffers (more rows, a longer source, a few steps); the second must not see any of it.
        var model = SmallModel(4);
        model.Eval();
        using var _ = Tensor.NoGrad();
        var reused = new BeamDecoder(model);
        reused.Start(model.Encode([1, 2, 3, 4, 5, 6, 7], 1), null);
        reused.Step([0]);
        reused.SelectRows([0, 0, 0, 0, 0, 0, 0, 0, 0]);
        reused.Step([1, 2, 3, 4, 5, 6, 7, 8, 9]);

        var source = new[] { 3, 4, 5, 9, 8, 7 };
        var padding = new[] { false, false, true, false, false, false };
        var memory = model.Encode(source, 2, padding);
        reused.Start(memory, padding);
        var fresh = new BeamDecoder(model, memory, padding);
        Assert.Equal(0, reused.Length);
        Assert.Equal(fresh.Step([0, 0]).ToArray(), reused.Step([0, 0]).ToArray());
        fresh.SelectRows([1, 0, 1]);
        reused.SelectRows([1, 0, 1]);
        Assert.Equal(fresh.Step([4, 5, 6]).ToArray(), reused.Step([4, 5, 6]).ToArray());
    }

    [Fact]
    public void EncodingInItsOwnBuffersMatchesTheModelsEncoder()
    {
        var model = SmallModel(12);
        model.Eval();
        using var _ = Tensor.NoGrad();
        var rng = new Rng(13);
        int batch = 3, s = 5;
        var source = Enumerable.Range(0, batch * s).Select(_ => rng.NextInt(20)).ToArray();
        var padding = Enumerable.Range(0, batch * s).Select(i => i % s >= s - (i / s)).ToArray();
        var fromTensor = new BeamDecoder(model, model.Encode(source, batch, padding), padding);
        var fromTokens = new BeamDecoder(model);
        fromTokens.Start([1, 2, 3, 4, 5, 6, 7], 1, null); // a different, longer search first
        fromTokens.Step([0]);
        fromTokens.Start(source, batch, padding);
        int[] tokens = [0, 0, 0];
        for (int step = 0; step < 3; step++)
        {
            var expected = fromTensor.Step(tokens).ToArray();
            var actual = fromTokens.Step(tokens).ToArray();
            for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual[i], 4);
            tokens = [step + 1, step + 4, step + 7];
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => fromTokens.Start([1, 20], 1, null));
        Assert.Throws<ArgumentException>(() => fromTokens.Start(new int[8], 1, null)); // longer than MaxSourceLength 7
    }

    [Fact]
    public void RefusesTrainingModeAndBadTokens()
    {
        var model = SmallModel(1);
        var memory = new Tensor(new float[2 * 3 * 16], 2, 3, 16);
        Assert.Throws<InvalidOperationException>(() => new BeamDecoder(model, memory, null));
        model.Eval();
        var decoder = new BeamDecoder(model, memory, null);
        Assert.Throws<ArgumentOutOfRangeException>(() => decoder.Step([0, Vocabulary]));
        Assert.Throws<ArgumentException>(() => decoder.Step([0]));
        Assert.Throws<ArgumentOutOfRangeException>(() => decoder.SelectRows([2]));
    }
}
