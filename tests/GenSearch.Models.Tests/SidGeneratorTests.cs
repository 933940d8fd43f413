using GenSearch.Models.Generative;
using GenSearch.Nn;
using GenSearch.Tensors;

namespace GenSearch.Models.Tests;

public class SidGeneratorTests
{
    [Fact]
    public void VocabularyGivesEachLevelItsOwnTokens()
    {
        var v = new SidVocabulary([4, 3, 5]);
        Assert.Equal(13, v.Size);
        Assert.Equal([1, 5, 8], v.Tokens([0, 0, 0]));
        Assert.Equal([4, 7, 12], v.Tokens([3, 2, 4]));
        Assert.Equal([3, 2, 4], v.Codes([4, 7, 12]));
        Assert.Throws<ArgumentOutOfRangeException>(() => v.Token(1, 3));
        Assert.Throws<ArgumentException>(() => v.Codes([5]));
    }

    [Fact]
    public void LearnsToMapQueriesToTheirItemIds()
    {
        // 12 "items" with 2-level IDs over 4 x 3 codes; a query is 3 tokens naming its item.
        var vocabulary = new SidVocabulary([4, 3]);
        var rng = new Rng(1);
        var generator = new SidGenerator(vocabulary, new EncoderDecoderConfig
        {
            SourceVocabulary = 40, Dim = 32, Heads = 2, EncoderLayers = 1, DecoderLayers = 1, FfnDim = 64,
            Dropout = 0f, MaxSourceLength = 3, MaxTargetLength = 2,
        }, rng);
        var optimizer = new AdamW(generator.NamedParameters(), new AdamWOptions { LearningRate = 1e-2f, WeightDecay = 0f });
        int[] Query(int item) => [1 + item, 13 + item, 26 + (item % 7)];
        int[] Id(int item) => [item / 3, item % 3];
        var items = Enumerable.Range(0, 12).ToArray();
        for (int step = 0; step < 120; step++)
        {
            optimizer.ZeroGrad();
            generator.Loss(items.SelectMany(Query).ToArray(), new bool[36], items.SelectMany(Id).ToArray(), 12).Backward();
            optimizer.StepOnce();
        }
        generator.Eval();
        using var _ = Tensor.NoGrad();
        var state = generator.Model.StartDecoding(generator.Model.Encode(items.SelectMany(Query).ToArray(), 12), null);
        var first = generator.Model.DecodeStep(state, Enumerable.Repeat(SidVocabulary.Start, 12).ToArray()).ArgMax();
        var second = generator.Model.DecodeStep(state, first).ArgMax();
        for (int i = 0; i < 12; i++) Assert.Equal(Id(i), vocabulary.Codes([first[i], second[i]]));
    }
}
