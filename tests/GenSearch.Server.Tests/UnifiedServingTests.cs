using System.Text.Json;
using GenSearch.Data;
using GenSearch.Nn;
using GenSearch.Training;

namespace GenSearch.Server.Tests;

/// <summary>
/// The server over a generative model: a tiny unified model trained on the sample (its dev judgments
/// copied as train: this checks serving, not quality), served with <c>--retriever model</c>.
/// </summary>
public sealed class UnifiedServingTests
{
    private static string TrainTinyModel()
    {
        string dir = GenSearch.Tests.TestTemp.Directory("unified");
        string data = Path.Combine(dir, "data");
        Directory.CreateDirectory(Path.Combine(data, "qrels"));
        foreach (var file in new[] { "corpus.jsonl", "queries.jsonl", "dataset.json", "qrels/dev.tsv" })
            File.Copy(Path.Combine(TestServer.Sample, file), Path.Combine(data, file));
        File.Copy(Path.Combine(data, "qrels", "dev.tsv"), Path.Combine(data, "qrels", "train.tsv"));
        string model = Path.Combine(dir, "model");
        UnifiedTraining.Run(BeirDataset.Open(data), model, new UnifiedTrainingOptions
        {
            Dim = 16, Codes = 4, DecoderHidden = 16, BeamSize = 20,
            Trainer = new TrainerOptions { BatchSize = 32, Epochs = 3, LearningRate = 0.05f, WarmupSteps = 2, MinLearningRate = 0.005f, WeightDecay = 0f, ClipNorm = 0f, CheckpointEvery = 50 },
        });
        return model;
    }

    [Fact]
    public async Task HitsCarryTheirSemanticIdsAndExplainSumsToTheScoreAndNewItemsGetIds()
    {
        string model = TrainTinyModel();
        await using var s = await TestServer.StartAsync(configure: o => o with { ModelDir = model, Retriever = "model", Beam = 20 });
        var hits = (await s.Search("hafi bokapa", size: 5, explain: true)).GetProperty("hits").EnumerateArray().ToList();
        Assert.NotEmpty(hits);
        foreach (var hit in hits)
        {
            // The SID path: 3 code levels and the collision token; their scores (log-probabilities, then the
            // item's w (sim - 1)) add up to the hit's score.
            string sid = hit.GetProperty("sid").GetString()!;
            Assert.Equal(4, sid.Split('-').Length);
            var path = hit.GetProperty("explanation").GetProperty("generative");
            Assert.Equal(sid, string.Join('-', path.GetProperty("codes").EnumerateArray().Select(c => c.GetInt32())));
            var levels = path.GetProperty("level_scores").EnumerateArray().Select(l => l.GetDouble()).ToArray();
            Assert.Equal(4, levels.Length);
            Assert.Equal(hit.GetProperty("score").GetDouble(), levels.Sum(), 2);
        }

        // A new item: encoded, quantized by the saved codebooks, in the trie, found with its own SID.
        string id = "unified-new-" + Guid.NewGuid().ToString("N")[..8];
        Assert.Equal(201, (int)(await s.Put(id, new { title = "Qwertzu Flimbar hafi lamp" })).StatusCode);
        var found = (await s.Search("qwertzu flimbar hafi lamp", size: 20)).GetProperty("hits").EnumerateArray()
            .FirstOrDefault(h => h.GetProperty("id").GetString() == id);
        Assert.Equal(JsonValueKind.Object, found.ValueKind);
        Assert.Equal(4, found.GetProperty("sid").GetString()!.Split('-').Length);
    }
}
