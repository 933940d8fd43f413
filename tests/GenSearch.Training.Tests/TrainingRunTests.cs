using System.Text.Json.Nodes;
using GenSearch.Data;
using GenSearch.Serving;

namespace GenSearch.Training.Tests;

/// <summary>Resume only what was started with the same data and settings; a model directory is whole or absent.</summary>
public class TrainingRunTests
{
    private static readonly IModelKind Kind = ModelKinds.Get(TransformerTowerFormat.Name);

    private static object Settings(int epochs = 2, ulong seed = 1, int checkpointEvery = 2) => Kind.Settings(new JsonObject
    {
        ["encoder"] = new JsonObject { ["dim"] = 16, ["heads"] = 2, ["layers"] = 1, ["ffn_dim"] = 32, ["output_dim"] = 16 },
        ["vocabulary"] = 200, ["hard_negatives"] = 0, ["model_negatives_from_epoch"] = -1, ["seed"] = seed,
        ["trainer"] = new JsonObject { ["epochs"] = epochs, ["batch_size"] = 16, ["checkpoint_every"] = checkpointEvery },
    }, "test");

    /// <summary>Trains into <paramref name="outDir"/>, cancelling after <paramref name="stopAt"/> steps when given.</summary>
    private static float Train(string data, string outDir, object settings, int? stopAt = null, bool restart = false, List<string>? notes = null)
    {
        using var cancel = new CancellationTokenSource();
        return Kind.Train(new TrainingRequest(BeirDataset.Open(data), outDir, Note: notes is null ? null : notes.Add,
            Progress: p => { if (p.Step == stopAt) cancel.Cancel(); }, Cancel: cancel.Token, Restart: restart), settings);
    }

    [Fact]
    public void KilledRunResumesInItsStagingDirectoryAndLandsWhole()
    {
        using var beir = new TinyBeir();
        string outDir = Path.Combine(beir.Path, "model"), straight = Path.Combine(beir.Path, "straight");
        Train(beir.Path, straight, Settings());
        Train(beir.Path, outDir, Settings(), stopAt: 3);
        Assert.False(Directory.Exists(outDir)); // never half a model
        string staging = TrainingRun.StagingPath(outDir);
        Assert.True(File.Exists(Path.Combine(staging, "checkpoint.safetensors")));
        // A kill during a checkpoint write leaves a temporary file: the resumed run removes it.
        File.WriteAllText(Path.Combine(staging, ".checkpoint.safetensors.0123.tmp"), "half");
        var notes = new List<string>();
        Train(beir.Path, outDir, Settings(checkpointEvery: 5), notes: notes); // the checkpoint interval is no part of the fingerprint
        Assert.Contains(notes, n => n.Contains("resuming from step 3 of 16")); // a cancelled run checkpoints the step it stopped at
        Assert.False(Directory.Exists(staging));
        Assert.Empty(Directory.GetFiles(outDir, "*.tmp", SearchOption.AllDirectories));
        Assert.Empty(Directory.GetFiles(outDir, ".*.tmp", SearchOption.AllDirectories));
        Assert.Equal(File.ReadAllBytes(Path.Combine(straight, "model.safetensors")), File.ReadAllBytes(Path.Combine(outDir, "model.safetensors")));
        Assert.True(File.Exists(Path.Combine(outDir, TrainingRun.FingerprintFile)));
    }

    [Fact]
    public void ResumeWithOtherSettingsIsRefusedSayingWhatDiffers()
    {
        using var beir = new TinyBeir();
        string outDir = Path.Combine(beir.Path, "model");
        Train(beir.Path, outDir, Settings(), stopAt: 3);
        var error = Assert.Throws<TrainingConflictException>(() => Train(beir.Path, outDir, Settings(seed: 7)));
        Assert.Contains("settings.seed: 1 -> 7", error.Message);
        Assert.Contains("--restart", error.Message);
        // Fewer epochs than the checkpoint has done once ran 0 steps and printed "final loss NaN".
        error = Assert.Throws<TrainingConflictException>(() => Train(beir.Path, outDir, Settings(epochs: 1)));
        Assert.Contains("settings.trainer.epochs: 2 -> 1", error.Message);
        // --restart discards the unfinished run and trains the new settings from step 1.
        var notes = new List<string>();
        Train(beir.Path, outDir, Settings(seed: 7), restart: true, notes: notes);
        Assert.Contains(notes, n => n.Contains("discarding the unfinished run"));
        Assert.Equal("7", JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "config.json")))!["training"]!["seed"]!.ToJsonString());
    }

    [Fact]
    public void ResumeOnOtherDataIsRefused()
    {
        using var beir = new TinyBeir();
        string outDir = Path.Combine(beir.Path, "model");
        Train(beir.Path, outDir, Settings(), stopAt: 3);
        File.AppendAllText(Path.Combine(beir.Path, "corpus.jsonl"), "{\"_id\": \"new\", \"title\": \"grey drill for home\", \"text\": \"\"}\n");
        var error = Assert.Throws<TrainingConflictException>(() => Train(beir.Path, outDir, Settings()));
        Assert.Contains("corpus.jsonl changed", error.Message);
    }

    [Fact]
    public void ASecondRunIntoTheSameOutIsRefusedWhileTheFirstHoldsIt()
    {
        using var beir = new TinyBeir();
        string outDir = Path.Combine(beir.Path, "model");
        using (TrainingRun.Lock(outDir))
        {
            var refused = Assert.Throws<TrainingConflictException>(() => Train(beir.Path, outDir, Settings()));
            Assert.Contains("another gensearch train is writing", refused.Message);
            Assert.False(Directory.Exists(TrainingRun.StagingPath(outDir)));
        }
        Assert.False(File.Exists(outDir + ".lock"));
        Train(beir.Path, outDir, Settings());
        Assert.Equal(48, ModelFormats.Open(outDir).Count);
        Assert.False(File.Exists(outDir + ".lock"));
    }

    [Fact]
    public void AFinishedModelIsNeitherRetrainedNorOverwrittenUnasked()
    {
        using var beir = new TinyBeir();
        string outDir = Path.Combine(beir.Path, "model");
        Train(beir.Path, outDir, Settings());
        var weights = File.ReadAllBytes(Path.Combine(outDir, "model.safetensors"));
        var notes = new List<string>();
        Assert.True(float.IsNaN(Train(beir.Path, outDir, Settings(), notes: notes)));
        Assert.Contains(notes, n => n.Contains("already holds this model"));

        Assert.Contains("settings.seed: 1 -> 3", Assert.Throws<TrainingConflictException>(() => Train(beir.Path, outDir, Settings(seed: 3))).Message);
        // Replacing it: a kill half-way leaves the old model whole and loadable.
        Train(beir.Path, outDir, Settings(seed: 3), stopAt: 3, restart: true);
        Assert.Equal(weights, File.ReadAllBytes(Path.Combine(outDir, "model.safetensors")));
        Assert.Equal(48, ModelFormats.Open(outDir).Count);
        Train(beir.Path, outDir, Settings(seed: 3), restart: true);
        Assert.NotEqual(weights, File.ReadAllBytes(Path.Combine(outDir, "model.safetensors")));
        Assert.False(Directory.Exists(TrainingRun.StagingPath(outDir)));
    }

    [Fact]
    public void OutOfRangeSettingsAreRefusedBeforeAnyWorkNamingTheSetting()
    {
        var error = Assert.Throws<InvalidDataException>(() => Kind.Settings(new JsonObject
        {
            ["temperature"] = 0, ["trainer"] = new JsonObject { ["epochs"] = 0, ["learning_rate"] = -1 },
        }, "opts.json"));
        Assert.Contains("opts.json: temperature is 0; it must be above 0", error.Message);
        Assert.Contains("trainer.epochs is 0; it must be at least 1", error.Message);
        Assert.Contains("trainer.learning_rate is -1; it must be above 0", error.Message);
        var ranker = Assert.Throws<InvalidDataException>(() => ModelKinds.Get("sid-coord").Settings(new JsonObject { ["memory_folds"] = 0, ["validation_share"] = 1 }, "sc.json"));
        Assert.Contains("sc.json: memory_folds is 0; it must lie in [1, 16]", ranker.Message);
        Assert.Contains("validation_share is 1; it must lie in [0, 0.5]", ranker.Message);
        // Settings that once reached the training code and came out as internal errors: refused here, named.
        var paths = Assert.Throws<InvalidDataException>(() => ModelKinds.Get("sid-coord").Settings(new JsonObject
        {
            ["memory_folds"] = 100, ["sid_model"] = "", ["retriever"] = "bogus", ["fold_models"] = new JsonObject { ["fold0"] = " " },
        }, "sc.json"));
        Assert.Contains("memory_folds is 100; it must lie in [1, 16]", paths.Message);
        Assert.Contains("sid_model is empty", paths.Message);
        Assert.Contains("fold_models.fold0 is empty", paths.Message);
        Assert.Contains("retriever: 'bogus': unknown retriever 'bogus'", paths.Message);
        Assert.Contains("generator_model is empty", Assert.Throws<InvalidDataException>(() => ModelKinds.Get("lambdamart").Settings(new JsonObject { ["generator_model"] = "" }, "lm.json")).Message);
        // drop_features names match features, and leaves a ranker something to read.
        Assert.Contains("lm.json: drop_features: 'colour' is no match feature; they are bm25, bm25_gap,", Assert.Throws<InvalidDataException>(() =>
            ModelKinds.Get("lambdamart").Settings(new JsonObject { ["drop_features"] = new JsonArray("dense", "colour") }, "lm.json")).Message);
        var every = new JsonArray([.. GenSearch.Serving.Ranking.MatchFeatures.Names.Select(n => (JsonNode)n)]);
        Assert.Contains("drop_features drops every match feature and the ranker reads nothing else", Assert.Throws<InvalidDataException>(() =>
            ModelKinds.Get("lambdamart").Settings(new JsonObject { ["drop_features"] = every.DeepClone() }, "lm.json")).Message);
        Assert.Contains("drop_features drops every match feature", Assert.Throws<InvalidDataException>(() =>
            ModelKinds.Get("sid-coord").Settings(new JsonObject { ["drop_features"] = every.DeepClone(), ["items"] = "None" }, "sc.json")).Message);
        ModelKinds.Get("sid-coord").Settings(new JsonObject { ["drop_features"] = every.DeepClone(), ["items"] = "Sids" }, "sc.json"); // the item tables are left
        // A typo inside a setting whose default is null (taken whole from the file) is refused as well.
        Assert.Contains("whole_titel_share", Assert.Throws<InvalidDataException>(() => ModelKinds.Get("two-stage").Settings(
            new JsonObject { ["pseudo_queries"] = new JsonObject { ["whole_titel_share"] = 0.3 } }, "tw.json")).Message);
        // A fingerprint from before runs recorded the models their settings name still matches its identical rerun.
        var now = new JsonObject { ["kind"] = "sid-coord", ["models"] = new JsonObject { ["sid_model"] = "abc" } };
        Assert.Empty(TrainingRun.Differences(new JsonObject { ["kind"] = "sid-coord" }, now));
        Assert.Equal(["the model sid_model names changed"], TrainingRun.Differences(new JsonObject { ["kind"] = "sid-coord", ["models"] = new JsonObject { ["sid_model"] = "abd" } }, now));
        var spo = Assert.Throws<InvalidDataException>(() => ModelKinds.Get("spo").Settings(new JsonObject { ["mode"] = "dpo", ["ranker"] = "r" }, "spo.json"));
        Assert.Contains("ranker is given with mode dpo", spo.Message);
        Assert.Contains("ranker is empty", Assert.Throws<InvalidDataException>(() => ModelKinds.Get("spo").Settings(new JsonObject { ["ranker"] = "" }, "spo.json")).Message);
        ModelKinds.Get("sid-coord").Settings(new JsonObject { ["retriever"] = "generative", ["sid_model"] = null }, "sc.json"); // the forms in use pass
        // A wrong type names the setting, without System.Text.Json's position in the merged defaults (not the user's file).
        var type = Assert.Throws<InvalidDataException>(() => Kind.Settings(new JsonObject { ["trainer"] = new JsonObject { ["epochs"] = "1" } }, "e.json"));
        Assert.Contains("e.json: $.trainer.epochs: The JSON value could not be converted to System.Int32.", type.Message);
        Assert.DoesNotContain("LineNumber", type.Message);
        foreach (var kind in ModelKinds.All) kind.Settings(null, "defaults"); // every default is in range
    }

    [Fact]
    public void ADirectoryThatIsNoModelIsNeverTrainedInto()
    {
        using var beir = new TinyBeir();
        string outDir = Path.Combine(beir.Path, "notes");
        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(outDir, "mine.txt"), "keep me");
        Assert.Contains("not a model directory", Assert.Throws<TrainingConflictException>(() => Train(beir.Path, outDir, Settings())).Message);
        Assert.Equal("keep me", File.ReadAllText(Path.Combine(outDir, "mine.txt")));
    }

    [Fact]
    public void AnEmptyCorpusIsAnErrorThatLeavesNothingBehind()
    {
        using var beir = new TinyBeir();
        File.WriteAllText(Path.Combine(beir.Path, "corpus.jsonl"), "");
        string outDir = Path.Combine(beir.Path, "model");
        var error = Assert.Throws<DataFormatException>(() => Train(beir.Path, outDir, Settings()));
        Assert.Contains("corpus.jsonl:1", error.Message);
        Assert.False(Directory.Exists(outDir));
        Assert.False(Directory.Exists(TrainingRun.StagingPath(outDir)));
    }
}
