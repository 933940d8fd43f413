using System.Globalization;
using GenSearch.Data;
using GenSearch.Models.TwoTower;
using GenSearch.Models.Unified;
using GenSearch.Nn;
using GenSearch.Quantization;
using GenSearch.Serving;
using GenSearch.Tensors;
using GenSearch.Tensors.IO;
using GenSearch.Text;

namespace GenSearch.Training;

/// <summary>Settings of <see cref="UnifiedTraining"/>, with the defaults used on homedepot.</summary>
public sealed record UnifiedTrainingOptions
{
    /// <summary>Width p of q, the latents and the codes.</summary>
    public int Dim { get; init; } = 256;
    /// <summary>Levels of the semantic ID (a collision token is appended).</summary>
    public int Levels { get; init; } = 3;
    /// <summary>
    /// Codes per level. 64, not 256: with a beam of 100 the first level keeps every code and the second
    /// keeps 100 of 4,096 prefixes (about 13 items each), whose items the last level then scores by
    /// their own latents; with 256 codes the second level already narrows to about one item a prefix.
    /// </summary>
    public int Codes { get; init; } = 64;
    /// <summary>Hidden width of each level's decoder layer.</summary>
    public int DecoderHidden { get; init; } = 256;
    /// <summary>
    /// Temperature of the contrastive softmax over sim = 1 - ||q - d||^2. For unit vectors ||q - d||^2 =
    /// 2 - 2 cos, so 0.1 here is the n-gram towers' 0.05 over cosines.
    /// </summary>
    public float Temperature { get; init; } = 0.1f;
    /// <summary>Temperature of the decoder's softmax over a level's codes.</summary>
    public float DecoderTemperature { get; init; } = 0.1f;
    /// <summary>Commitment weight beta of the SimVQ levels.</summary>
    public float CommitmentWeight { get; init; } = 0.25f;
    /// <summary>l1: weight of the contrastive loss (one InfoNCE on d, or the residual per-level one).</summary>
    public float ContrastWeight { get; init; } = 1f;
    /// <summary>l2: weight of the VQ terms (codebook + commitment).</summary>
    public float VqWeight { get; init; } = 1f;
    /// <summary>l3: weight of next-token prediction of the IDs.</summary>
    public float NtpWeight { get; init; } = 1f;
    /// <summary>
    /// UniSearch's residual coarse-to-fine contrastive loss: InfoNCE at every level on sg(d(1) + .. +
    /// d(n-1)) + d(n). Off (the default): one InfoNCE on the whole latent d. On the held-out tenth of
    /// train one InfoNCE gave MRR@10 +5.6% (p = 0.03) at 4 epochs and tied at 20 (NDCG@10 +0.0006); on dev
    /// +0.009 NDCG@10 at 4 epochs and +0.010 at 20 (p = 0.10); a step computes one distance softmax instead
    /// of three (16% of training CPU); the coarse levels' beam survival and the codebooks' use are the
    /// same (bench/RESULTS.md, ## unified).
    /// </summary>
    public bool ResidualContrast { get; init; }
    /// <summary>
    /// Coarse-to-fine negatives: level n's softmax also sees, per pair, an item sharing the positive's
    /// first n - 1 codes (from the catalog as last encoded). Null (the default): with the residual loss
    /// only, whose deeper levels they are for. In the one InfoNCE on d they are hard negatives of the whole
    /// latent, and an item near a positive is often relevant but unjudged (judgments are pooled, about six
    /// a query; BM25's hard negatives lowered the towers' dev NDCG@10 from 0.407 to 0.399 the same way): on
    /// the held-out tenth of train, without them NDCG@10 +0.009 (p = 0.09), dense +0.009, and a fifth less
    /// training time (bench/RESULTS.md, ## unified).
    /// </summary>
    public bool? PrefixNegatives { get; init; }
    /// <summary>At the start of every epoch after the first, codes no item uses are re-seeded from items' residuals (see UnifiedModel.ReseedDeadCodes).</summary>
    public bool ReseedDeadCodes { get; init; } = true;
    /// <summary>
    /// Ablation: the IDs are fixed at the start of this epoch instead of learned jointly. The codebooks are
    /// refitted by residual k-means over the whole catalog's latents as the item encoder has them then
    /// (RQ-KMeans, as TIGER's IDs), the catalog's IDs are computed once and kept, and from then on
    /// there is no VQ loss, no code re-seeding and no re-encoding: next-token prediction learns the frozen
    /// IDs while the contrastive losses go on training the latents. -1 (the default): joint SimVQ throughout.
    /// </summary>
    public int FreezeIdsAt { get; init; } = -1;
    /// <summary>Whether the query encoder reads the user's history (recent queries, clicked items' IDs) when the data has one. Off: ablation.</summary>
    public bool UserContext { get; init; } = true;
    /// <summary>Weight of the graded listwise loss on the whole latent (0 = off).</summary>
    public float ListwiseWeight { get; init; } = 0.5f;
    /// <summary>Judged items per query in the listwise loss.</summary>
    public int ListwiseCandidates { get; init; } = 3;
    /// <summary>Negatives per judged pair drawn from the items its query judged below <see cref="MinPositiveGrade"/> - 1.</summary>
    public int JudgedNegatives { get; init; } = 1;
    /// <summary>
    /// Negatives per pair drawn uniformly from the whole catalog (mixed negative sampling). Without them the
    /// contrast's negatives are other training pairs' items and judged items, so items no training query names
    /// are never pushed down. On homedepot that is a leak the default model learns. The dev top 10 then holds
    /// fewer train-judged items than BM25's (0.49 against 0.58), and an item train judged is 4.8x less likely to
    /// be judged in dev. With 2 the share is 0.59, and NDCG@10 as judged falls by 0.015-0.018 on dev and on the
    /// held-out tenth. Scored with the train-judged items removed (at equal depth), NDCG@10 rises by 0.006-0.007
    /// and Recall@100 by 0.005, none of it significant. So 0 (bench/RESULTS.md, "## unified", first subsection).
    /// </summary>
    public int CorpusNegatives { get; init; }
    /// <summary>Judgments from this grade up are positives.</summary>
    public int MinPositiveGrade { get; init; } = 3;
    /// <summary>Weight of an indexing pair (a cut of an item's title -> the item).</summary>
    public float IndexingWeight { get; init; } = 1f;
    /// <summary>Indexing pairs per item and epoch.</summary>
    public int IndexingPairsPerItem { get; init; } = 1;
    /// <summary>How indexing pairs cut query-like texts from titles; null = whole titles.</summary>
    public PseudoQueryOptions? PseudoQueries { get; init; } = new() { WholeTitleShare = 0f };
    /// <summary>Learning-rate multiplier of everything but the feature table (heads, codebooks, decoder, context).</summary>
    public float DenseLearningRateScale { get; init; } = 0.02f;
    /// <summary>
    /// An n-gram two-tower model directory trained on the same data whose feature table starts this
    /// model's (a warm start of the text embedder; its n-gram features must be this data set's, byte for
    /// byte). Null (the default): a random table.
    /// </summary>
    public string? InitTableFrom { get; init; }
    /// <summary>Beams at search time (the model's default).</summary>
    public int BeamSize { get; init; } = 100;
    /// <summary>
    /// Weight w of sim(q, d) in an item's score at search time (see UnifiedSearchOptions). Chosen on the
    /// held-out tenth of the train queries: with an 8-epoch model NDCG@10 0.293 at w 10, 0.333 at 30, 0.350
    /// at 100 (its dense search: 0.356); with the 20-epoch default model 0.366 at 100, 0.371 at 300, 0.370
    /// at 1,000 (300 against 100: NDCG@10 +0.0046, p = 0.002; Recall@100 +0.0054, p = 0.002).
    /// </summary>
    public float LatentWeight { get; init; } = 300f;
    /// <summary>
    /// Code levels, from the last, whose beam scores carry the best w (sim - 1) under each prefix (see
    /// UnifiedSearchOptions.SteeredLevels); null (the default): every level. Measured on the held-out tenth
    /// of train with the 40-epoch model, beam 100: steering the last level only, NDCG@10 0.407 and Recall@100
    /// 0.788; every level, 0.414 (p = 1e-4) and 0.817 (p = 1e-4), 99.8% of the dense top 100's relevant items
    /// kept. Above the last level the search reads a 128-float sketch of each item's latent (LatentSketch),
    /// not the latent: held-out Recall@100 0.817, NDCG@10 0.414; beam 50 p50 about 5.5 ms against 2.7 ms for 1.
    /// </summary>
    public int? SteeredLevels { get; init; }
    /// <summary>
    /// The training loop. Adam at 0.05 for the table, as the n-gram towers (each row gets a gradient only
    /// in the few steps whose batch uses it); the dense parts at <see cref="DenseLearningRateScale"/> of it.
    /// 40 epochs: on the held-out tenth of train NDCG@10 0.380 at 20, 0.399 at 30 (p = 0.0003), 0.407 at 40
    /// (p = 0.13; dense +0.009, p = 0.06); 40 take 15.4 min of the 20-minute budget on all of train
    /// (bench/RESULTS.md, ## unified).
    /// </summary>
    public TrainerOptions Trainer { get; init; } = new()
    {
        BatchSize = 512, Epochs = 40, LearningRate = 0.05f, WarmupSteps = 50, MinLearningRate = 0.005f, WeightDecay = 0f, ClipNorm = 0f, CheckpointEvery = 200,
    };
    /// <summary>Seed of the weights, the title cuts and the negative draws.</summary>
    public ulong Seed { get; init; } = 1;
}

/// <summary>
/// Trains the <see cref="UnifiedModel"/> end to end: item encoder, SimVQ codebooks and search generator
/// together, with L = l1 L_contrast + l2 L_vq + l3 L_ntp (DESIGN.md) plus a graded listwise term.
/// Each batch mixes judged pairs (weighted by grade) and indexing pairs (a fresh cut of an item's
/// title, so items no query judged are reachable). The catalog is re-encoded at the start of every
/// epoch (its IDs give the coarse-to-fine negatives and the clicked items' IDs of user contexts); the
/// share of items whose ID changed (churn) and the codebooks' health are logged to
/// <c>codebook-health.tsv</c>. A killed run resumes exactly (the catalog's IDs travel with the checkpoint).
/// </summary>
public static class UnifiedTraining
{
    /// <summary>Per-epoch codebook health and ID churn.</summary>
    public const string HealthLogFile = "codebook-health.tsv";

    /// <summary>Copies the feature table of the n-gram towers in <paramref name="from"/> into <paramref name="model"/>'s, after checking they read the same features.</summary>
    private static void InitTable(UnifiedModel model, string from, string featuresPath, Action<string>? note)
    {
        var dir = new ModelDirectory(from);
        string theirs = Path.Combine(from, NgramTowerFormat.FeaturesFile);
        if (!File.Exists(theirs)) throw new InvalidDataException($"init_table_from: {from} holds no {NgramTowerFormat.FeaturesFile} (an n-gram two-tower model directory is needed)");
        if (!File.ReadAllBytes(theirs).AsSpan().SequenceEqual(File.ReadAllBytes(featuresPath)))
            throw new InvalidDataException($"init_table_from: {theirs} is not this data set's n-gram features ({featuresPath}): the towers were trained on other data");
        var (towers, _) = NgramTowerFormat.Model(dir);
        if (!towers.Table.Shape.SequenceEqual(model.Table.Shape))
            throw new InvalidDataException($"init_table_from: {dir.WeightsPath} has a feature table of [{string.Join(", ", towers.Table.Shape)}], this model's is [{string.Join(", ", model.Table.Shape)}] (set dim to the towers')");
        towers.Table.Data.AsSpan().CopyTo(model.Table.Data);
        note?.Invoke($"feature table from {dir.WeightsPath}");
    }

    /// <summary>Trains and writes the model to <paramref name="outDir"/>; returns the final mean loss.</summary>
    public static float Run(BeirDataset set, string outDir, UnifiedTrainingOptions options,
        Action<string>? note = null, Action<TrainerProgress>? progress = null, CancellationToken cancel = default)
    {
        var dir = new ModelDirectory(outDir);
        Directory.CreateDirectory(outDir);
        var data = TrainingData.Load(set, "train", note);
        note?.Invoke($"catalog {data.ItemIds.Length:N0} items, {data.QueryTexts.Length:N0} judged training queries");
        string featuresPath = Path.Combine(outDir, UnifiedFormat.FeaturesFile);
        var vocabulary = File.Exists(dir.CheckpointPath) && File.Exists(featuresPath)
            ? NgramVocabulary.Load(featuresPath)
            : NgramVocabulary.Build(data.ItemTexts.Concat(data.QueryTexts));
        vocabulary.Save(featuresPath);

        int N = data.ItemIds.Length, L = options.Levels;
        var itemRows = data.ItemTexts.Select(vocabulary.Encode).ToArray();
        var queryRows = data.QueryTexts.Select(vocabulary.Encode).ToArray();
        var contexts = options.UserContext ? data.QueryContexts : null;
        var contextQueryRows = contexts?.Select(c => c is null ? null : vocabulary.Encode(string.Join(" ", c.Queries))).ToArray();
        var pairs = data.Pairs(options.MinPositiveGrade, options.IndexingWeight, options.IndexingPairsPerItem);
        var weights = pairs.Select(p => p.QueryIndex >= 0 ? 1f : p.Weight).ToArray();
        var positives = data.Judgments.Select(j => j.Where(x => x.Grade >= options.MinPositiveGrade).Select(x => x.Item).ToHashSet()).ToArray();
        var judgedNegatives = data.Judgments.Select(j => j.Where(x => x.Grade < options.MinPositiveGrade - 1).Select(x => x.Item).ToArray()).ToArray();

        var config = new UnifiedConfig
        {
            Features = vocabulary.Count, Dim = options.Dim, Levels = L, Codes = options.Codes, DecoderHidden = options.DecoderHidden,
            DecoderTemperature = options.DecoderTemperature, CommitmentWeight = options.CommitmentWeight,
        };
        var rng = new Rng(options.Seed);
        var model = new UnifiedModel(config, rng);
        if (options.InitTableFrom is { } from) InitTable(model, from, featuresPath, note);
        note?.Invoke($"model: {model.ParameterCount():N0} parameters; {pairs.Count:N0} pairs an epoch; IDs {L} x {options.Codes} + a collision token");
        var trainerOptions = options.Trainer with
        {
            Seed = options.Seed, CheckpointPath = dir.CheckpointPath,
            Groups = [ParameterGroup.ByPrefix("dense", "head", "vq", "decoder", "context") with { LearningRateScale = options.DenseLearningRateScale }],
        };
        var trainer = new Trainer(model, trainerOptions, [rng]);
        if (progress is not null) trainer.Progress += progress;
        if (note is not null) trainer.Note += note;

        // The catalog's IDs as last encoded, the epoch they are for, and the items under each prefix.
        int[]? codes = null;
        int codesEpoch = -1;
        Dictionary<long, int[]>[] groups = [];
        int epoch = 0;
        string healthLog = Path.Combine(outDir, HealthLogFile);
        trainer.SavingState += state =>
        {
            if (codes is null) return;
            state["unified.codes"] = Convert.ToBase64String(System.Runtime.InteropServices.MemoryMarshal.AsBytes(codes.AsSpan()));
            state["unified.codes_epoch"] = codesEpoch.ToString(CultureInfo.InvariantCulture);
        };
        trainer.RestoringState += state =>
        {
            if (!state.TryGetValue("unified.codes", out var text)) return;
            var bytes = Convert.FromBase64String(text);
            if (bytes.Length != N * L * sizeof(int)) throw new InvalidDataException($"{dir.CheckpointPath}: the saved catalog IDs are for another catalog or ID shape; train with --restart");
            codes = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(bytes).ToArray();
            codesEpoch = int.Parse(state["unified.codes_epoch"], CultureInfo.InvariantCulture);
            groups = PrefixGroups(codes, N, L);
        };
        bool Frozen(int e) => options.FreezeIdsAt >= 0 && e >= options.FreezeIdsAt;
        trainer.EpochStarting += e =>
        {
            epoch = e;
            if (codes is not null && codesEpoch == e) return; // restored from a checkpoint taken within this epoch
            if (Frozen(e) && (e > options.FreezeIdsAt && codes is not null))
            {
                codesEpoch = e; // the IDs stay as frozen at FreezeIdsAt (also after a resume)
                LogHealth(healthLog, e, 0, codes, N, L, options.Codes, note);
                return;
            }
            if (Frozen(e))
            {
                // RQ-KMeans over the whole catalog's current latents, then the IDs once.
                model.InitializeCodebooks(itemRows, N, (int)(options.Seed % int.MaxValue) + e);
                var (_, fixedCodes) = model.EncodeItems(itemRows);
                model.Train();
                double changed = codes is null ? double.NaN : ChangedShare(codes, fixedCodes, N, L);
                codes = fixedCodes;
                codesEpoch = e;
                groups = PrefixGroups(codes, N, L);
                note?.Invoke($"epoch {e}: IDs frozen (RQ-KMeans over the catalog's latents)");
                LogHealth(healthLog, e, changed, codes, N, L, options.Codes, note);
                return;
            }
            if (codes is null && e == 0) model.InitializeCodebooks(itemRows, 20_000, (int)(options.Seed % int.MaxValue));
            var (_, fresh) = model.EncodeItems(itemRows);
            if (e > 0 && options.ReseedDeadCodes)
            {
                var reseeded = model.ReseedDeadCodes(itemRows, fresh, new Rng(options.Seed ^ (ulong)(e * 7919)));
                if (reseeded.Sum() > 0)
                {
                    note?.Invoke($"epoch {e}: re-seeded unused codes per level: {string.Join(" / ", reseeded)}");
                    (_, fresh) = model.EncodeItems(itemRows);
                }
            }
            model.Train();
            double churn = codes is null ? double.NaN : ChangedShare(codes, fresh, N, L);
            codes = fresh;
            codesEpoch = e;
            groups = PrefixGroups(codes, N, L);
            LogHealth(healthLog, e, churn, codes, N, L, options.Codes, note);
        };

        float loss = trainer.Run(pairs.Count, batch =>
        {
            var draw = PairQueryRows.BatchGenerator(options.Seed, epoch, batch);
            int B = batch.Length;
            var queries = new int[B][];
            var queryContexts = contexts is null ? null : new UserContextInput?[B];
            var items = new List<int>(B * 4);
            var minLevel = new List<int>(B * 4);
            for (int b = 0; b < B; b++)
            {
                var pair = pairs[batch[b]];
                items.Add(pair.Item); minLevel.Add(0);
                queries[b] = pair.QueryIndex >= 0 ? queryRows[pair.QueryIndex]
                    : vocabulary.Encode(options.PseudoQueries is null ? pair.QueryText : PseudoQueries.Cut(pair.QueryText, draw, options.PseudoQueries));
                if (queryContexts is not null && pair.QueryIndex >= 0 && contexts![pair.QueryIndex] is { } c)
                    queryContexts[b] = new UserContextInput(contextQueryRows![pair.QueryIndex]!, c.Items.SelectMany(i => codes!.AsSpan(i * L, L).ToArray()).ToArray());
            }
            foreach (int i in batch)
            {
                int judged = pairs[i].QueryIndex;
                if (judged < 0) continue;
                TwoTowerTraining.DrawFrom(judgedNegatives[judged], options.JudgedNegatives, items, draw);
                while (minLevel.Count < items.Count) minLevel.Add(0);
            }
            for (int b = 0; b < B * options.CorpusNegatives; b++) { items.Add(draw.NextInt(N)); minLevel.Add(0); }
            var listwise = options.ListwiseWeight > 0 ? TwoTowerTraining.ListwiseCandidates(batch, pairs, data, options.ListwiseCandidates, items, draw) : null;
            while (minLevel.Count < items.Count) minLevel.Add(0);
            // One per pair, at a level drawn from 2..L: an item that shares the positive's first n - 1 codes,
            // seen from level n on (one per pair and level doubled the items a step encodes).
            if ((options.PrefixNegatives ?? options.ResidualContrast) && L > 1)
                for (int b = 0; b < B; b++)
                {
                    int item = items[b], n = 1 + draw.NextInt(L - 1);
                    if (!groups[n].TryGetValue(PrefixKey(codes!, item, L, n), out var group) || group.Length < 2) continue;
                    int other = group[draw.NextInt(group.Length)];
                    if (other == item) continue;
                    items.Add(other); minLevel.Add(n);
                }

            var q = model.EncodeQueries(queries, queryContexts);
            var levels = model.ItemLevels(items.Select(i => itemRows[i]).ToArray());
            var parts = new TrainingLoss();

            // VQ: residual quantization of the coarse-to-fine sums; the positives' codes are the NTP targets
            // (with frozen IDs: the catalog's fixed codes, and no VQ term).
            bool frozen = Frozen(epoch);
            var (batchCodes, vq) = frozen ? (null, null) : model.Quantize(levels);
            var targetCodes = frozen
                ? Enumerable.Range(0, B).SelectMany(b => codes!.AsSpan(items[b] * L, L).ToArray()).ToArray()
                : batchCodes![..(B * L)];

            // Contrast: level n on sg(d(1) + .. + d(n-1)) + d(n); level n sees prefix negatives of levels < n only.
            var pairWeights = batch.Select(i => weights[i]).ToArray();
            int M = items.Count;
            var alsoRelevant = new bool[B * M]; // other positives of the pair's query, and the pair's own item again
            for (int b = 0; b < B; b++)
            {
                var pair = pairs[batch[b]];
                var own = pair.QueryIndex >= 0 ? positives[pair.QueryIndex] : null;
                for (int j = 0; j < M; j++)
                    if (j != b && (items[j] == pair.Item || own is not null && own.Contains(items[j]))) alsoRelevant[b * M + j] = true;
            }
            var positivesIndex = Enumerable.Range(0, B).ToArray();
            Tensor whole = levels[0];
            for (int n = 1; n < L; n++) whole = whole + levels[n];
            var contrast = options.ResidualContrast
                ? UnifiedLosses.ResidualContrast(q, levels, positivesIndex, options.Temperature, pairWeights, (n, b, j) => minLevel[j] > n || alsoRelevant[b * M + j])
                : UnifiedLosses.DistanceSoftmax(q, whole, positivesIndex, options.Temperature, pairWeights, (b, j) => alsoRelevant[b * M + j]);
            parts.Add("contrast", contrast, options.ContrastWeight);

            if (listwise is { } lw)
            {
                var (rows, candidates, grades) = lw;
                var listQueries = Tensor.Embedding(q, rows, rows.Length);
                var listItems = Tensor.Embedding(whole, candidates, rows.Length, options.ListwiseCandidates);
                parts.Add("listwise", UnifiedLosses.GradedListwise(listQueries, listItems, grades, options.Temperature), options.ListwiseWeight);
            }
            if (vq is not null) parts.Add("vq", vq, options.VqWeight);

            // Next-token prediction of each positive's ID, teacher-forced, weighted by the pair's gain.
            parts.Add("ntp", UnifiedLosses.NextToken(model, q, targetCodes, batch.Select(i => pairs[i].Weight).ToArray()), options.NtpWeight);
            return parts;
        }, cancel);
        if (cancel.IsCancellationRequested) return loss;

        note?.Invoke("encoding the catalog");
        var finalCodes = WriteModel(dir, model, itemRows, data.ItemIds, Frozen(epoch) ? codes : null,
            new UnifiedModelConfig(UnifiedFormat.Name, config, [], options.BeamSize, options.LatentWeight, ModelKinds.ToJson(options),
                SteeredLevels: options.SteeredLevels ?? options.Levels));
        LogHealth(healthLog, options.Trainer.Epochs, codes is null ? double.NaN : ChangedShare(codes, finalCodes, N, L), finalCodes, N, L, options.Codes, note);
        File.Delete(dir.CheckpointPath);
        return loss;
    }

    /// <summary>
    /// Writes a trained unified model: the weights, the catalog encoded by it (latents, and IDs with a
    /// collision token; <paramref name="fixedCodes"/> instead of its own quantization when the IDs were
    /// frozen), <c>health.md</c>, the item ids and config.json (<paramref name="config"/> with the token
    /// sizes filled in). Returns the catalog's codes [items, L].
    /// </summary>
    public static int[] WriteModel(ModelDirectory dir, UnifiedModel model, IReadOnlyList<int[]> itemRows, string[] itemIds, int[]? fixedCodes, UnifiedModelConfig config)
    {
        int N = itemRows.Count, L = model.Config.Levels;
        var (latents, codes) = model.EncodeItems(itemRows);
        if (fixedCodes is not null) codes = fixedCodes;
        var sids = SemanticIds.Build(codes, N, Enumerable.Repeat(model.Config.Codes, L).ToArray());
        File.WriteAllText(Path.Combine(dir.Path, "health.md"), CodebookHealth.Compute(sids).ToTable());
        Checkpoint.SaveModel(dir.WeightsPath, model);
        // Room for new items that collide: at least as many collision tokens as codes.
        var tokenSizes = sids.TokenSizes.ToArray();
        tokenSizes[^1] = Math.Max(tokenSizes[^1], model.Config.Codes);
        SafeTensors.Save(dir.ItemsPath, [
            SafeTensorEntry.I32("ids", [N, L + 1], Enumerable.Range(0, N).SelectMany(i => sids.Row(i).ToArray()).ToArray()),
            SafeTensorEntry.F32("latents", [N, model.Config.Dim], latents),
        ]);
        dir.WriteItemIds(itemIds);
        dir.WriteConfig(config with { TokenSizes = tokenSizes });
        return codes;
    }

    private static long PrefixKey(int[] codes, int item, int levels, int length)
    {
        long key = length;
        for (int n = 0; n < length; n++) key = key * 1_000_003 + codes[item * levels + n];
        return key;
    }

    /// <summary>For each prefix length n (1..L-1), the items under each prefix.</summary>
    private static Dictionary<long, int[]>[] PrefixGroups(int[] codes, int count, int levels)
    {
        var result = new Dictionary<long, int[]>[levels];
        result[0] = [];
        for (int n = 1; n < levels; n++)
            result[n] = Enumerable.Range(0, count).GroupBy(i => PrefixKey(codes, i, levels, n)).ToDictionary(g => g.Key, g => g.ToArray());
        return result;
    }

    private static double ChangedShare(int[] before, int[] after, int count, int levels)
    {
        int changed = 0;
        for (int i = 0; i < count; i++)
            if (!before.AsSpan(i * levels, levels).SequenceEqual(after.AsSpan(i * levels, levels))) changed++;
        return (double)changed / count;
    }

    private static void LogHealth(string path, int epoch, double churn, int[] codes, int count, int levels, int size, Action<string>? note)
    {
        var health = CodebookHealth.Compute(codes, count, Enumerable.Repeat(size, levels).ToArray());
        var inv = CultureInfo.InvariantCulture;
        if (!File.Exists(path) || epoch == 0)
            File.WriteAllText(path, "epoch\tchurn\tcollision_rate\t" + string.Join('\t', Enumerable.Range(1, levels).SelectMany(l =>
                new[] { $"utilisation_{l}", $"perplexity_{l}", $"largest_bucket_{l}" })) + "\n");
        File.AppendAllText(path, string.Join('\t', [epoch.ToString(inv), churn.ToString("0.0000", inv), health.Collisions.CollisionRate.ToString("0.0000", inv),
            .. health.Levels.SelectMany(l => new[] { l.Utilisation.ToString("0.0000", inv), l.Perplexity.ToString("0.0", inv), l.LargestBucket.ToString(inv) })]) + "\n");
        note?.Invoke($"epoch {epoch}: IDs churn {(double.IsNaN(churn) ? "-" : churn.ToString("P1", inv))}, collisions {health.Collisions.CollisionRate:P1}, " +
                     $"utilisation {string.Join(" / ", health.Levels.Select(l => l.Utilisation.ToString("P0", inv)))}");
    }
}
