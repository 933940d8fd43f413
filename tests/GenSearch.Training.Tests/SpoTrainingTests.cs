using GenSearch.Data;
using GenSearch.Nn;
using GenSearch.Retrieval;
using GenSearch.Retrieval.Generative;
using GenSearch.Serving;
using GenSearch.Tensors;
using GenSearch.Text;

namespace GenSearch.Training.Tests;

public class SpoTrainingTests
{
    private static UnifiedTrainingOptions Unified(int epochs) => UnifiedTrainingTests.Options(epochs);

    private static SpoTrainingOptions Spo(string mode, int epochs) => new()
    {
        Mode = mode, GroupSize = 6, BeamSize = 12,
        Trainer = new TrainerOptions { BatchSize = 8, Epochs = epochs, LearningRate = 0.02f, WarmupSteps = 2, MinLearningRate = 0.002f, WeightDecay = 0f, ClipNorm = 0f, CheckpointEvery = 4 },
        DenseLearningRateScale = 0.2f,
    };

    /// <summary>The share of train queries whose first hit is their grade-4 item.</summary>
    private static double TopOneOnTrain(string modelDir, string data)
    {
        var set = BeirDataset.Open(data);
        var retriever = ModelFormats.Open(modelDir, new ModelOpenOptions());
        var qrels = set.Qrels("train").Qrels;
        var queries = set.Queries().Where(q => qrels.QueryIds.Contains(q.Id)).ToArray();
        var hits = retriever.Search(queries, 1);
        return queries.Select((q, i) => hits[i].Count > 0 && qrels.For(q.Id).TryGetValue(hits[i][0].Id, out var g) && g == 4 ? 1 : 0).Average();
    }

    /// <summary>
    /// Every hit's score is the item's exact score, however the beam is steered: the steering terms
    /// telescope. Also the settings a command line overrides (null: config.json's) reach the search.
    /// </summary>
    [Theory]
    [InlineData(null, null)]
    [InlineData(0, null)]
    [InlineData(1, 1)]
    [InlineData(3, 2)]
    public void ItemScoresAreTheScoresTheRetrieverRanksBy(int? steeredLevels, int? sketchDirections)
    {
        using var beir = new TinyBeir();
        string dir = Path.Combine(beir.Path, "unified");
        UnifiedTraining.Run(BeirDataset.Open(beir.Path), dir, Unified(3));
        var retriever = UnifiedFormat.OpenGenerative(new ModelDirectory(dir), new ModelOpenOptions { SteeredLevels = steeredLevels, SketchDirections = sketchDirections });
        var config = new ModelDirectory(dir).ReadConfig<UnifiedModelConfig>().SearchOptions(1);
        Assert.Equal(steeredLevels ?? config.SteeredLevels, retriever.Options.SteeredLevels);
        Assert.Equal(sketchDirections ?? config.SketchDirections, retriever.Options.SketchDirections);
        var features = NgramVocabulary.Load(Path.Combine(dir, UnifiedFormat.FeaturesFile));
        float w = new ModelDirectory(dir).ReadConfig<UnifiedModelConfig>().LatentWeight;
        var hits = retriever.Search([new Query("q", "green fan")], 5)[0];
        Assert.Equal(5, hits.Count);
        using var _ = Tensor.NoGrad();
        var q = retriever.Model.EncodeQueries([features.Encode("green fan")]);
        foreach (var hit in hits)
        {
            var item = retriever.Item(hit.Id)!;
            float score = retriever.Model.ItemScores(q, Tensor.FromArray(item.Latent, 1, item.Latent.Length), item.Codes, w).Item();
            Assert.Equal(hit.Score, score, 2);
        }
    }

    [Fact]
    public void PolicySpoRaisesTheRewardOfTheFirstHitAndWritesAUnifiedModel()
    {
        using var beir = new TinyBeir();
        string unified = Path.Combine(beir.Path, "unified"), aligned = Path.Combine(beir.Path, "spo");
        // One epoch: the default loss (one InfoNCE on d) puts the grade-4 item first for every train query after two.
        UnifiedTraining.Run(BeirDataset.Open(beir.Path), unified, Unified(1));
        double before = TopOneOnTrain(unified, beir.Path);
        Assert.True(before < 1, $"the starting model already puts the grade-4 item first for every train query: nothing to raise");
        SpoTraining.Run(BeirDataset.Open(beir.Path), unified, aligned, Spo("policy", 12));
        double after = TopOneOnTrain(aligned, beir.Path);
        Assert.True(after > before, $"the first hit is the grade-4 item for {after:P0} of train queries after SPO, {before:P0} before");

        var dir = new ModelDirectory(aligned);
        Assert.Equal("unified", ModelFormats.KindOf(dir));
        Assert.False(File.Exists(dir.CheckpointPath));
        Assert.NotNull(dir.ReadConfig<UnifiedModelConfig>().Training!["spo"]);
        var log = TrainingLog.Read(Path.Combine(aligned, "training-log.tsv"));
        Assert.Contains("policy", log.Parts);
        Assert.Contains("reward_at_1", log.Parts);
    }

    [Fact]
    public void LoggedCandidatesTakeTheGroupsLastPlacesBestFeedbackFirst()
    {
        // Beam [10, 11, 12, 13]; logged best first 20, 11 (in the beam already), 21, 22; feedback on 11 and the logged ones.
        bool Fed(int i) => i is 11 or >= 20;
        void Group(int[] expected, int logged, int[] beam, int[] log, int most)
        {
            var (items, count) = SpoTraining.WithLogged(beam, log, most, Fed);
            Assert.Equal(expected, items);
            Assert.Equal(logged, count);
        }
        Group([10, 11, 20, 21], 2, [10, 11, 12, 13], [20, 11, 21, 22], 2);
        Group([10, 11, 12, 20], 1, [10, 11, 12, 13], [20, 11, 21, 22], 1);
        Group([10, 11, 12, 13], 0, [10, 11, 12, 13], [11], 3);  // all in the beam
        Group([10, 11, 12, 13], 0, [10, 11, 12, 13], [], 3);
        Group([10, 11, 20, 21], 2, [10, 11, 12, 13], [20, 11, 21, 22], 3); // the beam's best and its item with feedback stay
        Group([10, 11, 20], 1, [10, 13, 11], [20], 2); // the lowest-ranked item without feedback (13) gives way; 11 below it stays


        // Through training: with judged items the beam missed in the groups (the log counts them), SPO still raises the first hit.
        using var beir = new TinyBeir();
        string unified = Path.Combine(beir.Path, "unified"), aligned = Path.Combine(beir.Path, "spo");
        UnifiedTraining.Run(BeirDataset.Open(beir.Path), unified, Unified(1));
        double before = TopOneOnTrain(unified, beir.Path);
        SpoTraining.Run(BeirDataset.Open(beir.Path), unified, aligned, Spo("policy", 12) with { LoggedCandidates = 2 });
        double after = TopOneOnTrain(aligned, beir.Path);
        Assert.True(after > before, $"the first hit is the grade-4 item for {after:P0} of train queries after SPO, {before:P0} before");
        Assert.Equal(2, (int)new ModelDirectory(aligned).ReadConfig<UnifiedModelConfig>().Training!["spo"]!["logged_candidates"]!);
        var (names, rows) = TrainingLog.Read(Path.Combine(aligned, "training-log.tsv"));
        int column = Array.IndexOf(names, "logged");
        Assert.True(column >= 0 && rows.Average(r => r.Parts[column].Value) > 0, "no group took a logged candidate");
        // Refused where it has no meaning.
        var kind = ModelKinds.Get("spo");
        var e = Assert.Throws<InvalidDataException>(() => kind.Settings(System.Text.Json.Nodes.JsonNode.Parse("""{"logged_candidates": 16, "mode": "dpo"}""")!.AsObject(), "spo.json"));
        Assert.Contains("logged_candidates is 16; it must lie in [0, 15]", e.Message);
        Assert.Contains("logged_candidates is given with mode dpo", e.Message);
        // And by SpoTraining.Run itself, for a caller that does not come through the registry.
        Assert.Contains("logged_candidates is given with a ranker", Assert.Throws<InvalidDataException>(() => SpoTraining.Run(BeirDataset.Open(beir.Path), unified,
            Path.Combine(beir.Path, "spo-ranker"), Spo("policy", 1) with { LoggedCandidates = 2, Ranker = Path.Combine(beir.Path, "ranker") })).Message);
    }

    [Fact]
    public void ARankingModelsScoresAreTheSystemReward()
    {
        // R = g1 z(ranker) with no feedback at all: the ranker alone must still teach the first hit.
        using var beir = new TinyBeir();
        var set = BeirDataset.Open(beir.Path);
        string unified = Path.Combine(beir.Path, "unified"), ranker = Path.Combine(beir.Path, "lambdamart"), aligned = Path.Combine(beir.Path, "spo");
        UnifiedTraining.Run(set, unified, Unified(2));
        // The ranker scores the generator's own beam, so it trains on the generator's candidates; one trained on a fusion's is refused.
        string fusedRanker = Path.Combine(beir.Path, "lambdamart-fused");
        LambdaMartTraining.Run(set, unified, fusedRanker, new LambdaMartTrainingOptions { Retriever = "bm25+dense", Depth = 10, Trees = 10, Leaves = 4, MinLeafExamples = 2 });
        var offScale = Assert.Throws<InvalidDataException>(() => SpoTraining.Run(set, unified, Path.Combine(beir.Path, "spo-fused"), Spo("policy", 1) with { Ranker = fusedRanker }));
        Assert.Contains($"ranker: {fusedRanker} was trained on candidates from 'bm25+dense' (a fusion of 2 lists)", offScale.Message);
        // A ranker of the same model's dense candidates reads cosine similarities, not the generator's scores: refused as well.
        string denseRanker = Path.Combine(beir.Path, "lambdamart-dense");
        LambdaMartTraining.Run(set, unified, denseRanker, new LambdaMartTrainingOptions { Retriever = "dense", Depth = 10, Trees = 10, Leaves = 4, MinLeafExamples = 2 });
        Assert.Contains("(one model's dense score)", Assert.Throws<InvalidDataException>(() =>
            SpoTraining.Run(set, unified, Path.Combine(beir.Path, "spo-dense"), Spo("policy", 1) with { Ranker = denseRanker })).Message);
        LambdaMartTraining.Run(set, unified, ranker, new LambdaMartTrainingOptions { Retriever = "generative", Depth = 10, Trees = 10, Leaves = 4, MinLeafExamples = 2 });
        var notes = new List<string>();
        SpoTraining.Run(set, unified, aligned, Spo("policy", 4) with { Ranker = ranker, FeedbackWeight = 0f }, note: notes.Add);
        Assert.Contains(notes, n => n.Contains("1 x lambdamart ranker") && n.Contains("0 x feedback"));
        Assert.Equal("unified", ModelFormats.KindOf(new ModelDirectory(aligned)));
        Assert.True(TopOneOnTrain(aligned, beir.Path) >= 0.5, "the ranker-rewarded model still finds the grade-4 item first for most train queries");

        var none = Assert.Throws<InvalidDataException>(() => ModelKinds.Get("spo").Settings(System.Text.Json.Nodes.JsonNode.Parse("""{"feedback_weight": 0}""")!.AsObject(), "opts.json"));
        Assert.Contains("there is no reward", none.Message);
        var missing = Assert.ThrowsAny<Exception>(() => SpoTraining.Run(set, unified, Path.Combine(beir.Path, "spo2"), Spo("policy", 1) with { Ranker = Path.Combine(beir.Path, "nothing") }));
        Assert.Contains("nothing", missing.Message);
    }

    [Fact]
    public void DpoOnLoggedPairsResumesExactlyAfterAKill()
    {
        using var beir = new TinyBeir();
        string unified = Path.Combine(beir.Path, "unified"), straight = Path.Combine(beir.Path, "straight"), killed = Path.Combine(beir.Path, "killed");
        UnifiedTraining.Run(BeirDataset.Open(beir.Path), unified, Unified(2));
        var options = Spo("dpo", 3);
        SpoTraining.Run(BeirDataset.Open(beir.Path), unified, straight, options);
        using var cancel = new CancellationTokenSource();
        SpoTraining.Run(BeirDataset.Open(beir.Path), unified, killed, options, progress: p => { if (p.Step == 5) cancel.Cancel(); }, cancel: cancel.Token);
        Assert.False(File.Exists(Path.Combine(killed, "config.json")));
        SpoTraining.Run(BeirDataset.Open(beir.Path), unified, killed, options);
        Assert.Equal(File.ReadAllBytes(Path.Combine(straight, "model.safetensors")), File.ReadAllBytes(Path.Combine(killed, "model.safetensors")));
        Assert.Contains("dpo", TrainingLog.Read(Path.Combine(straight, "training-log.tsv")).Parts);
    }

    [Fact]
    public void ANegativeSignalWeightLowersAnItemsFeedback()
    {
        // A return or a dislike may weigh below zero: the item's feedback falls under 0, and it still counts as feedback
        // (in the group's normalisation, not left out of it). An options file adds the signal beside the defaults.
        using var beir = new TinyBeir();
        var set = BeirDataset.Open(beir.Path);
        var data = TrainingData.Load(set, "train", null);
        var catalogIndex = data.ItemIds.Select((id, i) => (id, i)).ToDictionary(p => p.id, p => p.i, StringComparer.Ordinal);
        var (query, judgedItem) = Enumerable.Range(0, data.QueryTexts.Length).SelectMany(q => data.Judgments[q].Where(j => j.Grade > 0).Select(j => (q, j.Item))).First();
        int otherItem = Enumerable.Range(0, data.ItemIds.Length).First(i => data.Judgments[query].All(j => j.Item != i));
        float judged = data.Judgments[query].First(j => j.Item == judgedItem).Grade / (float)Math.Max(1, data.MaxGrade);
        InteractionWriter.Write(set.InteractionsPath, [
            new Interaction("u1", data.QueryTexts[query], data.ItemIds[judgedItem], 1, new Dictionary<string, double> { ["click"] = 1, ["return"] = 1 }),
            new Interaction("u2", data.QueryTexts[query], data.ItemIds[otherItem], 1, new Dictionary<string, double> { ["click"] = 1, ["return"] = 1 }),
        ]);
        var options = (SpoTrainingOptions)ModelKinds.Get("spo").Settings(
            System.Text.Json.Nodes.JsonNode.Parse("""{"signal_weights": {"return": -3, "add_to_cart": 3}}""")!.AsObject(), "spo.json");
        Assert.Equal(new Dictionary<string, float> { ["click"] = 1f, ["add_to_cart"] = 3f, ["purchase"] = 4f, ["return"] = -3f }, options.SignalWeights);
        var notes = new List<string>();
        var feedback = SpoTraining.Feedback(BeirDataset.Open(beir.Path), data, catalogIndex, options, notes.Add);
        Assert.Empty(notes); // "return" is logged; the defaults are not asked to be
        var typo = options with { SignalWeights = new(options.SignalWeights) { ["purchse"] = 8f } };
        SpoTraining.Feedback(BeirDataset.Open(beir.Path), data, catalogIndex, typo, notes.Add);
        Assert.Equal([$"signal_weights.purchse: no event in {BeirDataset.Open(beir.Path).InteractionsPath} has this signal (logged: click, return)"], notes);
        Assert.Equal(judged + 1f - 3f, feedback[(query, judgedItem)], 5);
        Assert.Equal(-2f, feedback[(query, otherItem)], 5);
        Assert.Empty(SettingsChecks.Spo(options));
        // In a group with the judged item and one unjudged candidate (unjudged "unknown"), the returned item is pushed down.
        var advantages = GenSearch.Models.Unified.PreferenceLosses.GroupAdvantages([judged, feedback[(query, otherItem)], 0f], 3, [true, true, false]);
        Assert.True(advantages[1] < 0 && advantages[0] > 0 && advantages[2] == 0, string.Join(", ", advantages));
    }

    [Fact]
    public void SettingsOutOfRangeAndAModelOfAnotherKindAreRefusedByName()
    {
        var kind = ModelKinds.Get("spo");
        var e = Assert.Throws<InvalidDataException>(() => kind.Settings(System.Text.Json.Nodes.JsonNode.Parse("""{"mode": "ppo", "group_size": 1, "dpo_beta": 0}""")!.AsObject(), "opts.json"));
        Assert.Contains("mode 'ppo' is unknown", e.Message);
        Assert.Contains("group_size is 1", e.Message);
        Assert.Contains("dpo_beta is 0", e.Message);

        using var beir = new TinyBeir();
        string towers = Path.Combine(beir.Path, "towers");
        NgramTowerTraining.Run(BeirDataset.Open(beir.Path), towers, new NgramTowerTrainingOptions { Dim = 8, Trainer = new TrainerOptions { BatchSize = 16, Epochs = 1 } });
        var refused = Assert.Throws<InvalidDataException>(() => SpoTraining.Run(BeirDataset.Open(beir.Path), towers, Path.Combine(beir.Path, "spo"), Spo("policy", 1)));
        Assert.Contains("SPO aligns a unified model", refused.Message);

        // A finite but huge logged signal (1e38 x the purchase weight 4) would make the reward infinite and the loss NaN.
        string unified = Path.Combine(beir.Path, "unified");
        var set = BeirDataset.Open(beir.Path);
        UnifiedTraining.Run(set, unified, Unified(1));
        var judged = set.Qrels("train").Qrels;
        var query = set.Queries().First(q => judged.QueryIds.Contains(q.Id));
        InteractionWriter.Write(set.InteractionsPath, [new Interaction("u1", query.Text, judged.For(query.Id).Keys.First(), 1, new Dictionary<string, double> { ["purchase"] = 1e38 })]);
        var overflow = Assert.Throws<InvalidDataException>(() => SpoTraining.Run(BeirDataset.Open(beir.Path), unified, Path.Combine(beir.Path, "spo2"), Spo("policy", 1)));
        Assert.Contains("interactions.jsonl", overflow.Message);
        Assert.Contains("beyond what a reward can hold", overflow.Message);
        // A log whose every signal misses signal_weights ("clicks" for "click") would add no feedback, silently.
        InteractionWriter.Write(set.InteractionsPath, [new Interaction("u1", query.Text, judged.For(query.Id).Keys.First(), 1, new Dictionary<string, double> { ["clicks"] = 1 })]);
        var unweighted = Assert.Throws<InvalidDataException>(() => SpoTraining.Run(BeirDataset.Open(beir.Path), unified, Path.Combine(beir.Path, "spo3"), Spo("policy", 1)));
        Assert.Contains("no logged signal has a weight in signal_weights (logged: clicks; weighted: add_to_cart, click, purchase)", unweighted.Message);
    }
}
