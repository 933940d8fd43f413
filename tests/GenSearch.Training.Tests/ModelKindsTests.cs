using System.Text.Json.Nodes;
using GenSearch.Data;
using GenSearch.Models;
using GenSearch.Nn;
using GenSearch.Serving;
using GenSearch.Serving.Ranking;

namespace GenSearch.Training.Tests;

public class ModelKindsTests
{
    [Fact]
    public void EveryTrainableKindIsOneSearchCanOpen()
    {
        var kinds = ModelKinds.All.Select(k => k.Name).ToArray();
        Assert.Equal([LambdaMartFormat.Name, SidCoordFormat.Name, "spo", TwoStageFormat.Name, NgramTowerFormat.Name, TransformerTowerFormat.Name, UnifiedFormat.Name], kinds);
        // Retrievers open through ModelFormats; rankers through RankerFormats (a reranking stage); SPO aligns a
        // unified model and writes one (SpoTrainingTests opens it).
        var rankers = RankerFormats.All.Select(f => f.Kind).ToHashSet();
        Assert.Equal([LambdaMartFormat.Name, SidCoordFormat.Name], rankers.Order());
        foreach (var kind in kinds.Where(k => !rankers.Contains(k) && k != "spo")) Assert.Equal(kind, ModelFormats.Get(kind).Kind);
        Assert.Contains("known: lambdamart, sid-coord, spo, two-stage, two-tower, two-tower-transformer, unified", Assert.Throws<ArgumentException>(() => ModelKinds.Get("tiger")).Message);
    }

    [Fact]
    public void EveryKindHasOneSeedAndTheTrainerSeedIsNoSetting()
    {
        foreach (var kind in ModelKinds.All)
        {
            var json = ModelKinds.ToJson(kind.Defaults);
            Assert.True(json.ContainsKey("seed"), kind.Name);
            var error = Assert.Throws<InvalidDataException>(() => kind.Settings(new JsonObject { ["trainer"] = new JsonObject { ["seed"] = 7 } }, "opts.json"));
            if (json["trainer"] is JsonObject trainer)
            {
                Assert.False(trainer.ContainsKey("seed"), kind.Name);
                Assert.Contains("opts.json: unknown setting 'trainer.seed'", error.Message);
            }
            else Assert.Contains("opts.json: unknown setting 'trainer'", error.Message); // LightGBM's own loop: no trainer section
        }
    }

    [Fact]
    public void SeedInTheSettingsChangesTheWeightsThroughTheRegistry()
    {
        // The bug this guards: the CLI laid the trainer's seed over the model's, so {"seed": 7} was silently dropped.
        using var beir = new TinyBeir();
        var kind = ModelKinds.Get(TransformerTowerFormat.Name);
        var small = new JsonObject
        {
            ["encoder"] = new JsonObject { ["dim"] = 16, ["heads"] = 2, ["layers"] = 1, ["ffn_dim"] = 32, ["output_dim"] = 16 },
            ["vocabulary"] = 200, ["hard_negatives"] = 0, ["model_negatives_from_epoch"] = -1,
            ["trainer"] = new JsonObject { ["epochs"] = 1, ["batch_size"] = 32, ["checkpoint_every"] = 0 },
        };
        byte[] Weights(ulong? seed)
        {
            var overrides = small.DeepClone().AsObject();
            if (seed is { } s) overrides["seed"] = s;
            string outDir = Path.Combine(beir.Path, $"seed-{seed}");
            var settings = (TwoTowerTrainingOptions)kind.Settings(overrides, "test");
            Assert.Equal(seed ?? 1, settings.Seed);
            kind.Train(new TrainingRequest(BeirDataset.Open(beir.Path), outDir), settings);
            return File.ReadAllBytes(new ModelDirectory(outDir).WeightsPath);
        }
        var defaultSeed = Weights(null);
        Assert.Equal(defaultSeed, Weights(1));
        Assert.NotEqual(defaultSeed, Weights(7));
    }

    [Fact]
    public void TwoStageNeedsTheModelItBuildsOn()
    {
        using var beir = new TinyBeir();
        var kind = ModelKinds.Get(TwoStageFormat.Name);
        Assert.NotNull(kind.BuildsOn);
        var error = Assert.Throws<ArgumentException>(() => kind.Train(new TrainingRequest(BeirDataset.Open(beir.Path), Path.Combine(beir.Path, "out")), kind.Defaults));
        Assert.Contains("needs --from DIR", error.Message);
        // A --from that is no model, or a ranker, is named as such before any work (not by the first file it lacks).
        var sidCoord = ModelKinds.Get("sid-coord");
        string missing = Path.Combine(beir.Path, "none"), ranker = Path.Combine(beir.Path, "ranker");
        Assert.Contains($"--from {missing}: no model here", Assert.Throws<InvalidDataException>(() =>
            sidCoord.Train(new TrainingRequest(BeirDataset.Open(beir.Path), Path.Combine(beir.Path, "out"), missing), sidCoord.Defaults)).Message);
        Directory.CreateDirectory(ranker);
        File.WriteAllText(Path.Combine(ranker, "config.json"), """{"kind": "lambdamart"}""");
        Assert.Contains($"--from {ranker}: a lambdamart model is no retrieval model", Assert.Throws<InvalidDataException>(() =>
            sidCoord.Train(new TrainingRequest(BeirDataset.Open(beir.Path), Path.Combine(beir.Path, "out"), ranker), sidCoord.Defaults)).Message);
        Assert.False(Directory.Exists(Path.Combine(beir.Path, "out.partial")));
        // So are the ranker's own model settings, by their names.
        Assert.Contains($"generator_model {ranker}: a lambdamart model is no retrieval model",
            Assert.Throws<InvalidDataException>(() => RankingLists.CheckModelSettings(ranker, null, null)).Message);
        Assert.Contains($"fold_models.fold1 {missing}: no model here",
            Assert.Throws<InvalidDataException>(() => RankingLists.CheckModelSettings(null, null, new Dictionary<string, string> { ["fold1"] = missing })).Message);
    }

    [Fact]
    public void TransformerTowersWrittenBeforeTheyHadAKindOfTheirOwnStillOpen()
    {
        using var beir = new TinyBeir();
        string outDir = Path.Combine(beir.Path, "legacy");
        TwoTowerTraining.Run(BeirDataset.Open(beir.Path), outDir, new TwoTowerTrainingOptions
        {
            Encoder = new TextEncoderConfig { Dim = 16, Heads = 2, Layers = 1, FfnDim = 32, OutputDim = 16, Dropout = 0f },
            Vocabulary = 200, HardNegatives = 0, ModelNegativesFromEpoch = -1,
            Trainer = new TrainerOptions { BatchSize = 32, Epochs = 1, CheckpointEvery = 0 },
        });
        var dir = new ModelDirectory(outDir);
        var before = ModelFormats.Open(outDir).Search([new Query("q", "red drill")], 5)[0];
        // What config.json said before this change: "two-tower" and no "tower" (and a trainer seed).
        var config = JsonNode.Parse(File.ReadAllText(dir.ConfigPath))!.AsObject();
        config["kind"] = "two-tower";
        config["training"]!["trainer"]!["seed"] = 1;
        File.WriteAllText(dir.ConfigPath, config.ToJsonString());
        Assert.Equal(TransformerTowerFormat.Name, ModelFormats.KindOf(dir));
        Assert.Equal(before, ModelFormats.Open(outDir).Search([new Query("q", "red drill")], 5)[0]);
    }
}
