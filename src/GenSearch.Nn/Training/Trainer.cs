using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Serialization;
using GenSearch.Tensors;

namespace GenSearch.Nn;

/// <summary>Settings of a <see cref="Trainer"/> run.</summary>
public sealed record TrainerOptions
{
    /// <summary>Examples per step.</summary>
    public int BatchSize { get; init; } = 256;
    /// <summary>Passes over the examples.</summary>
    public int Epochs { get; init; } = 1;
    /// <summary>Peak learning rate (after warm-up).</summary>
    public float LearningRate { get; init; } = 1e-3f;
    /// <summary>Steps of linear warm-up.</summary>
    public int WarmupSteps { get; init; } = 100;
    /// <summary>Learning rate at the end of the cosine decay.</summary>
    public float MinLearningRate { get; init; } = 1e-5f;
    /// <summary>AdamW decoupled weight decay.</summary>
    public float WeightDecay { get; init; } = 0.01f;
    /// <summary>Global gradient-norm limit (0 = off).</summary>
    public float ClipNorm { get; init; } = 1f;
    /// <summary>
    /// Seed of the example order. Not part of a model's saved settings: each model kind has one seed,
    /// and its training sets this from it (a second seed here would silently win or lose).
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public ulong Seed { get; init; } = 1;
    /// <summary>Write a checkpoint every this many steps (0 = only at the end).</summary>
    public int CheckpointEvery { get; init; } = 200;
    /// <summary>Where the checkpoint goes; null = no checkpoints, no resume.</summary>
    public string? CheckpointPath { get; init; }
    /// <summary>
    /// The training log (see <see cref="TrainingLog"/>); null (default) = <see cref="LogFileName"/> beside the
    /// checkpoint, or no log when there is no checkpoint either.
    /// </summary>
    public string? LogPath { get; init; }
    /// <summary>
    /// Parameter groups with their own learning-rate multiplier, weight decay and sparse updates (see
    /// <see cref="ParameterGroup"/>); parameters no group matches are in the default group, which trains with
    /// <see cref="LearningRate"/> and <see cref="WeightDecay"/>. Default none: every parameter in the default group.
    /// Groups hold predicates, so they are set in code and left out of JSON settings files.
    /// </summary>
    [JsonIgnore]
    public IReadOnlyList<ParameterGroup> Groups { get; init; } = [];
    /// <summary>Steps the returned final loss averages over (read back from the log after a resume). Default 50.</summary>
    public int FinalLossSteps { get; init; } = 50;

    /// <summary>The log's file name when it goes beside the checkpoint.</summary>
    public const string LogFileName = "training-log.tsv";

    /// <summary>Where the training log goes: <see cref="LogPath"/>, else beside the checkpoint, else nowhere (null).</summary>
    public string? LogFile() => LogPath ?? (CheckpointPath is null ? null : Path.Combine(Path.GetDirectoryName(Path.GetFullPath(CheckpointPath))!, LogFileName));
}

/// <summary>What a training step reports to the progress callback.</summary>
/// <param name="Step">Steps done (1-based).</param>
/// <param name="TotalSteps">Steps of the whole run.</param>
/// <param name="Epoch">0-based epoch of the step.</param>
/// <param name="Loss">The step's total loss.</param>
/// <param name="LearningRate">The schedule's learning rate (before group multipliers).</param>
/// <param name="ExamplesPerSecond">Throughput since this process started training.</param>
/// <param name="Remaining">Estimated time to the end.</param>
public sealed record TrainerProgress(long Step, long TotalSteps, int Epoch, float Loss, float LearningRate, double ExamplesPerSecond, TimeSpan Remaining)
{
    /// <summary>The step's named loss parts (empty for a closure that returns a bare tensor).</summary>
    public IReadOnlyList<LossPart> Parts { get; init; } = [];
}

/// <summary>
/// The training loop every GenSearch model uses: seeded shuffling per epoch, warm-up plus cosine
/// learning rate, gradient clipping, AdamW, and periodic checkpoints from which a killed run resumes
/// exactly (weights, optimizer moments, position in the data, and the model's dropout generators).
/// The epoch order is regenerated from (seed, epoch), so only a position needs saving.
/// Parameters may be split into groups with their own learning rates, weight decay and sparse updates
/// (<see cref="TrainerOptions.Groups"/>); the loss may come in named parts (<see cref="TrainingLoss"/>), which
/// are reported per step and written to the training log, a TSV beside the checkpoint that a resumed run
/// continues from its step.
/// </summary>
public sealed class Trainer(Module model, TrainerOptions options, IReadOnlyList<Rng>? modelGenerators = null)
{
    private readonly IReadOnlyList<Rng> _generators = modelGenerators ?? [];

    /// <summary>Called after every step.</summary>
    public event Action<TrainerProgress>? Progress;

    /// <summary>Called after each checkpoint is written, with its step.</summary>
    public event Action<long>? Checkpointed;

    /// <summary>
    /// Called with the epoch before the first step of every epoch, and before the first step a resumed
    /// run takes (mid-epoch): where per-epoch data, such as negatives mined with the model, is made or
    /// reloaded. The model is in training mode when called and must be left so.
    /// </summary>
    public event Action<int>? EpochStarting;

    /// <summary>Called with a line for the user, such as "resuming from step N of M".</summary>
    public event Action<string>? Note;

    /// <summary>
    /// Called before a checkpoint is written with its metadata, to which state outside the parameters (counters,
    /// generators of the loss) may be added; keys are free but for the trainer's own ("generators" and
    /// <see cref="Checkpoint"/>'s).
    /// </summary>
    public event Action<IDictionary<string, string>>? SavingState;

    /// <summary>Called on resume, after the weights are loaded, with the checkpoint's metadata (what <see cref="SavingState"/> added).</summary>
    public event Action<IReadOnlyDictionary<string, string>>? RestoringState;

    /// <summary>
    /// The example order of an epoch, (count, epoch) -> a permutation of 0..count-1, in place of the seeded
    /// per-epoch shuffle of <see cref="EpochOrder"/>; it must give the same order for the same epoch on every run.
    /// </summary>
    public Func<int, int, int[]>? CustomOrder { get; init; }

    /// <summary>The step the last run resumed from (0 when it started fresh).</summary>
    public long ResumedFromStep { get; private set; }

    /// <summary>Mean of each loss part over the steps the returned final loss averages (same window, same order).</summary>
    public IReadOnlyList<LossPart> FinalParts { get; private set; } = [];

    /// <summary>The optimizer, with <see cref="TrainerOptions.Groups"/>.</summary>
    public AdamW Optimizer { get; } = new(model.NamedParameters(), new AdamWOptions { LearningRate = options.LearningRate, WeightDecay = options.WeightDecay }, options.Groups);

    /// <summary>
    /// Trains over <paramref name="exampleCount"/> examples; <paramref name="loss"/> builds the loss of
    /// one batch of example indices. Resumes from <see cref="TrainerOptions.CheckpointPath"/> when it
    /// exists. Returns the mean loss of the last <see cref="TrainerOptions.FinalLossSteps"/> steps.
    /// <paramref name="cancel"/> stops cleanly after a step, with a checkpoint.
    /// </summary>
    public float Run(int exampleCount, Func<int[], Tensor> loss, CancellationToken cancel = default)
        => Run(exampleCount, batch => new TrainingLoss(loss(batch)), cancel);

    /// <summary>
    /// Trains over <paramref name="exampleCount"/> examples; <paramref name="loss"/> builds the loss of one batch of
    /// example indices, with named parts that go to <see cref="Progress"/> and the training log. Resumes from
    /// <see cref="TrainerOptions.CheckpointPath"/> when it exists (announced through <see cref="Note"/>), cutting
    /// the log back to the checkpoint's step. Returns the mean total loss of the last
    /// <see cref="TrainerOptions.FinalLossSteps"/> steps of the whole run, read back from the log for the steps
    /// before a resume, so the figure matches an uninterrupted run's; <see cref="FinalParts"/> holds the parts'
    /// means over the same steps. <paramref name="cancel"/> stops cleanly after a step, with a checkpoint.
    /// </summary>
    public float Run(int exampleCount, Func<int[], TrainingLoss> loss, CancellationToken cancel = default)
    {
        if (exampleCount <= 0) throw new ArgumentException("no training examples");
        int stepsPerEpoch = (exampleCount + options.BatchSize - 1) / options.BatchSize;
        long totalSteps = (long)stepsPerEpoch * options.Epochs;
        var schedule = new WarmupCosineSchedule(options.LearningRate, options.WarmupSteps, (int)Math.Min(int.MaxValue, totalSteps), options.MinLearningRate);
        long step = 0;
        if (options.CheckpointPath is not null && File.Exists(options.CheckpointPath))
        {
            step = Resume(options.CheckpointPath);
            Note?.Invoke($"resuming from step {step} of {totalSteps}");
        }
        ResumedFromStep = step;

        var recent = new Queue<(float Total, IReadOnlyList<LossPart> Parts)>();
        void Remember(float total, IReadOnlyList<LossPart> parts)
        {
            recent.Enqueue((total, parts));
            if (recent.Count > Math.Max(1, options.FinalLossSteps)) recent.Dequeue();
        }
        TrainingLog? log = null;
        if (options.LogFile() is { } logPath)
        {
            (log, var kept) = TrainingLog.Open(logPath, step);
            foreach (var row in kept) Remember(row.Total, row.Parts);
        }

        try
        {
            model.Train();
            var clock = Stopwatch.StartNew();
            long startStep = step;
            int startedEpoch = -1;
            int[] order = [];
            while (step < totalSteps && !cancel.IsCancellationRequested)
            {
                int epoch = (int)(step / stepsPerEpoch), offset = (int)(step % stepsPerEpoch) * options.BatchSize;
                if (epoch != startedEpoch)
                {
                    EpochStarting?.Invoke(epoch);
                    startedEpoch = epoch;
                    order = CustomOrder?.Invoke(exampleCount, epoch) ?? EpochOrder(exampleCount, epoch);
                    if (order.Length != exampleCount) throw new InvalidOperationException($"the custom order of epoch {epoch} has {order.Length} examples, not {exampleCount}");
                }
                var batch = order[offset..Math.Min(exampleCount, offset + options.BatchSize)];
                Optimizer.LearningRate = schedule.At(step);
                Optimizer.ZeroGrad();
                var value = loss(batch);
                float lossValue = value.Total.Item();
                if (!float.IsFinite(lossValue)) throw new InvalidOperationException($"loss became {lossValue} at step {step}; lower the learning rate or check the data");
                value.Total.Backward();
                if (options.ClipNorm > 0) AdamW.ClipGradNorm(model.Parameters(), options.ClipNorm);
                Optimizer.StepOnce();
                step++;

                var parts = value.Parts.ToArray();
                Remember(lossValue, parts);
                double seconds = clock.Elapsed.TotalSeconds;
                double perStep = seconds / (step - startStep);
                double examplesPerSecond = batch.Length / Math.Max(1e-9, perStep);
                log?.Append(step, epoch, Optimizer.LearningRate, lossValue, parts, examplesPerSecond);
                Progress?.Invoke(new TrainerProgress(step, totalSteps, epoch, lossValue, Optimizer.LearningRate,
                    examplesPerSecond, TimeSpan.FromSeconds(perStep * (totalSteps - step))) { Parts = parts });
                if (options.CheckpointPath is not null && options.CheckpointEvery > 0 && step % options.CheckpointEvery == 0 && step < totalSteps)
                    Save(options.CheckpointPath, step);
            }
            if (options.CheckpointPath is not null && step > startStep) Save(options.CheckpointPath, step);
        }
        finally
        {
            log?.Dispose();
        }
        model.Eval();
        FinalParts = recent.SelectMany(r => r.Parts).Where(p => !float.IsNaN(p.Value)).GroupBy(p => p.Name)
            .Select(g => new LossPart(g.Key, g.Select(p => p.Value).Average())).ToArray();
        return recent.Count == 0 ? float.NaN : recent.Select(r => r.Total).Average();
    }

    /// <summary>The example order of <paramref name="epoch"/>: a seeded shuffle, the same on every run.</summary>
    public int[] EpochOrder(int count, int epoch)
    {
        var order = Enumerable.Range(0, count).ToArray();
        new Rng(options.Seed * 0x9E3779B97F4A7C15UL + (ulong)epoch).Shuffle(order.AsSpan());
        return order;
    }

    private void Save(string path, long step)
    {
        var extra = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["generators"] = string.Join(";", _generators.Select(g => string.Join(",", g.State.Select(w => w.ToString(CultureInfo.InvariantCulture))))),
        };
        SavingState?.Invoke(extra);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        Checkpoint.SaveTraining(path, model, Optimizer, new TrainingState(step, step * options.BatchSize, [0, 0, 0, 0], extra));
        Checkpointed?.Invoke(step);
    }

    private long Resume(string path)
    {
        var state = Checkpoint.LoadTraining(path, model, Optimizer);
        if (state.Extra.TryGetValue("generators", out var text) && text.Length > 0)
        {
            var states = text.Split(';');
            if (states.Length != _generators.Count)
                throw new InvalidDataException($"{path}: holds {states.Length} generator states, the model has {_generators.Count}");
            for (int i = 0; i < states.Length; i++)
                _generators[i].State = states[i].Split(',').Select(w => ulong.Parse(w, CultureInfo.InvariantCulture)).ToArray();
        }
        if (state.Step < 0) throw new InvalidDataException($"{path}: negative step {state.Step}");
        RestoringState?.Invoke(state.Extra);
        return state.Step;
    }
}
