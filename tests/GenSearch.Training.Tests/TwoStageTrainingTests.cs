using GenSearch.Data;
using GenSearch.Models;
using GenSearch.Nn;
using GenSearch.Retrieval.Generative;
using GenSearch.Serving;

namespace GenSearch.Training.Tests;

public class TwoStageTrainingTests
{
    [Theory]
    [InlineData("transformer")]
    [InlineData("ngram")] // no tokenizer of its own: the generator's is learned from the data
    public void TrainsIdsAndAGeneratorThatRetrievesCatalogItems(string tower)
    {
        using var beir = new TinyBeir();
        var set = BeirDataset.Open(beir.Path);
        string towers = Path.Combine(beir.Path, "towers"), generative = Path.Combine(beir.Path, "generative");
        if (tower == "ngram")
            NgramTowerTraining.Run(set, towers, new NgramTowerTrainingOptions
            {
                Dim = 16, Temperature = 0.1f,
                Trainer = new TrainerOptions { BatchSize = 16, Epochs = 10, LearningRate = 0.05f, WarmupSteps = 2, WeightDecay = 0f, ClipNorm = 0f },
            });
        else
            TwoTowerTraining.Run(set, towers, new TwoTowerTrainingOptions
            {
                Encoder = new TextEncoderConfig { Dim = 32, Heads = 2, Layers = 1, FfnDim = 64, OutputDim = 16, Dropout = 0f },
                Vocabulary = 200, MaxQueryTokens = 8, MaxItemTokens = 8, Temperature = 0.1f, HardNegatives = 0,
                Trainer = new TrainerOptions { BatchSize = 16, Epochs = 10, LearningRate = 3e-3f, WarmupSteps = 5 },
            });
        TwoStageTraining.Run(set, towers, generative, new TwoStageTrainingOptions
        {
            Levels = 2, Codes = 4, MaxQueryTokens = 8, BeamSize = 10, Vocabulary = 200,
            Generator = new EncoderDecoderConfig { Dim = 32, Heads = 2, EncoderLayers = 1, DecoderLayers = 1, FfnDim = 64, Dropout = 0f },
            Trainer = new TrainerOptions { BatchSize = 16, Epochs = 40, LearningRate = 5e-3f, WarmupSteps = 5, CheckpointEvery = 50 },
        });
        Assert.True(File.Exists(Path.Combine(generative, "health.md")));

        var retriever = ModelFormats.Open(generative);
        var catalog = set.Corpus().Select(d => d.Id).ToHashSet();
        var queries = set.Queries().ToDictionary(q => q.Id);
        var qrels = set.Qrels("dev").Qrels;
        var ids = qrels.QueryIds.ToArray();
        var results = retriever.Search(ids.Select(id => queries[id]).ToArray(), 10);
        Assert.All(results, hits => Assert.All(hits, h => Assert.Contains(h.Id, catalog)));
        Assert.All(results, hits => Assert.Equal(hits.Count, hits.Select(h => h.Id).Distinct().Count()));
        int found = ids.Where((id, i) => results[i].Any(h => qrels.For(id).ContainsKey(h.Id))).Count();
        Assert.True(found >= ids.Length / 2, $"{found} of {ids.Length} dev queries find their item in the top 10");

        // A new item gets its semantic ID from the saved quantizer over the towers' item vector, without
        // retraining: a twin of d0 (same title) lands on d0's codes with the next collision token.
        var live = Assert.IsType<GenerativeRetriever>(retriever);
        var before = live.Catalog.Current;
        int d0 = before.ItemIds.ToList().IndexOf("d0");
        var change = live.Upsert([new Document("twin", set.Corpus().First(d => d.Id == "d0").Title, "")]);
        Assert.Equal(1, change.Added);
        var after = live.Catalog.Current;
        int twin = after.ItemIds.ToList().IndexOf("twin");
        Assert.True(twin >= 0);
        Assert.Equal(before.Codes(d0)[..^1].ToArray(), after.Codes(twin)[..^1].ToArray());
        Assert.NotEqual(after.Codes(after.ItemIds.ToList().IndexOf("d0"))[^1], after.Codes(twin)[^1]);
        Assert.Equal(49, retriever.Count);
        live.Remove(["d0"]);
        var again = retriever.Search(ids.Select(id => queries[id]).Append(new Query("red", "red drill")).ToArray(), 10);
        Assert.All(again, hits => Assert.DoesNotContain(hits, h => h.Id == "d0"));
    }

    [Fact]
    public void ItemVectorsMustComeFromATwoTowerModel()
    {
        using var beir = new TinyBeir();
        var error = Assert.Throws<FileNotFoundException>(() =>
            TwoStageTraining.Run(BeirDataset.Open(beir.Path), Path.Combine(beir.Path, "none"), Path.Combine(beir.Path, "out"), new TwoStageTrainingOptions()));
        Assert.Contains("config.json", error.Message);
    }
}
