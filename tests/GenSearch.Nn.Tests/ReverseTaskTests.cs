using GenSearch.Tensors;

namespace GenSearch.Nn.Tests;

/// <summary>The engine learns: a tiny encoder-decoder learns to reverse short sequences.</summary>
public class ReverseTaskTests
{
    private const int Bos = 1, Length = 5, Symbols = 8; // tokens 2..9

    private static (int[] Source, int[] TargetIn, int[] TargetOut) Batch(Rng rng, int batch)
    {
        var source = new int[batch * Length];
        var targetIn = new int[batch * Length];
        var targetOut = new int[batch * Length];
        for (int b = 0; b < batch; b++)
        {
            for (int i = 0; i < Length; i++) source[b * Length + i] = 2 + rng.NextInt(Symbols);
            for (int i = 0; i < Length; i++)
            {
                targetOut[b * Length + i] = source[b * Length + Length - 1 - i];
                targetIn[b * Length + i] = i == 0 ? Bos : targetOut[b * Length + i - 1];
            }
        }
        return (source, targetIn, targetOut);
    }

    [Fact]
    public void LearnsToReverseSequences()
    {
        var config = new EncoderDecoderConfig
        {
            SourceVocabulary = 2 + Symbols, TargetVocabulary = 2 + Symbols, Dim = 32, Heads = 2,
            EncoderLayers = 1, DecoderLayers = 1, FfnDim = 64, Dropout = 0f, MaxSourceLength = Length, MaxTargetLength = Length,
        };
        var rng = new Rng(1);
        var model = new EncoderDecoder(config, rng);
        var optimizer = new AdamW(model.NamedParameters(), new AdamWOptions { LearningRate = 1e-2f, WeightDecay = 0f });
        var schedule = new WarmupCosineSchedule(1e-2f, 20, 300, 1e-4f);
        var data = new Rng(2);
        for (int step = 0; step < 300; step++)
        {
            var (src, tin, tout) = Batch(data, 64);
            optimizer.LearningRate = schedule.At(step);
            optimizer.ZeroGrad();
            model.Loss(src, tin, tout, 64).Backward();
            AdamW.ClipGradNorm(model.Parameters(), 1f);
            optimizer.StepOnce();
        }

        // Greedy decoding with the KV cache on fresh sequences.
        model.Eval();
        using var _ = Tensor.NoGrad();
        var (source, _, expected) = Batch(new Rng(3), 200);
        var state = model.StartDecoding(model.Encode(source, 200), null);
        var last = Enumerable.Repeat(Bos, 200).ToArray();
        int correct = 0;
        for (int i = 0; i < Length; i++)
        {
            last = model.DecodeStep(state, last).ArgMax();
            for (int b = 0; b < 200; b++) if (last[b] == expected[b * Length + i]) correct++;
        }
        double accuracy = correct / (200.0 * Length);
        Assert.True(accuracy >= 0.98, $"token accuracy {accuracy:P1} after 300 steps");
    }
}
