using GenSearch.Data;
using GenSearch.Nn;
using GenSearch.Serving;

namespace GenSearch.Training.Tests;

public class NgramTowerTrainingTests
{
    private static NgramTowerTrainingOptions Options(int epochs) => new()
    {
        Dim = 16, Temperature = 0.1f, HardNegatives = 1, HardNegativePool = 10,
        Trainer = new TrainerOptions { BatchSize = 16, Epochs = epochs, LearningRate = 0.05f, WarmupSteps = 2, WeightDecay = 0f, ClipNorm = 0f, CheckpointEvery = 3 },
    };

    [Fact]
    public void TrainsWritesALoadableModelAndFindsUnseenItemsThroughTheirTitles()
    {
        using var beir = new TinyBeir();
        string outDir = Path.Combine(beir.Path, "model");
        NgramTowerTraining.Run(BeirDataset.Open(beir.Path), outDir, Options(15));
        var dir = new ModelDirectory(outDir);
        Assert.Equal("two-tower", ModelFormats.KindOf(dir));
        Assert.False(File.Exists(dir.CheckpointPath));
        var retriever = ModelFormats.Open(outDir); // the two-tower loader reads the tower kind
        Assert.Equal(48, retriever.Count);

        // Dev queries' items were never judged in training: only the indexing pairs reach them.
        var (hits, total) = beir.DevQueriesFound(retriever, 5);
        Assert.True(hits >= total * 0.75, $"{hits} of {total} dev queries find their item in the top 5");
    }

    [Fact]
    public void RunKilledAfterMiningWithTheModelResumesToTheSameModel()
    {
        var options = Options(3) with { ModelNegativesFromEpoch = 1 };
        using var beir = new TinyBeir();
        string straight = Path.Combine(beir.Path, "straight"), killed = Path.Combine(beir.Path, "killed");
        NgramTowerTraining.Run(BeirDataset.Open(beir.Path), straight, options);

        using var cancel = new CancellationTokenSource();
        long stoppedAt = 0;
        NgramTowerTraining.Run(BeirDataset.Open(beir.Path), killed, options, progress: p => { stoppedAt = p.Step; if (p.Step == 6) cancel.Cancel(); }, cancel: cancel.Token);
        Assert.Equal(6, stoppedAt);
        Assert.True(File.Exists(Path.Combine(killed, "mined-negatives-1.txt")));
        Assert.False(File.Exists(Path.Combine(killed, "config.json")));
        NgramTowerTraining.Run(BeirDataset.Open(beir.Path), killed, options);

        Assert.Equal(File.ReadAllBytes(Path.Combine(straight, "model.safetensors")), File.ReadAllBytes(Path.Combine(killed, "model.safetensors")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(straight, "items.safetensors")), File.ReadAllBytes(Path.Combine(killed, "items.safetensors")));
        Assert.Empty(Directory.GetFiles(killed, "mined-negatives-*"));
    }

    [Fact]
    public void OptionsFileChangesOnlyTheKeysItGivesAndRejectsUnknownOnes()
    {
        string dir = Directory.CreateTempSubdirectory("options").FullName;
        try
        {
            string path = Path.Combine(dir, "options.json");
            File.WriteAllText(path, """{ "dim": 64, "trainer": { "epochs": 2 }, "pseudo_queries": null }""");
            var options = TrainingOptionsFile.Apply(new NgramTowerTrainingOptions(), path);
            var defaults = new NgramTowerTrainingOptions();
            Assert.Equal(64, options.Dim);
            Assert.Equal(2, options.Trainer.Epochs);
            Assert.Equal(defaults.Trainer.LearningRate, options.Trainer.LearningRate); // kept, though "trainer" was given
            Assert.Equal(defaults.Temperature, options.Temperature);
            Assert.Null(options.PseudoQueries);

            File.WriteAllText(path, """{ "trainer": { "epoch": 2 } }""");
            Assert.Contains("unknown setting 'trainer.epoch'", Assert.Throws<InvalidDataException>(() => TrainingOptionsFile.Apply(defaults, path)).Message);
            File.WriteAllText(path, "{\n  \"dim\": 64,\n  oops\n}");
            Assert.Contains($"{path}: line 3", Assert.Throws<InvalidDataException>(() => TrainingOptionsFile.Apply(defaults, path)).Message);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
