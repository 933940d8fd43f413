using GenSearch.Data;
using GenSearch.Nn;
using GenSearch.Retrieval;
using GenSearch.Retrieval.Generative;
using GenSearch.Serving;
using GenSearch.Serving.Ranking;
using GenSearch.Tensors;

namespace GenSearch.Training.Tests;

public class RankerTrainingTests
{
    private static readonly TrainerOptions SmallTrainer = new() { BatchSize = 8, Epochs = 15, LearningRate = 0.05f, WarmupSteps = 2, MinLearningRate = 0.005f, WeightDecay = 0f, ClipNorm = 0f, CheckpointEvery = 5 };

    private static UnifiedTrainingOptions Unified() => new()
    {
        Dim = 16, Codes = 4, DecoderHidden = 16, BeamSize = 20, DenseLearningRateScale = 0.2f,
        Trainer = SmallTrainer with { BatchSize = 16 },
    };

    [Fact]
    public void ExportedLightGbmTreesScoreAsMlNetDoes()
    {
        // Synthetic lists whose grade follows two of the features, with noise in the rest.
        var rng = new Rng(3);
        int F = MatchFeatures.Count;
        var lists = new List<RankingList>();
        for (int q = 0; q < 60; q++)
        {
            var x = new float[20 * F];
            rng.FillNormal(x, 0, 1);
            var grades = Enumerable.Range(0, 20).Select(i => (float)Math.Clamp(Math.Round(1.5 * x[i * F] + x[i * F + 6] + 1.5), 0, 4)).ToArray();
            lists.Add(new RankingList(new Query($"q{q}", "text"), [.. Enumerable.Range(0, 20).Select(i => $"d{i}")], x, grades));
        }
        var (trees, mlnet) = LambdaMartTraining.Train(lists, new LambdaMartTrainingOptions { Trees = 30, Leaves = 8, MinLeafExamples = 5 });
        Assert.Equal(30, trees.Trees);
        Assert.True(trees.Left.Length > 30, "the trees split");
        trees.Validate("test", F);
        var probe = new float[F];
        for (int i = 0; i < 300; i++)
        {
            rng.FillNormal(probe, 0, 1.5f);
            float expected = mlnet(probe), actual = trees.Score(probe);
            Assert.True(Math.Abs(expected - actual) <= 1e-4f * (1 + Math.Abs(expected)), $"probe {i}: ML.NET {expected}, exported {actual}");
        }
        // And after a save and load.
        string path = Path.Combine(Path.GetTempPath(), $"gensearch-trees-{Environment.ProcessId}.safetensors");
        try
        {
            LambdaMartFormat.Save(path, trees);
            var back = LambdaMartFormat.Load(path).Validate(path, F);
            Assert.Equal(trees.Score(probe), back.Score(probe));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void IdLogProbabilitiesSharePrefixStepsAndMatchOneItemAtATime()
    {
        using var beir = new TinyBeir();
        string unifiedDir = Path.Combine(beir.Path, "unified");
        UnifiedTraining.Run(BeirDataset.Open(beir.Path), unifiedDir, Unified() with { Trainer = SmallTrainer with { BatchSize = 16, Epochs = 3 } });
        var generator = UnifiedFormat.OpenGenerative(new ModelDirectory(unifiedDir), new ModelOpenOptions());
        var ids = Enumerable.Range(0, 48).Select(i => $"d{i}").Append("missing").ToArray();
        var q = generator.EncodeQueries([new Query("q", "red drill")]);
        var fast = generator.IdLogProbabilities(q, ids);
        Assert.True(float.IsNaN(fast[^1]));
        // The slow twin: each item alone, level by level, through the model's own logits.
        var model = generator.Model;
        int p = model.Config.Dim, K = model.Config.Codes;
        using var _ = Tensor.NoGrad();
        for (int i = 0; i < 48; i++)
        {
            var codes = generator.Item(ids[i])!.Codes;
            var prefix = new float[p];
            double total = 0;
            for (int n = 0; n < model.Config.Levels; n++)
            {
                var book = model.Codebook(n).Detach();
                var logp = model.LevelLogits(new Tensor(q.ToArray(), 1, p), new Tensor(prefix.ToArray(), 1, p), n, book).LogSoftmax().Data;
                total += logp[codes[n]];
                for (int j = 0; j < p; j++) prefix[j] += book.Data[codes[n] * p + j];
            }
            Assert.Equal(total, fast[i], 3);
        }
    }

    [Fact]
    public void TrainsBothRankersAndRerankingReordersTheRetrieversTopOnly()
    {
        using var beir = new TinyBeir();
        var set = BeirDataset.Open(beir.Path);
        string unifiedDir = Path.Combine(beir.Path, "unified"), sidCoordDir = Path.Combine(beir.Path, "sid-coord"), lambdaDir = Path.Combine(beir.Path, "lambdamart");
        UnifiedTraining.Run(set, unifiedDir, Unified() with { Trainer = SmallTrainer with { BatchSize = 16, Epochs = 3 } });
        SidCoordTraining.Run(set, unifiedDir, sidCoordDir, new SidCoordTrainingOptions { Retriever = "bm25+dense", Depth = 10, Dim = 8, Hidden = 8, ItemBuckets = 101, WordBuckets = 31, Trainer = SmallTrainer, ValidationShare = 0.2 });
        LambdaMartTraining.Run(set, unifiedDir, lambdaDir, new LambdaMartTrainingOptions { Retriever = "bm25+dense", Depth = 10, Trees = 10, Leaves = 4, MinLeafExamples = 2 });
        Assert.False(File.Exists(new ModelDirectory(sidCoordDir).CheckpointPath));
        // The held-out lists were scored: the model's order and the retriever's, each an NDCG in [0, 1].
        var validation = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(sidCoordDir, "validation.json")))!;
        Assert.InRange((int)validation["lists"]!, 1, 1000);
        Assert.InRange((double)validation["NDCG@10"]!, 0.0, 1.0);
        Assert.InRange((double)validation["retriever_NDCG@10"]!, 0.0, 1.0);

        foreach (var (dir, kind) in new[] { (sidCoordDir, SidCoordFormat.Name), (lambdaDir, LambdaMartFormat.Name) })
        {
            var header = RankerFormats.Header(dir);
            Assert.Equal(kind, header.Kind);
            Assert.Equal(Path.GetFullPath(unifiedDir), header.FeatureModel);
            var spec = RetrieverOpener.Resolve("bm25+dense", unifiedDir);
            var plain = RetrieverOpener.Open(set, spec, unifiedDir).Retriever;
            var reranked = RetrieverOpener.Open(set, spec, unifiedDir, new RetrieverOpenOptions { Rerank = dir, RerankDepth = 5 }).Retriever;
            var stage = Assert.IsType<RerankRetriever>(reranked);
            Assert.Equal(kind, stage.Reranker.Ranker.Kind);
            // The candidates are fused as the ranker's training lists were (its config says how); another fusion is refused by the ranker's path.
            Assert.Equal(FusionMethod.ZScore, header.FusionMethod);
            Assert.Equal(FusionMethod.ZScore, Assert.IsType<FusionRetriever>(stage.Inner).Method);
            var refused = Assert.Throws<InvalidDataException>(() => RetrieverOpener.Open(set, spec, unifiedDir,
                new RetrieverOpenOptions { Rerank = dir, Fusion = FusionMethod.ReciprocalRank }));
            Assert.Contains($"{dir}: the ranker was trained on candidates fused by zscore", refused.Message);
            Assert.Equal(FusionMethod.ReciprocalRank, Assert.IsType<FusionRetriever>(
                RetrieverOpener.Open(set, spec, unifiedDir, new RetrieverOpenOptions { Fusion = FusionMethod.ReciprocalRank }).Retriever).Method);
            Assert.Equal(FusionMethod.ReciprocalRank, (header with { Fusion = null }).FusionMethod); // rankers written before the setting
            // A ranker trained on a fusion's candidates does not rerank one list's (its retriever_score is on another scale), nor the reverse.
            foreach (var single in new[] { "dense", "bm25" })
            {
                var mismatch = Assert.Throws<InvalidDataException>(() => RetrieverOpener.Open(set, RetrieverOpener.Resolve(single, single == "bm25" ? null : unifiedDir), single == "bm25" ? null : unifiedDir,
                    new RetrieverOpenOptions { Rerank = dir }));
                Assert.Contains($"{dir}: the ranker was trained on candidates from 'bm25+dense', whose retriever_score is a fusion of 2 lists", mismatch.Message);
            }
            // Nor a fusion of another number of lists (each adds its own z-scores).
            Assert.Contains("scores its candidates by a fusion of 3 lists", Assert.Throws<InvalidDataException>(() => RetrieverOpener.Open(set,
                RetrieverOpener.Resolve("bm25+dense+generative", unifiedDir), unifiedDir, new RetrieverOpenOptions { Rerank = dir })).Message);
            RetrieverOpener.Open(set, RetrieverOpener.Resolve("bm25+generative", unifiedDir), unifiedDir, new RetrieverOpenOptions { Rerank = dir }); // another fusion: the same scale
            // A fusion config.json does not know is refused with the file's name (not an internal error at the first search).
            string config = Path.Combine(dir, "config.json"), saved = File.ReadAllText(config);
            File.WriteAllText(config, saved.Replace("\"fusion\": \"zscore\"", "\"fusion\": \"max\""));
            Assert.Contains($"{config}: fusion 'max' is not one of zscore, rrf", Assert.Throws<InvalidDataException>(() => RankerFormats.Header(dir)).Message);
            File.WriteAllText(config, System.Text.RegularExpressions.Regex.Replace(saved, "\n  \"retriever\": \"[^\"]*\"", "\n  \"retriever\": null"));
            Assert.Contains($"{config}: no \"retriever\"", Assert.Throws<InvalidDataException>(() => RetrieverOpener.Open(set, spec, unifiedDir, new RetrieverOpenOptions { Rerank = dir })).Message);
            File.WriteAllText(config, saved);
            File.WriteAllText(config, System.Text.RegularExpressions.Regex.Replace(saved, "\n  \"depth\": 10", "\n  \"depth\": -3"));
            Assert.Contains($"{config}: depth is -3", Assert.Throws<InvalidDataException>(() => RankerFormats.Header(dir)).Message);
            File.WriteAllText(config, saved);
            // Deeper than its training lists: served, with a note that the deeper candidates' features are new to it.
            var notes = new List<string>();
            RetrieverOpener.Open(set, spec, unifiedDir, new RetrieverOpenOptions { Rerank = dir, RerankDepth = 20, Note = notes.Add });
            Assert.Contains(notes, n => n.Contains("reranking 20 candidates with a ranker trained on lists of 10"));
            var queries = set.Queries().Take(12).ToArray();
            var before = plain.Search(queries, 12);
            var after = reranked.Search(queries, 12);
            for (int q = 0; q < queries.Length; q++)
            {
                // The top 5 is a reordering of the retriever's top 5, scored best first; the rest keeps its order.
                Assert.Equal(before[q].Take(5).Select(h => h.Id).Order(), after[q].Take(5).Select(h => h.Id).Order());
                Assert.Equal(before[q].Skip(5).Select(h => h.Id), after[q].Skip(5).Select(h => h.Id));
                for (int i = 1; i < after[q].Count; i++) Assert.True(after[q][i - 1].Score >= after[q][i].Score);
            }
            // The ranker learnt something: its top 1 holds the query's own item (title = the query words) at least as often as the fusion's.
            int Hits(IReadOnlyList<SearchHit>[] lists) => lists.Select((l, q) => l.Count > 0 && $"d{int.Parse(queries[q].Id[1..])}" == l[0].Id ? 1 : 0).Sum();
            Assert.True(Hits(after) >= Hits(before) - 1, $"{kind}: {Hits(after)} top-1 hits after reranking, {Hits(before)} before");

            // A catalog change reaches the retriever and the items the features read.
            Assert.True(stage.Upsert([new Document("new1", "purple drill for home", "")]).Added >= 1); // counted per part of the fusion
            Assert.Contains(reranked.Search([new Query("x", "purple drill")], 10)[0], h => h.Id == "new1");
        }
    }

    [Fact]
    public void DroppedFeaturesCannotMoveARankersScore()
    {
        // A unified model trained through the registry (so its training judgments are fingerprinted); rankers over
        // BM25's candidates with the model features dropped read nothing it learnt, so train may be their split.
        using var beir = new TinyBeir();
        var set = BeirDataset.Open(beir.Path);
        string unifiedDir = Path.Combine(beir.Path, "unified");
        ModelKinds.Get("unified").Train(new TrainingRequest(set, unifiedDir), Unified() with { Trainer = SmallTrainer with { BatchSize = 16, Epochs = 1 } });
        string[] drop = [.. RankingLists.ModelFeatures];
        var lambdaOptions = new LambdaMartTrainingOptions { Retriever = "bm25", Depth = 10, Trees = 10, Leaves = 4, MinLeafExamples = 2, DropFeatures = drop };
        // Items None: a SID-Coord that reads the unified model's SIDs reads what it learnt from train (checked below).
        var sidOptions = new SidCoordTrainingOptions { Retriever = "bm25", Depth = 10, Dim = 8, Hidden = 8, ItemBuckets = 101, WordBuckets = 31, Trainer = SmallTrainer with { Epochs = 3 },
            DropFeatures = drop, Items = GenSearch.Models.Ranking.ItemRepresentation.None, ValidationShare = 0.2 };
        string lambdaDir = Path.Combine(beir.Path, "lm"), sidDir = Path.Combine(beir.Path, "sc");
        LambdaMartTraining.Run(set, unifiedDir, lambdaDir, lambdaOptions);
        SidCoordTraining.Run(set, unifiedDir, sidDir, sidOptions);
        // Reading no model, they need no --from (a SID-Coord names its SIDs' source in sid_model) and train the same rankers.
        IModelKind lambdaKind = ModelKinds.Get("lambdamart"), sidKind = ModelKinds.Get("sid-coord");
        Assert.False(lambdaKind.NeedsFrom(lambdaOptions));
        Assert.True(lambdaKind.NeedsFrom(lambdaOptions with { DropFeatures = drop[1..] }));
        Assert.True(lambdaKind.NeedsFrom(lambdaOptions with { Retriever = "bm25+dense" }));
        Assert.True(sidKind.NeedsFrom(sidOptions)); // its SIDs would come from --from
        Assert.False(sidKind.NeedsFrom(sidOptions with { SidModel = unifiedDir }));
        string lambdaAlone = Path.Combine(beir.Path, "lm-alone"), sidAlone = Path.Combine(beir.Path, "sc-alone");
        lambdaKind.Train(new TrainingRequest(set, lambdaAlone), lambdaOptions);
        sidKind.Train(new TrainingRequest(set, sidAlone), sidOptions with { SidModel = unifiedDir });
        Assert.Equal(File.ReadAllBytes(new ModelDirectory(lambdaDir).WeightsPath), File.ReadAllBytes(new ModelDirectory(lambdaAlone).WeightsPath));
        Assert.Equal(File.ReadAllBytes(new ModelDirectory(sidDir).WeightsPath), File.ReadAllBytes(new ModelDirectory(sidAlone).WeightsPath));
        // The SIDs' model is part of the run as --from would be: the same command is done, but not once that model is retrained in place.
        Assert.True(float.IsNaN(sidKind.Train(new TrainingRequest(set, sidAlone), sidOptions with { SidModel = unifiedDir })));
        string retrained = Path.Combine(beir.Path, "unified-2");
        ModelKinds.Get("unified").Train(new TrainingRequest(set, retrained), Unified() with { Trainer = SmallTrainer with { BatchSize = 16, Epochs = 1 }, Seed = 2 });
        Directory.Move(unifiedDir, unifiedDir + "-old");
        Directory.Move(retrained, unifiedDir);
        Assert.Contains("sid_model", Assert.Throws<TrainingConflictException>(() => sidKind.Train(new TrainingRequest(set, sidAlone), sidOptions with { SidModel = unifiedDir })).Message);
        Directory.Move(unifiedDir, retrained);
        Directory.Move(unifiedDir + "-old", unifiedDir);
        Assert.Contains("needs --from DIR", Assert.Throws<ArgumentException>(() =>
            lambdaKind.Train(new TrainingRequest(set, Path.Combine(beir.Path, "lm-none")), lambdaOptions with { DropFeatures = drop[1..] })).Message);
        Assert.Contains("needs --from DIR", Assert.Throws<ArgumentException>(() =>
            LambdaMartTraining.Run(set, null, Path.Combine(beir.Path, "lm-none"), lambdaOptions with { Retriever = "bm25+dense" })).Message);
        Assert.False(Directory.Exists(Path.Combine(beir.Path, "lm-none"))); // refused before anything is written
        // Keeping one model feature, or searching with the model, reads what it learnt from train: refused as before.
        Assert.Contains("allow_seen_queries", Assert.Throws<InvalidDataException>(() =>
            LambdaMartTraining.Run(set, unifiedDir, Path.Combine(beir.Path, "lm2"), lambdaOptions with { DropFeatures = drop[1..] })).Message);
        Assert.Contains("allow_seen_queries", Assert.Throws<InvalidDataException>(() =>
            SidCoordTraining.Run(set, unifiedDir, Path.Combine(beir.Path, "sc2"), sidOptions with { Retriever = "bm25+dense" })).Message);
        // So does reading the SIDs of a model trained on these judgments.
        var sids = Assert.Throws<InvalidDataException>(() => SidCoordTraining.Run(set, unifiedDir, Path.Combine(beir.Path, "sc3"),
            sidOptions with { Items = GenSearch.Models.Ranking.ItemRepresentation.Sids }));
        Assert.Contains($"the model in {Path.GetFullPath(unifiedDir)} was trained on these judgments", sids.Message);
        Assert.Contains("allow_seen_queries", sids.Message);
        Assert.True(File.Exists(Path.Combine(sidDir, "validation.json"))); // validation lists are split after the drop

        // Served: whatever the extractor gives in a dropped column, the scores are the same.
        var lists = RankingLists.Build(set, "dev", unifiedDir, null, "bm25", 10, null).Lists;
        Assert.NotEmpty(lists);
        var columns = RankingLists.FeatureColumns(drop);
        var rng = new Random(3);
        foreach (var dir in new[] { lambdaDir, sidDir })
        {
            var ranker = RankerFormats.Open(dir);
            foreach (var l in lists)
            {
                var hits = l.Ids.Select(id => new SearchHit(id, 0f)).ToArray();
                var noisy = (float[])l.Features.Clone();
                for (int i = 0; i < l.Ids.Length; i++)
                    foreach (int f in columns) noisy[i * MatchFeatures.Count + f] = i == 0 ? float.NaN : (float)(rng.NextDouble() * 100 - 50); // NaN too: not NaN * 0
                Assert.Equal(ranker.Score(l.Query, hits, l.Features), ranker.Score(l.Query, hits, noisy));
                // And a kept column does move them (the test could fail): BM25's.
                var moved = (float[])l.Features.Clone();
                for (int i = 0; i < l.Ids.Length; i++) moved[i * MatchFeatures.Count] += 50 * i;
                if (dir == sidDir) Assert.NotEqual(ranker.Score(l.Query, hits, l.Features), ranker.Score(l.Query, hits, moved));
            }
        }
        var config = new ModelDirectory(sidDir).ReadConfig<SidCoordRankerConfig>();
        Assert.All(columns, f => Assert.Equal(0f, config.FeatureScale[f]));
        // Reading nothing from the model, they serve without it (the reranking stage opens none).
        Assert.All(new[] { lambdaDir, sidDir }, dir => Assert.Null(RankerFormats.Header(dir).FeatureModel));
        var reranked = RetrieverOpener.Open(set, RetrieverSpec.Parse("bm25"), null, new RetrieverOpenOptions { Rerank = sidDir }).Retriever;
        Assert.Null(Assert.IsType<RerankRetriever>(reranked).Reranker.Features.Dense);

        // Searching with the model, a ranker that dropped its features records it (the candidates' scores are its)
        // but scores no candidate with it: the same order as an extractor that computes them.
        string searching = Path.Combine(beir.Path, "lm-searching");
        LambdaMartTraining.Run(set, unifiedDir, searching, lambdaOptions with { Retriever = "bm25+model", AllowSeenQueries = true });
        var bm25 = Bm25.Build(set.Corpus(), new Bm25Options());
        var catalog = set.Corpus().ToDictionary(d => d.Id);
        var lean = Reranker.Open(searching, bm25, id => catalog.GetValueOrDefault(id));
        Assert.NotNull(lean.Header.FeatureModel);
        Assert.Null(lean.Features.Dense);
        Assert.Null(lean.Features.Generator);
        var full = new Reranker(lean.Ranker, new MatchFeatures(bm25, id => catalog.GetValueOrDefault(id), QueryItemScorers.Open(unifiedDir)), lean.Header);
        Assert.NotNull(full.Features.Generator);
        var searched = RetrieverOpener.Open(set, RetrieverSpec.Parse("bm25+model"), unifiedDir, new RetrieverOpenOptions()).Retriever;
        var devQueries = set.Queries().Where(q => set.Qrels("dev").Qrels.QueryIds.Contains(q.Id)).ToArray();
        var candidates = searched.Search(devQueries, 10);
        for (int q = 0; q < devQueries.Length; q++)
            Assert.Equal(full.Rerank(devQueries[q], candidates[q], 10), lean.Rerank(devQueries[q], candidates[q], 10));
        // One that keeps the similarity scores with the model again.
        string keeping = Path.Combine(beir.Path, "lm-keeping");
        LambdaMartTraining.Run(set, unifiedDir, keeping, lambdaOptions with { Retriever = "bm25+model", AllowSeenQueries = true, DropFeatures = ["generator_logp", "generator_gap"] });
        var kept = Reranker.Open(keeping, bm25, id => catalog.GetValueOrDefault(id));
        Assert.NotNull(kept.Features.Dense);
        Assert.Null(kept.Features.Generator); // the unified feature model is not asked for log P(ID | q) it would give
        Assert.Equal($"BM25 and text, similarity from {Path.GetFullPath(unifiedDir)}", kept.FeatureSources);
    }

    [Fact]
    public void ARankerWhoseModelIsGoneNamesTheSettingThatPointsThere()
    {
        using var beir = new TinyBeir();
        var set = BeirDataset.Open(beir.Path);
        string unifiedDir = Path.Combine(beir.Path, "unified"), full = Path.Combine(beir.Path, "sc"), lexical = Path.Combine(beir.Path, "sc-lexical");
        string generatorDir = Path.Combine(beir.Path, "generator"), withGenerator = Path.Combine(beir.Path, "sc-generator");
        UnifiedTraining.Run(set, unifiedDir, Unified() with { Trainer = SmallTrainer with { BatchSize = 16, Epochs = 1 } });
        UnifiedTraining.Run(set, generatorDir, Unified() with { Trainer = SmallTrainer with { BatchSize = 16, Epochs = 1 }, Seed = 2 });
        var options = new SidCoordTrainingOptions { Retriever = "bm25+dense", Depth = 10, Dim = 8, Hidden = 8, ItemBuckets = 101, WordBuckets = 31, Trainer = SmallTrainer with { Epochs = 1 } };
        SidCoordTraining.Run(set, unifiedDir, full, options);
        SidCoordTraining.Run(set, unifiedDir, withGenerator, options with { GeneratorModel = generatorDir, SidModel = unifiedDir });
        Directory.Move(generatorDir, generatorDir + "-moved");
        var bm = Bm25.Build(set.Corpus(), new Bm25Options());
        Assert.Contains($"{Path.Combine(withGenerator, "config.json")}: generator_model {Path.GetFullPath(generatorDir)}: no model here",
            Assert.Throws<InvalidDataException>(() => Reranker.Open(withGenerator, bm, _ => null)).Message);
        SidCoordTraining.Run(set, unifiedDir, lexical, options with { Retriever = "bm25", DropFeatures = [.. RankingLists.ModelFeatures] });
        Directory.Move(unifiedDir, unifiedDir + "-moved");
        var bm25 = Bm25.Build(set.Corpus(), new Bm25Options());
        var e = Assert.Throws<InvalidDataException>(() => Reranker.Open(full, bm25, _ => null));
        Assert.Contains($"{Path.Combine(full, "config.json")}: feature_model {Path.GetFullPath(unifiedDir)}: no model here", e.Message);
        Assert.Contains("restore the model or retrain the ranker", e.Message);
        // The lexical ranker reads no feature model; its semantic IDs are still the unified model's.
        e = Assert.Throws<InvalidDataException>(() => Reranker.Open(lexical, bm25, _ => null));
        Assert.Contains($"{Path.Combine(lexical, "config.json")}: sid_model {Path.GetFullPath(unifiedDir)}: no model here", e.Message);
    }

    [Fact]
    public void ListNdcgMatchesAHandComputedValue()
    {
        // Grades 3, 0, 1 ranked [1, 0, 2]: DCG = 0 + 7 / log2 3 + 1 / log2 4; ideal = 7 + 0 + ... order 3, 1, 0: 7 + 1 / log2 3.
        double dcg = 7 / Math.Log2(3) + 1 / Math.Log2(4), ideal = 7 + 1 / Math.Log2(3);
        Assert.Equal(dcg / ideal, SidCoordTraining.ListNdcg([3f, 0f, 1f], [1, 0, 2], 10), 10);
        Assert.Equal(1.0, SidCoordTraining.ListNdcg([3f, 0f, 1f], [0, 2, 1], 10), 10);
        Assert.Equal(0.0, SidCoordTraining.ListNdcg([3f, 0f, 1f], [1, 0, 2], 1), 10); // the cut: only the unjudged first
        Assert.Equal(0.0, SidCoordTraining.ListNdcg([0f, 0f], [0, 1], 10), 10);       // no gain: 0, not NaN
    }

    [Fact]
    public void CrossFittedListsComeFromEachFoldsOwnModel()
    {
        using var beir = new TinyBeir();
        var set = BeirDataset.Open(beir.Path);
        string a = Path.Combine(beir.Path, "a"), b = Path.Combine(beir.Path, "b");
        var options = Unified() with { Trainer = SmallTrainer with { BatchSize = 16, Epochs = 1 } };
        UnifiedTraining.Run(set, a, options);
        UnifiedTraining.Run(set, b, options with { Seed = 2 });
        var train = RankingLists.Build(set, "train", a, null, "bm25+dense", 5, null).Lists;
        var dev = RankingLists.Build(set, "dev", b, null, "bm25+dense", 5, null).Lists;
        var folds = RankingLists.Build(set, "ignored", new Dictionary<string, string> { ["train"] = a, ["dev"] = b }, a, null, "bm25+dense", 5, null);
        Assert.Equal(train.Count + dev.Count, folds.Count);
        // Folds go in split-name order: dev's lists first, with b's similarities (not a's), then train's with a's.
        Assert.Equal(dev.SelectMany(l => l.Features), folds.Take(dev.Count).SelectMany(l => l.Features));
        Assert.Equal(train.SelectMany(l => l.Features), folds.Skip(dev.Count).SelectMany(l => l.Features));
        Assert.NotEqual(RankingLists.Build(set, "dev", a, null, "bm25+dense", 5, null).Lists.SelectMany(l => l.Features), dev.SelectMany(l => l.Features));
    }

    [Fact]
    public void RankerOfAnotherFeatureListIsRefusedByName()
    {
        using var beir = new TinyBeir();
        string dir = Path.Combine(beir.Path, "ranker");
        Directory.CreateDirectory(dir);
        new ModelDirectory(dir).WriteConfig(new LambdaMartConfig(LambdaMartFormat.Name, ["bm25", "colour"], null, null, "bm25", 100, 1, null));
        var e = Assert.Throws<InvalidDataException>(() => RankerFormats.Open(dir));
        Assert.Contains("config.json: the ranker reads features [bm25, colour]", e.Message);
    }

    [Fact]
    public void ARankerIsRefusedTheJudgmentsItsFeatureModelTrainedOnUnlessAllowed()
    {
        // A unified model trained through the registry records its training judgments in fingerprint.json;
        // a ranker asked to train on those same judgments is refused by name, and trains when allowed.
        using var beir = new TinyBeir();
        var set = BeirDataset.Open(beir.Path);
        string unifiedDir = Path.Combine(beir.Path, "unified");
        var unified = ModelKinds.Get("unified");
        unified.Train(new TrainingRequest(set, unifiedDir), Unified() with { Trainer = SmallTrainer with { BatchSize = 16, Epochs = 1 } });
        Assert.True(File.Exists(Path.Combine(unifiedDir, TrainingRun.FingerprintFile)));
        var options = new LambdaMartTrainingOptions { Retriever = "bm25+dense", Depth = 10, Trees = 5, Leaves = 4, MinLeafExamples = 2 };
        var refused = Assert.Throws<InvalidDataException>(() => LambdaMartTraining.Run(set, unifiedDir, Path.Combine(beir.Path, "lm"), options));
        Assert.Contains("train.tsv", refused.Message);
        Assert.Contains(TrainingRun.FingerprintFile, refused.Message);
        Assert.Contains("allow_seen_queries", refused.Message);
        var sidRefused = Assert.Throws<InvalidDataException>(() => SidCoordTraining.Run(set, unifiedDir, Path.Combine(beir.Path, "sc"),
            new SidCoordTrainingOptions { Retriever = "bm25+dense", Depth = 10, Dim = 8, Hidden = 8, ItemBuckets = 101, WordBuckets = 31, Trainer = SmallTrainer }));
        Assert.Contains("train.tsv", sidRefused.Message);
        // Judgments the model never saw (dev here) are fine, and so is an explicit allowance.
        LambdaMartTraining.Run(set, unifiedDir, Path.Combine(beir.Path, "lm-dev"), options with { Split = "dev" });
        LambdaMartTraining.Run(set, unifiedDir, Path.Combine(beir.Path, "lm-seen"), options with { AllowSeenQueries = true });
    }
}
