using System.Text.Json;
using System.Text.Json.Nodes;
using GenSearch.Data;
using GenSearch.Nn;
using GenSearch.Serving;

namespace GenSearch.Training;

/// <summary>What every training run is given besides its settings.</summary>
/// <param name="Data">The BEIR data set (catalog, queries, the train split's judgments).</param>
/// <param name="OutDir">The model directory to write; an unfinished run there is resumed.</param>
/// <param name="From">The trained model this kind builds on (<see cref="IModelKind.BuildsOn"/>), when it needs one.</param>
/// <param name="Note">Progress messages.</param>
/// <param name="Progress">Called after every step.</param>
/// <param name="Cancel">Stops after the current step, with a checkpoint.</param>
/// <param name="Restart">Discard an unfinished run with other data or settings (and replace a finished model in <paramref name="OutDir"/>) instead of refusing.</param>
public sealed record TrainingRequest(BeirDataset Data, string OutDir, string? From = null, Action<string>? Note = null,
    Action<TrainerProgress>? Progress = null, CancellationToken Cancel = default, bool Restart = false);

/// <summary>
/// One kind of model as training sees it: its name (also the kind its model directory records, so
/// <see cref="ModelFormats"/> opens what it writes), its settings record with documented defaults and
/// one seed, and how to train it. Registered in <see cref="ModelKinds"/>.
/// </summary>
public interface IModelKind
{
    /// <summary>The name <c>gensearch train --model</c> takes and config.json records.</summary>
    string Name { get; }
    /// <summary>One line for help texts.</summary>
    string Description { get; }
    /// <summary>What <see cref="TrainingRequest.From"/> must be, when this kind builds on another model; null when it needs none.</summary>
    string? BuildsOn { get; }
    /// <summary>
    /// Whether a run with <paramref name="settings"/> needs <see cref="TrainingRequest.From"/>: every kind with
    /// <see cref="BuildsOn"/> does, except a ranker that reads nothing from a model (BM25's candidates with the model features dropped).
    /// </summary>
    bool NeedsFrom(object settings);
    /// <summary>The settings record's defaults.</summary>
    object Defaults { get; }
    /// <summary>
    /// The defaults with <paramref name="overrides"/> laid over them (snake_case keys as in config.json's
    /// "training"; only the keys given change; an unknown key is an error naming <paramref name="source"/>).
    /// </summary>
    object Settings(JsonObject? overrides, string source);
    /// <summary>The settings' training-loop part (epochs, batch size, learning rate, ...).</summary>
    TrainerOptions TrainerOf(object settings);
    /// <summary>
    /// Trains with <paramref name="settings"/> (from <see cref="Settings"/>) in the staging directory of
    /// <see cref="TrainingRun"/>, resuming an unfinished run with the same fingerprint, and moves the
    /// complete model to the output directory. Returns the final mean loss; NaN when the output already
    /// held this model or the run was cancelled before a step.
    /// </summary>
    float Train(TrainingRequest request, object settings);
}

/// <summary>An <see cref="IModelKind"/> from a typed settings record and its training function.</summary>
/// <remarks><paramref name="needsFrom"/>: when a kind that builds on a model can do without it (null: never).</remarks>
public sealed class ModelKind<TSettings>(string name, string description, string? buildsOn, TSettings defaults,
    Func<TSettings, TrainerOptions> trainer, Func<TSettings, IEnumerable<string>> problems, Func<TrainingRequest, TSettings, float> train,
    Func<TSettings, bool>? needsFrom = null)
    : IModelKind where TSettings : class
{
    /// <inheritdoc/>
    public string Name => name;
    /// <inheritdoc/>
    public string Description => description;
    /// <inheritdoc/>
    public string? BuildsOn => buildsOn;
    /// <inheritdoc/>
    public bool NeedsFrom(object settings) => buildsOn is not null && (needsFrom?.Invoke((TSettings)settings) ?? true);
    /// <inheritdoc/>
    public object Defaults => defaults;
    /// <inheritdoc/>
    public object Settings(JsonObject? overrides, string source)
    {
        var settings = overrides is null ? defaults : TrainingOptionsFile.Apply(defaults, overrides, source);
        var found = problems(settings).ToList();
        if (found.Count > 0) throw new InvalidDataException($"{source}: {string.Join("; ", found)}");
        return settings;
    }
    /// <inheritdoc/>
    public TrainerOptions TrainerOf(object settings) => trainer((TSettings)settings);
    /// <inheritdoc/>
    public float Train(TrainingRequest request, object settings)
    {
        if (request.From is null && NeedsFrom(settings)) throw new ArgumentException($"a {name} model needs --from DIR: {buildsOn}");
        if (request.From is not null) ModelFormats.CheckRetrievalModel("--from", request.From, $"a {name} model builds on {buildsOn}");
        var typed = (TSettings)settings;
        var settingsJson = ModelKinds.ToJson(typed);
        // How often checkpoints are written changes nothing a run computes (resume is exact), so a rerun may change it.
        (settingsJson["trainer"] as JsonObject)?.Remove("checkpoint_every");
        var fingerprint = TrainingRun.Fingerprint(name, request.Data, settingsJson, request.From);
        using var held = TrainingRun.Lock(request.OutDir);
        bool fresh = !Directory.Exists(TrainingRun.StagingPath(request.OutDir));
        var staging = TrainingRun.Begin(request.OutDir, fingerprint, request.Restart, request.Note);
        if (staging is null) return float.NaN;
        request.Note?.Invoke($"training in {staging.Path} (moved to {request.OutDir} when complete)");
        float loss;
        try { loss = train(request with { OutDir = staging.Path }, typed); }
        catch when (fresh && !File.Exists(staging.CheckpointPath))
        {
            // Bad data found before the first checkpoint: leave nothing behind (no half-written features file).
            Directory.Delete(staging.Path, recursive: true);
            throw;
        }
        if (request.Cancel.IsCancellationRequested) return loss;
        TrainingRun.Commit(staging, request.OutDir);
        return loss;
    }
}

/// <summary>
/// The registry of trainable model kinds (as <c>QuantizerMethods</c> is for quantizers): the CLI's
/// <c>train --model</c> offers exactly these, and each writes a directory that <see cref="ModelFormats"/> opens.
/// </summary>
public static class ModelKinds
{
    private static readonly Dictionary<string, IModelKind> s_kinds = new(StringComparer.Ordinal);

    static ModelKinds()
    {
        Register(new ModelKind<NgramTowerTrainingOptions>(NgramTowerFormat.Name,
            "two towers of n-gram bags (words, word pairs, character trigrams), in-batch softmax + listwise loss: dense retrieval",
            null, new NgramTowerTrainingOptions(), o => o.Trainer, SettingsChecks.NgramTowers,
            (r, o) => NgramTowerTraining.Run(r.Data, r.OutDir, o, r.Note, r.Progress, r.Cancel)));
        Register(new ModelKind<TwoTowerTrainingOptions>(TransformerTowerFormat.Name,
            "two subword-transformer towers with BM25 and model-mined hard negatives: dense retrieval",
            null, new TwoTowerTrainingOptions(), o => o.Trainer, SettingsChecks.TransformerTowers,
            (r, o) => TwoTowerTraining.Run(r.Data, r.OutDir, o, r.Note, r.Progress, r.Cancel)));
        Register(new ModelKind<TwoStageTrainingOptions>(TwoStageFormat.Name,
            "TIGER-style: semantic IDs quantized from a two-tower model's item vectors, then a generator trained to write them",
            "a trained two-tower model whose item vectors become semantic IDs", new TwoStageTrainingOptions(), o => o.Trainer, SettingsChecks.TwoStage,
            (r, o) => TwoStageTraining.Run(r.Data, r.From!, r.OutDir, o, r.Note, r.Progress, r.Cancel)));
        Register(new ModelKind<UnifiedTrainingOptions>(UnifiedFormat.Name,
            "UniSearch: item encoder, SimVQ semantic IDs and search generator trained jointly (contrastive + VQ + next-token): generative and dense retrieval",
            null, new UnifiedTrainingOptions(), o => o.Trainer, SettingsChecks.Unified,
            (r, o) => UnifiedTraining.Run(r.Data, r.OutDir, o, r.Note, r.Progress, r.Cancel)));
        Register(new ModelKind<SpoTrainingOptions>("spo",
            "Search Preference Optimization of a unified model: its beam's candidates, rewards from feedback (judgments as the proxy), policy gradient with a KL penalty, or DPO on logged pairs; writes a unified model",
            "a trained unified model to align", new SpoTrainingOptions(), o => o.Trainer, SettingsChecks.Spo,
            (r, o) => SpoTraining.Run(r.Data, r.From!, r.OutDir, o, r.Note, r.Progress, r.Cancel)));
        Register(new ModelKind<SidCoordTrainingOptions>(Serving.Ranking.SidCoordFormat.Name,
            "SID-Coord ranker: hashed item ID and attention-fused semantic IDs under a target-aware gate, match features through an MLP, listwise loss; reranks with eval --rerank",
            "the n-gram two-tower or unified model whose similarity (and generator log-probability) are features and which retrieves the candidates (IDs from sid_model, or from it when unified); " +
            "none for \"retriever\": \"bm25\" with the model features in drop_features and sid_model given",
            new SidCoordTrainingOptions(), o => o.Trainer, SettingsChecks.SidCoord,
            (r, o) => SidCoordTraining.Run(r.Data, r.From, r.OutDir, o, r.Note, r.Progress, r.Cancel),
            SidCoordTraining.NeedsFrom));
        Register(new ModelKind<LambdaMartTrainingOptions>(Serving.Ranking.LambdaMartFormat.Name,
            "LambdaMART ranker (LightGBM through ML.NET) on the match features: the reranking baseline",
            "the n-gram two-tower or unified model whose similarity (and generator log-probability) are features and which retrieves the candidates; " +
            "none for \"retriever\": \"bm25\" with the model features in drop_features",
            new LambdaMartTrainingOptions(), o => new TrainerOptions { Epochs = o.Trees, BatchSize = 1, LearningRate = (float)o.LearningRate }, SettingsChecks.LambdaMart,
            (r, o) => LambdaMartTraining.Run(r.Data, r.From, r.OutDir, o, r.Note),
            LambdaMartTraining.NeedsFrom));
    }

    /// <summary>The registered kinds, sorted by name.</summary>
    public static IReadOnlyList<IModelKind> All { get { lock (s_kinds) return [.. s_kinds.Values.OrderBy(k => k.Name, StringComparer.Ordinal)]; } }

    /// <summary>Adds (or replaces) a kind.</summary>
    public static void Register(IModelKind kind)
    {
        lock (s_kinds) s_kinds[kind.Name] = kind;
    }

    /// <summary>The kind called <paramref name="name"/>, or an error that lists the known ones.</summary>
    public static IModelKind Get(string name)
    {
        lock (s_kinds)
            return s_kinds.TryGetValue(name, out var kind) ? kind
                : throw new ArgumentException($"unknown model kind '{name}' (known: {string.Join(", ", s_kinds.Keys.Order(StringComparer.Ordinal))})");
    }

    /// <summary>Settings as the "training" section of config.json records them (snake_case, every key).</summary>
    public static JsonObject ToJson<T>(T settings) => JsonSerializer.SerializeToNode(settings, ModelDirectory.Json)!.AsObject();
}
