using System.Diagnostics;
using System.Globalization;
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
}

/// <summary>What a training step reports to the progress callback.</summary>
public sealed record TrainerProgress(long Step, long TotalSteps, int Epoch, float Loss, float LearningRate, double ExamplesPerSecond, TimeSpan Remaining);

/// <summary>
/// The training loop every GenSearch model uses: seeded shuffling per epoch, warm-up plus cosine
/// learning rate, gradient clipping, AdamW, and periodic checkpoints from which a killed run resumes
/// exactly (weights, optimizer moments, position in the data, and the model's dropout generators).
/// The epoch order is regenerated from (seed, epoch), so only a position needs saving.
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

    /// <summary>The optimizer (created on first use).</summary>
    public AdamW Optimizer { get; } = new(model.NamedParameters(), new AdamWOptions { LearningRate = options.LearningRate, WeightDecay = options.WeightDecay });

    /// <summary>
    /// Trains over <paramref name="exampleCount"/> examples; <paramref name="loss"/> builds the loss of
    /// one batch of example indices. Resumes from <see cref="TrainerOptions.CheckpointPath"/> when it
    /// exists. Returns the mean loss of the last 50 steps. <paramref name="cancel"/> stops cleanly
    /// after a step, with a checkpoint.
    /// </summary>
    public float Run(int exampleCount, Func<int[], Tensor> loss, CancellationToken cancel = default)
    {
        if (exampleCount <= 0) throw new ArgumentException("no training examples");
        int stepsPerEpoch = (exampleCount + options.BatchSize - 1) / options.BatchSize;
        long totalSteps = (long)stepsPerEpoch * options.Epochs;
        var schedule = new WarmupCosineSchedule(options.LearningRate, options.WarmupSteps, (int)Math.Min(int.MaxValue, totalSteps), options.MinLearningRate);
        long step = 0;
        if (options.CheckpointPath is not null && File.Exists(options.CheckpointPath)) step = Resume(options.CheckpointPath, exampleCount);

        model.Train();
        var recent = new Queue<float>();
        var clock = Stopwatch.StartNew();
        long startStep = step;
        int startedEpoch = -1;
        while (step < totalSteps && !cancel.IsCancellationRequested)
        {
            int epoch = (int)(step / stepsPerEpoch), offset = (int)(step % stepsPerEpoch) * options.BatchSize;
            if (epoch != startedEpoch)
            {
                EpochStarting?.Invoke(epoch);
                startedEpoch = epoch;
            }
            var order = EpochOrder(exampleCount, epoch);
            var batch = order[offset..Math.Min(exampleCount, offset + options.BatchSize)];
            Optimizer.LearningRate = schedule.At(step);
            Optimizer.ZeroGrad();
            var value = loss(batch);
            float lossValue = value.Item();
            if (!float.IsFinite(lossValue)) throw new InvalidOperationException($"loss became {lossValue} at step {step}; lower the learning rate or check the data");
            value.Backward();
            if (options.ClipNorm > 0) AdamW.ClipGradNorm(model.Parameters(), options.ClipNorm);
            Optimizer.StepOnce();
            step++;

            recent.Enqueue(lossValue);
            if (recent.Count > 50) recent.Dequeue();
            double seconds = clock.Elapsed.TotalSeconds;
            double perStep = seconds / (step - startStep);
            Progress?.Invoke(new TrainerProgress(step, totalSteps, epoch, lossValue, Optimizer.LearningRate,
                batch.Length / Math.Max(1e-9, perStep), TimeSpan.FromSeconds(perStep * (totalSteps - step))));
            if (options.CheckpointPath is not null && options.CheckpointEvery > 0 && step % options.CheckpointEvery == 0 && step < totalSteps)
                Save(options.CheckpointPath, step);
        }
        if (options.CheckpointPath is not null && step > startStep) Save(options.CheckpointPath, step);
        model.Eval();
        return recent.Count == 0 ? float.NaN : recent.Average();
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
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        Checkpoint.SaveTraining(path, model, Optimizer, new TrainingState(step, step * options.BatchSize, [0, 0, 0, 0], extra));
        Checkpointed?.Invoke(step);
    }

    private long Resume(string path, int exampleCount)
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
        return state.Step;
    }
}
