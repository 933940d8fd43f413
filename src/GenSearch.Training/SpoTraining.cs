using System.Text.Json.Nodes;
using GenSearch.Data;
using GenSearch.Models.Unified;
using GenSearch.Nn;
using GenSearch.Models.Generative;
using GenSearch.Retrieval;
using GenSearch.Retrieval.Generative;
using GenSearch.Serving;
using GenSearch.Tensors;
using GenSearch.Text;

namespace GenSearch.Training;

/// <summary>Settings of <see cref="SpoTraining"/>, with the defaults used on homedepot.</summary>
public sealed record SpoTrainingOptions
{
    /// <summary>
    /// "policy": for each training query, the current model's beam draws <see cref="GroupSize"/> candidates;
    /// their rewards, normalised within the group, weight a policy-gradient update with a KL penalty to a
    /// frozen copy (UniSearch's SPO). "dpo": logged data only, DPO on (better, worse) judged pairs of a query.
    /// </summary>
    public string Mode { get; init; } = "policy";
    /// <summary>Candidates per query (the beam's best), the group rewards are normalised in.</summary>
    public int GroupSize { get; init; } = 16;
    /// <summary>Beams when drawing candidates.</summary>
    public int BeamSize { get; init; } = 32;
    /// <summary>
    /// Up to this many of a query's items with positive feedback that the beam's best <see cref="GroupSize"/> miss take
    /// the group's last places without feedback, best feedback first (off-policy candidates, as DPO's logged pairs
    /// are), and those with a positive advantage are also pulled up by their log-likelihood, -A log pi (their pi is
    /// near 0, so the expected-advantage gradient hardly moves them). 0: the beam only, as UniSearch. The beam alone
    /// seldom holds two items with feedback, and with <see cref="Unjudged"/> "unknown" a group needs two to move at
    /// all. Not with a <see cref="Ranker"/>: it reads the beam's scores.
    /// </summary>
    public int LoggedCandidates { get; init; }
    /// <summary>
    /// Temperature of the policy over a group, pi = softmax(s / T). The item scores carry w (sim - 1) with
    /// w = 100 on homedepot, so the beam's best candidates differ by several units and softmax(s) is
    /// nearly one-hot, where the policy gradient vanishes.
    /// </summary>
    public float Temperature { get; init; } = 10f;
    /// <summary>beta of the KL(pi || pi_ref) penalty (policy mode).</summary>
    public float KlWeight { get; init; } = 0.1f;
    /// <summary>beta of DPO (dpo mode).</summary>
    public float DpoBeta { get; init; } = 0.1f;
    /// <summary>
    /// A ranking model's directory (<c>--model sid-coord</c> or <c>lambdamart</c>) whose scores are the system
    /// reward R_system, z-normalised within each group; null: no system reward (g1 = 0).
    /// </summary>
    public string? Ranker { get; init; }
    /// <summary>g1: weight of the system reward when <see cref="Ranker"/> is given.</summary>
    public float SystemWeight { get; init; } = 1f;
    /// <summary>
    /// g2: weight of the feedback reward. With a search log (interactions.jsonl), an item's feedback for a
    /// query is the weighted sum of its logged signals (<see cref="SignalWeights"/>); judged items add
    /// grade / max grade. homedepot has no log: its graded judgments are the feedback proxy.
    /// </summary>
    public float FeedbackWeight { get; init; } = 1f;
    /// <summary>
    /// How several feedback signals make one reward (SaFRO's question): a weighted sum of each signal's
    /// value. The defaults rank deeper engagement above a click; a signal not listed counts 0. A weight may be
    /// negative (a "return" or "dislike"): the item's feedback falls below 0, so the group's normalisation puts it under
    /// the candidates with positive feedback (and, with <see cref="Unjudged"/> "negative", under the unjudged ones too).
    /// An options file adds its own signals beside these defaults and replaces a default it names again.
    /// </summary>
    public Dictionary<string, float> SignalWeights { get; init; } = new() { ["click"] = 1f, ["add_to_cart"] = 2f, ["purchase"] = 4f };
    /// <summary>
    /// What a candidate without feedback means. "negative": reward 0, pushed down with the rest (right for
    /// a log of shown-and-not-clicked items). "unknown": its advantage is 0 and the group is normalised over
    /// the candidates with feedback only (right for judgments, where most unjudged candidates were never
    /// looked at: on homedepot the model's own top candidates for a training query are often relevant and
    /// unjudged, and "negative" taught it to push them down: dev MRR@10 -2.8%).
    /// </summary>
    public string Unjudged { get; init; } = "unknown";
    /// <summary>Judgments from this grade up count as relevant for choosing the training queries.</summary>
    public int MinPositiveGrade { get; init; } = 3;
    /// <summary>Learning-rate multiplier of everything but the feature table, as in unified training.</summary>
    public float DenseLearningRateScale { get; init; } = 0.02f;
    /// <summary>The loop: a short fine-tuning pass at a tenth of training's learning rate.</summary>
    public TrainerOptions Trainer { get; init; } = new()
    {
        BatchSize = 32, Epochs = 1, LearningRate = 0.005f, WarmupSteps = 20, MinLearningRate = 0.0005f, WeightDecay = 0f, ClipNorm = 0f, CheckpointEvery = 100,
    };
    /// <summary>Seed of the query order.</summary>
    public ulong Seed { get; init; } = 1;
}

/// <summary>
/// Search Preference Optimization over a trained unified model (DESIGN.md 6): the policy is the model's
/// own item score s(q, i) = log P(ID | q) + w (sim(q, d) - 1), the score serving ranks by, normalised over
/// a query's candidates. The reward is R = g1 * R_system + g2 * feedback: R_system a ranking model's
/// scores of the group (<see cref="SpoTrainingOptions.Ranker"/>), feedback as <see cref="SpoTrainingOptions.FeedbackWeight"/> says.
/// Candidates come from the model being trained, searching the catalog as the model encoded it at the
/// start of the epoch (as training re-encodes it each epoch; and once more when the run ends); the
/// reference is a frozen copy read from the same directory. Writes a unified model directory. A run
/// resumed within an epoch re-encodes the catalog at the restored step, so policy mode resumes exactly
/// only from an epoch's start; DPO mode, which draws no candidates, always resumes exactly.
/// </summary>
public static class SpoTraining
{
    /// <summary>The modes <see cref="SpoTrainingOptions.Mode"/> takes.</summary>
    public static readonly string[] Modes = ["policy", "dpo"];

    /// <summary>Aligns the unified model in <paramref name="fromDir"/>, writes the result to <paramref name="outDir"/>; returns the final mean loss.</summary>
    public static float Run(BeirDataset set, string fromDir, string outDir, SpoTrainingOptions options,
        Action<string>? note = null, Action<TrainerProgress>? progress = null, CancellationToken cancel = default)
    {
        // The settings checks the registry makes, for a caller that comes here directly (a ranker with DPO or with
        // logged candidates would otherwise be misread, not refused).
        if (SettingsChecks.Spo(options).ToList() is { Count: > 0 } problems) throw new InvalidDataException(string.Join("; ", problems));
        var from = new ModelDirectory(fromDir);
        if (ModelFormats.KindOf(from) != UnifiedFormat.Name) throw new InvalidDataException($"{from.ConfigPath}: SPO aligns a unified model; this is a {ModelFormats.KindOf(from)} model");
        var baseConfig = from.ReadConfig<UnifiedModelConfig>();
        var policy = UnifiedFormat.OpenGenerative(from, new ModelOpenOptions { BeamSize = options.BeamSize });
        var reference = UnifiedFormat.OpenGenerative(from, new ModelOpenOptions()).Model;
        var model = policy.Model;
        var features = NgramVocabulary.Load(Path.Combine(fromDir, UnifiedFormat.FeaturesFile));
        float w = baseConfig.LatentWeight;
        int L = model.Config.Levels;

        var data = TrainingData.Load(set, "train", note);
        var catalogIndex = new Dictionary<string, int>(data.ItemIds.Length, StringComparer.Ordinal);
        for (int i = 0; i < data.ItemIds.Length; i++) catalogIndex[data.ItemIds[i]] = i;
        var itemRows = data.ItemTexts.Select(features.Encode).ToArray();
        // Each judged query as the retriever takes it, its user's history (when the data has one) as context.
        var queryRecords = Enumerable.Range(0, data.QueryTexts.Length).Select(q => new Query($"train-{q}", data.QueryTexts[q])
        {
            Context = data.QueryContexts?[q] is { } history
                ? [.. history.Queries.Select(t => "q:" + t), .. history.Items.Select(i => "i:" + data.ItemIds[i])] : null,
        }).ToArray();
        var feedback = Feedback(set, data, catalogIndex, options, note);
        // Each query's items with positive feedback, best first (the logged candidates).
        var logged = feedback.Where(kv => kv.Value > 0).GroupBy(kv => kv.Key.Query)
            .ToDictionary(g => g.Key, g => g.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key.Item).Select(kv => kv.Key.Item).ToArray());
        var queries = Enumerable.Range(0, data.QueryTexts.Length)
            .Where(q => data.Judgments[q].Any(j => j.Grade >= options.MinPositiveGrade)).ToArray();
        var pairs = options.Mode == "dpo" ? DpoPairs(data) : [];
        int examples = options.Mode == "dpo" ? pairs.Length : queries.Length;
        if (examples == 0) throw new InvalidDataException($"{set.Directory}: no training {(options.Mode == "dpo" ? "pairs of differently judged items" : "queries with a relevant item")} for SPO");
        // The ranker scores the generator's own beam, whose retriever_score is the generator's item score: a ranker
        // trained on another retriever's candidates would read that feature off its training scale. Checked before any work.
        var rankerHeader = options.Ranker is null ? null : Serving.Ranking.RankerFormats.Header(options.Ranker);
        if (rankerHeader?.TrainedShape is { } trained && trained != new RetrieverScoreShape(1, "generative"))
            throw new InvalidDataException($"ranker: {options.Ranker} was trained on candidates from '{rankerHeader.Retriever}' ({trained}); SPO rewards the generator's own beam, " +
                                        "so its ranker must be trained on the generator's candidates (\"retriever\": \"generative\" over the unified model)");
        var reranker = rankerHeader is null ? null : Serving.Ranking.Reranker.Open(options.Ranker!, RankingLists.Bm25Index(set, note),
            set.Corpus().ToDictionary(d => d.Id, StringComparer.Ordinal).GetValueOrDefault, rankerHeader);
        note?.Invoke($"SPO ({options.Mode}) over {fromDir}: {examples:N0} {(options.Mode == "dpo" ? "pairs" : "queries")}, reward = " +
                     (reranker is null ? "" : $"{options.SystemWeight} x {reranker.Ranker.Kind} ranker {options.Ranker} + ") + $"{options.FeedbackWeight} x feedback");

        Directory.CreateDirectory(outDir);
        var dir = new ModelDirectory(outDir);
        File.Copy(Path.Combine(fromDir, UnifiedFormat.FeaturesFile), Path.Combine(outDir, UnifiedFormat.FeaturesFile), overwrite: true);
        var trainer = new Trainer(model, options.Trainer with
        {
            Seed = options.Seed, CheckpointPath = dir.CheckpointPath,
            Groups = [ParameterGroup.ByPrefix("dense", "head", "vq", "decoder", "context") with { LearningRateScale = options.DenseLearningRateScale }],
        });
        if (progress is not null) trainer.Progress += progress;
        if (note is not null) trainer.Note += note;

        // The catalog the candidates are drawn from, encoded by the model as it is at the start of each epoch
        // (as training re-encodes it): its IDs and latents are what the model is scored on within the epoch.
        var current = policy;
        bool resumed = false;
        trainer.RestoringState += _ => resumed = true;
        trainer.EpochStarting += e =>
        {
            if (e == 0 && !resumed || options.Mode == "dpo") return; // the catalog as loaded is the model's own; DPO scores logged pairs on it throughout
            resumed = false;
            var (latents, codes) = model.EncodeItems(itemRows);
            var sids = Quantization.SemanticIds.Build(codes, itemRows.Length, Enumerable.Repeat(model.Config.Codes, L).ToArray());
            current = UnifiedFormat.Retriever(model, features, [.. sids.TokenSizes], Enumerable.Range(0, itemRows.Length).Select(i => sids.Row(i).ToArray()).ToList(),
                data.ItemIds, latents, baseConfig.SearchOptions(options.BeamSize));
        };

        UserContextInput? ContextOf(int query) => current.ContextOf(queryRecords[query]);
        int[] CodesOf(int item) => current.Item(data.ItemIds[item])?.Codes
            ?? throw new InvalidDataException($"{from.ItemIdsPath}: item '{data.ItemIds[item]}' of {set.Directory} is not in the model's catalog; SPO needs the catalog it was trained on");

        // Scores of (query, item) rows by a model: in the graph for the policy, constants for the reference.
        Tensor Scores(UnifiedModel m, int[] rowQueries, int[] rowItems)
        {
            var distinct = rowQueries.Distinct().ToArray();
            var position = distinct.Select((q, i) => (q, i)).ToDictionary(x => x.q, x => x.i);
            var q = m.EncodeQueries(distinct.Select(x => features.Encode(data.QueryTexts[x])).ToArray(), distinct.Select(ContextOf).ToArray());
            var qRows = Tensor.Embedding(q, rowQueries.Select(x => position[x]).ToArray(), rowQueries.Length);
            var levels = m.ItemLevels(rowItems.Select(i => itemRows[i]).ToArray());
            var latents = levels[0];
            for (int n = 1; n < levels.Length; n++) latents = latents + levels[n];
            return m.ItemScores(qRows, latents, rowItems.SelectMany(CodesOf).ToArray(), w);
        }
        float[] ReferenceScores(int[] rowQueries, int[] rowItems)
        {
            using var _ = Tensor.NoGrad();
            return Scores(reference, rowQueries, rowItems).Data[..rowItems.Length];
        }

        float loss = trainer.Run(examples, batch =>
        {
            var parts = new TrainingLoss();
            if (options.Mode == "dpo")
            {
                // Rows: every pair's better item, then every pair's worse one.
                var chosen = batch.Select(i => pairs[i]).ToArray();
                int P = chosen.Length;
                var rowQueries = chosen.Select(x => x.Query).Concat(chosen.Select(x => x.Query)).ToArray();
                var rowItems = chosen.Select(x => x.Better).Concat(chosen.Select(x => x.Worse)).ToArray();
                var scores = Scores(model, rowQueries, rowItems);
                var referenceScores = ReferenceScores(rowQueries, rowItems);
                parts.Add("dpo", PreferenceLosses.Dpo(scores.Slice(0, 0, P), scores.Slice(0, P, P), referenceScores[..P], referenceScores[P..], options.DpoBeta));
                return parts;
            }

            // Policy mode: candidates from the model's own beam, as it is now.
            var batchQueries = batch.Select(i => queries[i]).ToArray();
            var records = batchQueries.Select(q => queryRecords[q]).ToArray();
            IReadOnlyList<SearchHit>[] hits;
            using (Tensor.NoGrad()) hits = current.Search(records, options.GroupSize);
            model.Train();
            // Every group holds the beam's best N; a query whose beam returned fewer (a small catalog) sits the step out.
            int N = options.GroupSize;
            var groups = new List<(int Query, int[] Items, float[] System, int Logged)>();
            for (int b = 0; b < batchQueries.Length; b++)
            {
                var kept = hits[b].Where(h => catalogIndex.ContainsKey(h.Id)).ToArray();
                if (kept.Length != N) continue;
                float[] system = reranker is null ? [] : PreferenceLosses.GroupAdvantages(reranker.Ranker.Score(records[b], kept, reranker.Features.Extract(records[b], kept)), N);
                var items = kept.Select(h => catalogIndex[h.Id]).ToArray();
                int fromLog = 0;
                if (options.LoggedCandidates > 0)
                {
                    int query = batchQueries[b];
                    (items, fromLog) = WithLogged(items, logged.GetValueOrDefault(query) ?? [], options.LoggedCandidates, i => feedback.ContainsKey((query, i)));
                }
                groups.Add((batchQueries[b], items, system, fromLog));
            }
            if (groups.Count == 0)
                throw new InvalidDataException($"the beam returned fewer than group_size = {N} candidates for every query of a batch; lower group_size (the catalog has {data.ItemIds.Length:N0} items)");
            int G = groups.Count;
            var rowQ = groups.SelectMany(g => Enumerable.Repeat(g.Query, N)).ToArray();
            var rowI = groups.SelectMany(g => g.Items).ToArray();
            var rewards = new float[G * N];
            var known = new bool[G * N];
            for (int r = 0; r < rewards.Length; r++)
                if (feedback.TryGetValue((rowQ[r], rowI[r]), out float f)) { rewards[r] = options.FeedbackWeight * f; known[r] = true; }
            float[] advantages;
            if (reranker is null)
                advantages = options.Unjudged == "negative" ? PreferenceLosses.GroupAdvantages(rewards, N) : PreferenceLosses.GroupAdvantages(rewards, N, known);
            else
            {
                // R = g1 z(ranker) + g2 feedback; with unjudged "unknown", a candidate without feedback takes its
                // group's mean feedback, so only the ranker tells it from the others.
                for (int g = 0; g < G; g++)
                {
                    var span = rewards.AsSpan(g * N, N);
                    int count = 0; float sum = 0;
                    for (int i = 0; i < N; i++) if (known[g * N + i]) { sum += span[i]; count++; }
                    float mean = count == 0 ? 0 : sum / count;
                    for (int i = 0; i < N; i++)
                    {
                        if (!known[g * N + i] && options.Unjudged == "unknown") span[i] = mean;
                        span[i] += options.SystemWeight * groups[g].System[i];
                    }
                }
                advantages = PreferenceLosses.GroupAdvantages(rewards, N);
            }
            var policyScores = Scores(model, rowQ, rowI).Reshape(G, N).Scale(1f / options.Temperature);
            var tempered = ReferenceScores(rowQ, rowI).Select(x => x / options.Temperature).ToArray();
            // The logged candidates (each group's last places) with a positive advantage are also pulled up by their log-likelihood:
            // off the beam, their pi is near 0 and the expected-advantage gradient, pi (A - mean), hardly moves them.
            float[]? pulled = null;
            if (options.LoggedCandidates > 0)
            {
                pulled = new float[G * N];
                for (int g = 0; g < G; g++)
                    for (int i = N - groups[g].Logged; i < N; i++) pulled[g * N + i] = Math.Max(advantages[g * N + i], 0f);
            }
            parts.Add("policy", PreferenceLosses.GroupPolicyGradient(policyScores, advantages, tempered, options.KlWeight, pulled));
            // The reward of the item the policy ranks first among the candidates (a figure to watch, not a loss).
            float top = 0;
            for (int g = 0; g < G; g++) top += rewards[g * N]; // hits come best first, and logged candidates never displace the first
            parts.Record("reward_at_1", top / G);
            if (options.LoggedCandidates > 0) parts.Record("logged", (float)groups.Average(g => g.Logged)); // logged candidates a group
            return parts;
        }, cancel);
        if (cancel.IsCancellationRequested) return loss;

        note?.Invoke("encoding the catalog");
        var training = baseConfig.Training?.DeepClone().AsObject() ?? new JsonObject();
        training["spo"] = ModelKinds.ToJson(options);
        UnifiedTraining.WriteModel(dir, model, itemRows, data.ItemIds, null, baseConfig with { Training = training });
        File.Delete(dir.CheckpointPath);
        return loss;
    }

    /// <summary>
    /// Feedback per (judged query, catalog item): grade / max grade for judged items, plus the weighted
    /// signals of logged events whose query text is the judged query's.
    /// </summary>
    /// <remarks>A signal the settings weigh beyond the defaults that the log never holds (a typo, "purchse") is noted.</remarks>
    internal static Dictionary<(int Query, int Item), float> Feedback(BeirDataset set, TrainingData data, Dictionary<string, int> catalogIndex, SpoTrainingOptions options,
        Action<string>? note = null)
    {
        var result = new Dictionary<(int, int), float>();
        float max = Math.Max(1, data.MaxGrade);
        for (int q = 0; q < data.Judgments.Length; q++)
            foreach (var (item, grade) in data.Judgments[q])
                if (grade > 0) result[(q, item)] = grade / max;
        if (!File.Exists(set.InteractionsPath)) return result;
        var byText = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int q = 0; q < data.QueryTexts.Length; q++) byText.TryAdd(data.QueryTexts[q], q);
        var unweighted = new SortedSet<string>(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        bool anyWeighted = false;
        foreach (var e in InteractionReader.Read(set.InteractionsPath))
        {
            double value = 0;
            foreach (var (signal, amount) in e.Signals)
                if (options.SignalWeights.TryGetValue(signal, out float weight)) { value += weight * amount; anyWeighted = true; seen.Add(signal); }
                else unweighted.Add(signal);
            if (e.Item is null || !byText.TryGetValue(e.Query, out int q) || !catalogIndex.TryGetValue(e.Item, out int item)) continue;
            if (value == 0) continue;
            double total = (result.TryGetValue((q, item), out float old) ? old : 0f) + value;
            // A finite but huge signal (1e38 x a weight of 4) would overflow the reward to infinity and the loss to NaN.
            if (!float.IsFinite((float)total))
                throw new InvalidDataException($"{set.InteractionsPath}: the weighted signals of query '{e.Query}' on item '{e.Item}' add up to {total:G3}, beyond what a reward can hold; check the signal values");
            result[(q, item)] = (float)total;
        }
        var defaults = new SpoTrainingOptions().SignalWeights;
        foreach (var signal in options.SignalWeights.Keys.Where(k => !defaults.ContainsKey(k) && !seen.Contains(k)).Order(StringComparer.Ordinal))
            note?.Invoke($"signal_weights.{signal}: no event in {set.InteractionsPath} has this signal (logged: {string.Join(", ", seen.Concat(unweighted).Distinct().Order(StringComparer.Ordinal))})");
        // A log whose signals all miss signal_weights (a "clicks" for "click") would add no feedback at all, silently.
        if (!anyWeighted && unweighted.Count > 0)
            throw new InvalidDataException($"{set.InteractionsPath}: no logged signal has a weight in signal_weights (logged: {string.Join(", ", unweighted)}; " +
                                           $"weighted: {string.Join(", ", options.SignalWeights.Keys.Order(StringComparer.Ordinal))}); name the log's signals in signal_weights");
        return result;
    }

    /// <summary>
    /// The group of <paramref name="beam"/>'s items with up to <paramref name="most"/> of <paramref name="logged"/> (best
    /// first) that it lacks in its last places: the beam's order kept, its lowest-ranked items without feedback given up
    /// (<paramref name="hasFeedback"/>; a beam item with feedback stays, and so does the beam's best). Also returns how
    /// many logged items came in.
    /// </summary>
    internal static (int[] Items, int Logged) WithLogged(int[] beam, int[] logged, int most, Func<int, bool> hasFeedback)
    {
        // The beam's best always stays: it is what the policy would show first.
        var droppable = beam.Skip(1).Where(i => !hasFeedback(i)).ToArray();
        var missing = logged.Where(i => Array.IndexOf(beam, i) < 0).Take(Math.Min(most, droppable.Length)).ToArray();
        var dropped = new HashSet<int>(droppable.Reverse().Take(missing.Length));
        return ([.. beam.Where(i => !dropped.Contains(i)), .. missing], missing.Length);
    }

    /// <summary>Logged preference pairs: for each judged query, every (better, worse) pair of its judged items whose grades differ.</summary>
    internal static (int Query, int Better, int Worse)[] DpoPairs(TrainingData data)
    {
        var pairs = new List<(int, int, int)>();
        for (int q = 0; q < data.Judgments.Length; q++)
            foreach (var (better, high) in data.Judgments[q])
                foreach (var (worse, low) in data.Judgments[q])
                    if (high > low) pairs.Add((q, better, worse));
        return [.. pairs];
    }
}
