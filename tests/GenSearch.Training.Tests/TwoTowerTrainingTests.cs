using GenSearch.Data;
using GenSearch.Models;
using GenSearch.Nn;
using GenSearch.Serving;

namespace GenSearch.Training.Tests;

public class TwoTowerTrainingTests
{
    private static TwoTowerTrainingOptions Options(int epochs) => new()
    {
        Encoder = new TextEncoderConfig { Dim = 32, Heads = 2, Layers = 1, FfnDim = 64, OutputDim = 32, Dropout = 0f },
        Vocabulary = 200, MaxQueryTokens = 8, MaxItemTokens = 8, Temperature = 0.1f, HardNegatives = 1, HardNegativePool = 10,
        Trainer = new TrainerOptions { BatchSize = 16, Epochs = epochs, LearningRate = 3e-3f, WarmupSteps = 5, CheckpointEvery = 3 },
    };

    [Fact]
    public void TrainsWritesALoadableModelAndFindsUnseenItemsThroughTheirTitles()
    {
        using var beir = new TinyBeir();
        string outDir = Path.Combine(beir.Path, "model");
        TwoTowerTraining.Run(BeirDataset.Open(beir.Path), outDir, Options(20));
        var retriever = ModelFormats.Open(outDir);
        Assert.Equal(48, retriever.Count);
        Assert.False(File.Exists(new ModelDirectory(outDir).CheckpointPath)); // a finished run leaves no checkpoint

        // Dev queries' items were never judged in training: only the indexing pairs reach them.
        var (hits, total) = beir.DevQueriesFound(retriever, 5);
        Assert.True(hits >= total * 0.75, $"{hits} of {total} dev queries find their item in the top 5");
    }

    [Fact]
    public void CancelledRunResumesFromItsCheckpoint()
    {
        using var beir = new TinyBeir();
        string outDir = Path.Combine(beir.Path, "model");
        using var cancel = new CancellationTokenSource();
        TwoTowerTraining.Run(BeirDataset.Open(beir.Path), outDir, Options(2), progress: p => { if (p.Step == 4) cancel.Cancel(); }, cancel: cancel.Token);
        var dir = new ModelDirectory(outDir);
        Assert.True(File.Exists(dir.CheckpointPath));
        Assert.False(File.Exists(dir.ConfigPath));

        long first = -1;
        TwoTowerTraining.Run(BeirDataset.Open(beir.Path), outDir, Options(2), progress: p => { if (first < 0) first = p.Step; });
        Assert.Equal(5, first);
        Assert.Equal(TransformerTowerFormat.Name, ModelFormats.KindOf(dir));
    }

    [Fact]
    public void RunKilledAfterMiningWithTheModelResumesToTheSameModel()
    {
        // 32 judged pairs + 2 x 48 indexing pairs = 8 steps an epoch; the model mines negatives at
        // the start of epochs 1 and 2. The stopped run ends inside epoch 1, after its mining.
        var options = Options(3) with { ModelNegativesFromEpoch = 1, ListwiseWeight = 0.5f };
        using var beir = new TinyBeir();
        string straight = Path.Combine(beir.Path, "straight"), killed = Path.Combine(beir.Path, "killed");
        TwoTowerTraining.Run(BeirDataset.Open(beir.Path), straight, options);

        using var cancel = new CancellationTokenSource();
        TwoTowerTraining.Run(BeirDataset.Open(beir.Path), killed, options, progress: p => { if (p.Step == 11) cancel.Cancel(); }, cancel: cancel.Token);
        Assert.True(File.Exists(Path.Combine(killed, "mined-negatives-1.txt")));
        TwoTowerTraining.Run(BeirDataset.Open(beir.Path), killed, options);

        Assert.Equal(File.ReadAllBytes(Path.Combine(straight, "model.safetensors")), File.ReadAllBytes(Path.Combine(killed, "model.safetensors")));
        Assert.Empty(Directory.GetFiles(killed, "mined-negatives-*")); // a finished run cleans up
    }

    [Fact]
    public void MissingModelNamesTheFile()
    {
        var error = Assert.Throws<FileNotFoundException>(() => ModelFormats.Open("/nonexistent/model"));
        Assert.Contains("/nonexistent/model/config.json", error.Message);
    }
}
