using GenSearch.Data;
using GenSearch.Nn;
using GenSearch.Retrieval;
using GenSearch.Retrieval.Generative;
using GenSearch.Serving;

namespace GenSearch.Training.Tests;

public class UnifiedTrainingTests
{
    /// <summary>A unified model small enough for the tiny catalog (also what SPO's tests align).</summary>
    internal static UnifiedTrainingOptions Options(int epochs) => new()
    {
        Dim = 16, Codes = 4, DecoderHidden = 16, BeamSize = 20,
        Trainer = new TrainerOptions { BatchSize = 16, Epochs = epochs, LearningRate = 0.05f, WarmupSteps = 2, MinLearningRate = 0.005f, WeightDecay = 0f, ClipNorm = 0f, CheckpointEvery = 3 },
        DenseLearningRateScale = 0.2f,
    };

    /// <summary>A unified model trained on <paramref name="beir"/> for <paramref name="epochs"/>, opened for generative search.</summary>
    private static UnifiedRetriever TrainedRetriever(TinyBeir beir, int epochs)
    {
        string outDir = Path.Combine(beir.Path, "model");
        UnifiedTraining.Run(BeirDataset.Open(beir.Path), outDir, Options(epochs));
        return (UnifiedRetriever)ModelFormats.Open(outDir, new ModelOpenOptions { Mode = "generative" });
    }

    [Fact]
    public void TrainsAModelThatSearchesGenerativelyAndDenselyAndPlacesNewItemsWithoutRetraining()
    {
        using var beir = new TinyBeir();
        string outDir = Path.Combine(beir.Path, "model");
        UnifiedTraining.Run(BeirDataset.Open(beir.Path), outDir, Options(15));
        var dir = new ModelDirectory(outDir);
        Assert.Equal("unified", ModelFormats.KindOf(dir));
        Assert.False(File.Exists(dir.CheckpointPath));
        var health = File.ReadAllLines(Path.Combine(outDir, UnifiedTraining.HealthLogFile));
        Assert.Equal(17, health.Length); // header, epochs 0..14 at their start, and the final catalog

        var generative = ModelFormats.Open(outDir, new ModelOpenOptions { Mode = "generative" });
        var dense = ModelFormats.Open(outDir, new ModelOpenOptions { Mode = "dense" });
        Assert.Equal(48, generative.Count);
        // Dev queries' items were never judged in training: only the indexing pairs reach them.
        var (hits, total) = beir.DevQueriesFound(generative, 5);
        Assert.True(hits >= total * 0.6, $"generative: {hits} of {total} dev queries find their item in the top 5");
        (hits, total) = beir.DevQueriesFound(dense, 5);
        Assert.True(hits >= total * 0.6, $"dense: {hits} of {total} dev queries find their item in the top 5");

        // Explain: each hit's SID path (code levels' log-probabilities, then the item's w (sim - 1) at the
        // collision token) sums to the score search gave it, and names the ID the catalog holds.
        var unified = (UnifiedRetriever)generative;
        var query = new Query("q", "cordless drill");
        var top = unified.Search([query], 10)[0];
        var paths = unified.Explain(query, [.. top.Select(h => h.Id), "no-such-item"]);
        Assert.Null(paths[^1]);
        for (int i = 0; i < top.Count; i++)
        {
            var path = paths[i]!;
            Assert.Equal(unified.SidOf(top[i].Id), path.Codes);
            Assert.Equal(path.Codes.Length, path.LevelScores.Length);
            Assert.True(Math.Abs(path.Score - top[i].Score) < 1e-3 * Math.Max(1, Math.Abs(top[i].Score)), $"{top[i].Id}: explained {path.Score}, searched {top[i].Score}");
        }

        // A new item: encoded by the item encoder, quantized by the model's codebooks, put in the trie.
        var item = new Document("new1", "purple drill for home", "");
        Assert.Equal(1, unified.Upsert([item]).Added);
        Assert.NotNull(unified.Item("new1"));
        var found = unified.Search([new Query("q", "purple drill")], 10)[0];
        Assert.Contains(found, h => h.Id == "new1");
        Assert.Equal(1, unified.Remove(["new1"]).Removed);
        Assert.DoesNotContain(unified.Search([new Query("q", "purple drill")], 10)[0], h => h.Id == "new1");
        Assert.Null(unified.Item("new1"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ALiveCatalogSearchesAsARetrieverBuiltAfreshOverTheItemsItHolds(bool sketched)
    {
        // The twin of the live catalog: after adds, replacements (of base items and of added ones), removals,
        // re-adds of removed ids and folds, search gives the same hits and scores as a retriever built from
        // scratch over the documents the catalog then holds, each encoded anew by the model. The live one
        // keeps item latents by slot across changes; a stale one (a replaced item's old latent) changes a score.
        // Sketched: the upper levels are steered by a 3-direction sketch (the same for both), read from the
        // base's block by entry range, with dead entries skipped and the delta's items added one by one.
        using var beir = new TinyBeir();
        var trained = TrainedRetriever(beir, epochs: 2);
        var live = trained;
        if (sketched)
        {
            var snapshot0 = trained.Catalog.Current;
            var ids0 = snapshot0.ItemIds.ToArray();
            live = new UnifiedRetriever(trained.Model, trained.Features, trained.Catalog.Vocabulary,
                Enumerable.Range(0, ids0.Length).Select(i => snapshot0.Codes(i).ToArray()).ToArray(), ids0,
                ids0.SelectMany(id => trained.Item(id)!.Latent).ToArray(), trained.Options with { SketchDirections = 3, BeamSize = 6 });
            Assert.Equal(3, live.Sketch.Directions);
        }
        live.Catalog.FoldLimitForTests = 7;
        var held = BeirDataset.Open(beir.Path).Corpus().ToDictionary(d => d.Id);
        var queries = TinyBeir.Things.SelectMany(t => TinyBeir.Colors.Select(c => $"{c} {t}")).Select((text, i) => new Query($"q{i}", text)).ToArray();
        var rng = new Random(5);
        string Title() => $"{TinyBeir.Colors[rng.Next(TinyBeir.Colors.Length)]} {TinyBeir.Things[rng.Next(TinyBeir.Things.Length)]} {(rng.Next(2) == 0 ? "for home" : "pro")}";
        var removed = new List<string>();
        int added = 0;
        for (int round = 0; round < 12; round++)
        {
            var ids = live.Catalog.Current.ItemIds.ToArray();
            var puts = new List<Document> { new($"n{added++}", Title(), ""), new($"n{added++}", Title(), ""), new(ids[rng.Next(ids.Length)], Title(), "") };
            if (round % 3 == 2) puts.Add(new Document(removed[rng.Next(removed.Count)], Title(), "")); // a removed id comes back
            live.Upsert(puts);
            foreach (var d in puts) { held[d.Id] = d; removed.Remove(d.Id); }
            string gone = ids[rng.Next(ids.Length)];
            live.Remove([gone]);
            held.Remove(gone);
            removed.Add(gone);

            var snapshot = live.Catalog.Current;
            var itemIds = snapshot.ItemIds.ToArray();
            Assert.Equal(held.Keys.Order(StringComparer.Ordinal), itemIds.Order(StringComparer.Ordinal));
            var (latents, _) = live.Model.EncodeItems(itemIds.Select(id => live.Features.Encode(held[id].TitleAndText)).ToArray());
            var fresh = new UnifiedRetriever(live.Model, live.Features, live.Catalog.Vocabulary,
                Enumerable.Range(0, itemIds.Length).Select(i => snapshot.Codes(i).ToArray()).ToArray(), itemIds, latents, live.Options, live.Sketch);
            var expected = fresh.Search(queries, 20);
            var actual = live.Search(queries, 20);
            for (int q = 0; q < queries.Length; q++)
            {
                Assert.Equal(expected[q].Select(h => h.Id), actual[q].Select(h => h.Id));
                for (int i = 0; i < expected[q].Count; i++) Assert.Equal(expected[q][i].Score, actual[q][i].Score, 1e-4f);
            }
        }
        // After a search, the base's items hold their sketches as rows of the base's one block, not beside it.
        var blocks = live.Catalog.Current.ItemIds.Select(id => System.Runtime.InteropServices.MemoryMarshal.TryGetArray(live.Item(id)!.Sketch, out var row) ? row.Array : null)
            .GroupBy(array => array).Select(g => g.Count()).OrderDescending().ToArray();
        Assert.True(blocks[0] > live.Catalog.Current.Count / 2, $"the largest share of one array is {blocks[0]} of {live.Catalog.Current.Count} sketches");
    }

    [Fact]
    public void SteeringEveryLevelKeepsTheItemsOfTheBestSimilarityInASmallBeam()
    {
        // Steered at every level, a prefix scores log P(prefix) + w (best sim under it - 1), a bound on its
        // items' scores. When w times the gap between the B-th and (B+1)-th best similarity exceeds the largest
        // |log P(ID)|, the B best items' prefixes outrank every other prefix at every level, so a beam of B
        // returns exactly them. Steering the last level only, the upper levels choose by log P alone and lose some.
        using var beir = new TinyBeir();
        var trained = TrainedRetriever(beir, epochs: 4);
        var snapshot = trained.Catalog.Current;
        var ids = snapshot.ItemIds.ToArray();
        var codes = Enumerable.Range(0, ids.Length).Select(i => snapshot.Codes(i).ToArray()).ToArray();
        var latents = ids.SelectMany(id => trained.Item(id)!.Latent).ToArray();
        const int B = 3;
        const float w = 1e4f;
        UnifiedRetriever With(int steered) => new(trained.Model, trained.Features, trained.Catalog.Vocabulary, codes, ids, latents,
            new UnifiedSearchOptions { BeamSize = B, LatentWeight = w, SteeredLevels = steered });
        var all = With(3);
        var lastOnly = With(1);
        var queries = TinyBeir.Things.SelectMany(t => TinyBeir.Colors.Select(c => $"{c} {t}")).Select((text, i) => new Query($"q{i}", text)).ToArray();
        int checkedQueries = 0, lostByLastOnly = 0;
        foreach (var query in queries)
        {
            var q = all.EncodeQueries([query]);
            var bySimilarity = ids.Select(id => (Id: id, Sim: UnifiedRetriever.Similarity(q, trained.Item(id)!.Latent))).OrderByDescending(x => x.Sim).ToArray();
            float largestLogP = all.IdLogProbabilities(q, ids).Max(MathF.Abs);
            var best = bySimilarity.Take(B).Select(x => x.Id).Order(StringComparer.Ordinal).ToArray();
            var found = all.Search([query], B)[0];
            // Scores are exact whatever the steering: each hit's path sums to log P(ID) + w (sim - 1).
            foreach (var hit in found)
            {
                float expected = all.Explain(query, [hit.Id])[0]!.Score;
                Assert.True(Math.Abs(hit.Score - expected) <= 1e-5f * Math.Abs(expected) + 1e-2f, $"{query.Text}, {hit.Id}: searched {hit.Score}, explained {expected}");
            }
            if (w * (bySimilarity[B - 1].Sim - bySimilarity[B].Sim) <= largestLogP) continue; // too close to call
            checkedQueries++;
            Assert.Equal(best, found.Select(h => h.Id).Order(StringComparer.Ordinal).ToArray());
            if (!best.SequenceEqual(lastOnly.Search([query], B)[0].Select(h => h.Id).Order(StringComparer.Ordinal))) lostByLastOnly++;
        }
        Assert.True(checkedQueries >= queries.Length / 2, $"only {checkedQueries} of {queries.Length} queries have a clear gap");
        Assert.True(lostByLastOnly > 0, "steering the last level only kept the best items of every query too: the test cannot tell the settings apart");

        // Steered by a 2-direction sketch above the last level, the beam may keep other prefixes, but every
        // score is still the item's own log P(ID) + w (sim - 1).
        var sketched = new UnifiedRetriever(trained.Model, trained.Features, trained.Catalog.Vocabulary, codes, ids, latents,
            new UnifiedSearchOptions { BeamSize = B, SketchDirections = 2 });
        foreach (var query in queries)
            foreach (var hit in sketched.Search([query], B)[0])
            {
                float expected = sketched.Explain(query, [hit.Id])[0]!.Score;
                Assert.True(Math.Abs(hit.Score - expected) <= 1e-3f * Math.Max(1, Math.Abs(expected)), $"{query.Text}, {hit.Id}: searched {hit.Score}, explained {expected}");
            }
    }

    [Fact]
    public void AFeatureTableFromTowersTrainedOnTheSameDataStartsTheModelAndOtherDataIsRefused()
    {
        using var beir = new TinyBeir();
        var set = BeirDataset.Open(beir.Path);
        string towers = Path.Combine(beir.Path, "towers");
        NgramTowerTraining.Run(set, towers, new NgramTowerTrainingOptions
        {
            Dim = 16, Trainer = new TrainerOptions { BatchSize = 16, Epochs = 3, LearningRate = 0.05f, WarmupSteps = 2, WeightDecay = 0f, ClipNorm = 0f },
        });
        var towerTable = GenSearch.Tensors.IO.SafeTensors.Load(new ModelDirectory(towers).WeightsPath)["features"].AsF32();
        float Distance(string dir) // mean |row difference| between the unified model's table and the towers'
        {
            var table = GenSearch.Tensors.IO.SafeTensors.Load(new ModelDirectory(dir).WeightsPath)["features"].AsF32();
            return table.Zip(towerTable, (a, b) => MathF.Abs(a - b)).Average();
        }
        var notes = new List<string>();
        string warm = Path.Combine(beir.Path, "warm"), cold = Path.Combine(beir.Path, "cold");
        // A learning rate so small that the table stays where it started (Adam's steps are about the rate).
        var still = Options(1) with { Trainer = Options(1).Trainer with { LearningRate = 1e-6f, MinLearningRate = 1e-7f } };
        UnifiedTraining.Run(set, warm, still with { InitTableFrom = towers }, note: notes.Add);
        UnifiedTraining.Run(set, cold, still);
        Assert.Contains(notes, n => n.StartsWith("feature table from", StringComparison.Ordinal));
        Assert.True(Distance(warm) < 1e-3f && Distance(cold) > 0.05f, $"warm start {Distance(warm)} from the towers' table, cold {Distance(cold)}");

        using var other = new TinyBeir();
        File.AppendAllText(Path.Combine(other.Path, "corpus.jsonl"), "{\"_id\": \"extra\", \"title\": \"copper kettle\", \"text\": \"\"}\n");
        var e = Assert.Throws<InvalidDataException>(() =>
            UnifiedTraining.Run(BeirDataset.Open(other.Path), Path.Combine(other.Path, "m"), Options(1) with { InitTableFrom = towers }));
        Assert.Contains("trained on other data", e.Message);
    }

    [Fact]
    public void ARefusedUpsertLeavesTheItemsAsTheyWere()
    {
        // A batch the catalog refuses (here: more copies of one text than its leaf has collision tokens)
        // must leave every item's latent and codes as they were, the replaced item's included.
        using var beir = new TinyBeir();
        var live = TrainedRetriever(beir, epochs: 1);
        var kept = live.Item("d0")!;
        int tokens = live.Catalog.Vocabulary.LevelSizes[^1], count = live.Count;
        var batch = Enumerable.Range(0, tokens + 1).Select(i => new Document($"copy{i}", "red drill for home", ""))
            .Prepend(new Document("d0", "yellow pipe pro", "")).ToArray();
        Assert.Throws<ArgumentException>(() => live.Upsert(batch));
        Assert.Same(kept, live.Item("d0"));
        Assert.All(batch.Skip(1), d => Assert.Null(live.Item(d.Id)));
        Assert.Equal(count, live.Count);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)] // corpus negatives are drawn from the seeded batch generator too
    public void RunKilledMidEpochResumesToTheSameModel(int corpusNegatives)
    {
        var options = Options(3) with { ResidualContrast = true, CorpusNegatives = corpusNegatives }; // UniSearch's per-level loss trains here, the default elsewhere
        using var beir = new TinyBeir();
        string straight = Path.Combine(beir.Path, "straight"), killed = Path.Combine(beir.Path, "killed");
        UnifiedTraining.Run(BeirDataset.Open(beir.Path), straight, options);

        using var cancel = new CancellationTokenSource();
        long stoppedAt = 0;
        UnifiedTraining.Run(BeirDataset.Open(beir.Path), killed, options, progress: p => { stoppedAt = p.Step; if (p.Step == 7) cancel.Cancel(); }, cancel: cancel.Token);
        Assert.Equal(7, stoppedAt);
        Assert.False(File.Exists(Path.Combine(killed, "config.json")));
        UnifiedTraining.Run(BeirDataset.Open(beir.Path), killed, options);

        Assert.Equal(File.ReadAllBytes(Path.Combine(straight, "model.safetensors")), File.ReadAllBytes(Path.Combine(killed, "model.safetensors")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(straight, "items.safetensors")), File.ReadAllBytes(Path.Combine(killed, "items.safetensors")));
        if (corpusNegatives > 0)
        {
            // The negatives reach the loss: the same run without them ends elsewhere.
            string without = Path.Combine(beir.Path, "without");
            UnifiedTraining.Run(BeirDataset.Open(beir.Path), without, options with { CorpusNegatives = 0 });
            Assert.NotEqual(File.ReadAllBytes(Path.Combine(straight, "model.safetensors")), File.ReadAllBytes(Path.Combine(without, "model.safetensors")));
        }
    }

    [Fact]
    public void FrozenIdsStayAsRqKMeansGaveThemAndAKilledRunResumesToTheSameModel()
    {
        // The ablation "frozen RQ-KMeans IDs": fixed at the start of epoch 1, then never re-encoded.
        var options = Options(4) with { FreezeIdsAt = 1 };
        using var beir = new TinyBeir();
        string straight = Path.Combine(beir.Path, "straight"), killed = Path.Combine(beir.Path, "killed");
        UnifiedTraining.Run(BeirDataset.Open(beir.Path), straight, options);
        var churn = File.ReadAllLines(Path.Combine(straight, UnifiedTraining.HealthLogFile)).Skip(1).Select(l => l.Split('\t')[1]).ToArray();
        Assert.Equal(5, churn.Length); // epochs 0..3 at their start, and the final catalog
        Assert.All(churn[2..], c => Assert.Equal("0.0000", c)); // after the freeze no item's ID moves, the final catalog's included
        var log = GenSearch.Nn.TrainingLog.Read(Path.Combine(straight, "training-log.tsv"));
        int vq = Array.IndexOf(log.Parts, "vq");
        Assert.True(vq >= 0);
        Assert.All(log.Rows.Where(r => r.Epoch >= 1), r => Assert.True(float.IsNaN(r.Parts[vq].Value), "no VQ loss once the IDs are frozen"));

        var generative = ModelFormats.Open(straight, new ModelOpenOptions { Mode = "generative" });
        var (hits, total) = beir.DevQueriesFound(generative, 10);
        Assert.True(hits >= total * 0.5, $"frozen IDs: {hits} of {total} dev queries find their item in the top 10");

        using var cancel = new CancellationTokenSource();
        UnifiedTraining.Run(BeirDataset.Open(beir.Path), killed, options, progress: p => { if (p.Step == 9) cancel.Cancel(); }, cancel: cancel.Token);
        UnifiedTraining.Run(BeirDataset.Open(beir.Path), killed, options);
        Assert.Equal(File.ReadAllBytes(Path.Combine(straight, "model.safetensors")), File.ReadAllBytes(Path.Combine(killed, "model.safetensors")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(straight, "items.safetensors")), File.ReadAllBytes(Path.Combine(killed, "items.safetensors")));
    }

    [Fact]
    public void SettingsOutOfRangeAreRefusedByName()
    {
        var kind = ModelKinds.Get("unified");
        var e = Assert.Throws<InvalidDataException>(() => kind.Settings(System.Text.Json.Nodes.JsonNode.Parse("""{"codes": 1, "decoder_temperature": 0, "freeze_ids_at": 40, "corpus_negatives": -1}""")!.AsObject(), "opts.json"));
        Assert.Contains("corpus_negatives is -1", e.Message);
        Assert.Contains("codes is 1", e.Message);
        Assert.Contains("decoder_temperature is 0", e.Message);
        Assert.Contains("freeze_ids_at is 40", e.Message); // the default 40 epochs never start epoch 40
    }
}
