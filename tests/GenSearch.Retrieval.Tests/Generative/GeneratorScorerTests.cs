using GenSearch.Models;
using GenSearch.Models.Generative;
using GenSearch.Nn;
using GenSearch.Retrieval.Generative;
using GenSearch.Tensors;

namespace GenSearch.Retrieval.Tests.Generative;

public class GeneratorScorerTests
{
    private static SidGenerator Generator()
    {
        var generator = new SidGenerator(new SidVocabulary([4, 3, 2]), new EncoderDecoderConfig
        {
            SourceVocabulary = 30, Dim = 16, Heads = 2, EncoderLayers = 1, DecoderLayers = 2, FfnDim = 24, MaxSourceLength = 6,
        }, new Rng(2));
        generator.Eval();
        return generator;
    }

    [Fact]
    public void FedTokensAreDecodedBeforeTheNextScoredStep()
    {
        // Scoring every step and feeding the middle one (its scores unused) must agree at the last step,
        // with beams reordered in between.
        var generator = Generator();
        var queries = TokenBatch.FromRows([[2, 5, 7, 3], [2, 9, 3]]);
        var scored = new GeneratorScorer(generator, queries);
        var fed = new GeneratorScorer(generator, queries);
        Assert.Equal(scored.NextLogProbabilities([0, 0]).ToArray(), fed.NextLogProbabilities([0, 0]).ToArray());
        scored.SelectRows([0, 0, 1]);
        fed.SelectRows([0, 0, 1]);
        scored.NextLogProbabilities([1, 2, 3]);
        fed.Feed([1, 2, 3]);
        scored.SelectRows([2, 0, 1, 1]);
        fed.SelectRows([2, 0, 1, 1]);
        Assert.Equal(scored.NextLogProbabilities([5, 6, 7, 5]).ToArray(), fed.NextLogProbabilities([5, 6, 7, 5]).ToArray());
    }
}
