using GenSearch.Tensors;

namespace GenSearch.Nn.Tests;

public class TrainerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("gensearch-trainer").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (EncoderDecoder Model, Rng Dropout) Model()
    {
        var rng = new Rng(11);
        return (new EncoderDecoder(new EncoderDecoderConfig
        {
            SourceVocabulary = 12, TargetVocabulary = 12, Dim = 8, Heads = 2, EncoderLayers = 1, DecoderLayers = 1,
            FfnDim = 16, Dropout = 0.2f, MaxSourceLength = 4, MaxTargetLength = 4,
        }, rng), rng);
    }

    private static readonly int[][] Examples = Enumerable.Range(0, 40).Select(i => new[] { i % 12, (i * 5) % 12, (i * 7) % 12, (i + 3) % 12 }).ToArray();

    private static Func<int[], Tensor> Loss(EncoderDecoder model) => batch =>
    {
        var src = batch.SelectMany(i => Examples[i]).ToArray();
        return model.Loss(src, src, src, batch.Length);
    };

    private TrainerOptions Options(string? checkpoint) => new()
    {
        BatchSize = 8, Epochs = 3, LearningRate = 1e-2f, WarmupSteps = 2, CheckpointEvery = 4, CheckpointPath = checkpoint, Seed = 5,
    };

    [Fact]
    public void KilledRunResumesToTheSameWeights()
    {
        var (straight, straightRng) = Model();
        new Trainer(straight, Options(null), [straightRng]).Run(Examples.Length, Loss(straight));

        // Killed after step 7: the checkpoint of step 4 is on disk; a new process resumes from it.
        string path = Path.Combine(_dir, "run", "checkpoint.safetensors");
        var (first, firstRng) = Model();
        using var kill = new CancellationTokenSource();
        var trainer = new Trainer(first, Options(path) with { CheckpointEvery = 4 }, [firstRng]);
        long checkpointed = 0;
        trainer.Checkpointed += s => checkpointed = s;
        trainer.Progress += p => { if (p.Step == 7) throw new OperationCanceledException("killed"); };
        Assert.Throws<OperationCanceledException>(() => trainer.Run(Examples.Length, Loss(first)));
        Assert.Equal(4, checkpointed);

        var (resumed, resumedRng) = Model();
        long firstStep = -1;
        var again = new Trainer(resumed, Options(path), [resumedRng]);
        again.Progress += p => { if (firstStep < 0) firstStep = p.Step; };
        again.Run(Examples.Length, Loss(resumed));
        Assert.Equal(5, firstStep);
        foreach (var ((name, a), (_, b)) in straight.NamedParameters().Zip(resumed.NamedParameters()))
            Assert.True(a.Data.AsSpan().SequenceEqual(b.Data), $"{name} differs after resume");
    }

    [Fact]
    public void EpochStartingComesBeforeEachEpochAndAgainOnResume()
    {
        // 40 examples in batches of 8: five steps an epoch, three epochs.
        var (model, rng) = Model();
        var straight = new List<int>();
        var trainer = new Trainer(model, Options(null), [rng]);
        trainer.EpochStarting += straight.Add;
        trainer.Run(Examples.Length, Loss(model));
        Assert.Equal([0, 1, 2], straight);

        // Stopped after step 7 (inside epoch 1): the resumed run first hears of epoch 1, then 2.
        string path = Path.Combine(_dir, "epochs", "checkpoint.safetensors");
        var (first, firstRng) = Model();
        using var stop = new CancellationTokenSource();
        var stopped = new Trainer(first, Options(path), [firstRng]);
        stopped.Progress += p => { if (p.Step == 7) stop.Cancel(); };
        stopped.Run(Examples.Length, Loss(first), stop.Token);
        var (resumed, resumedRng) = Model();
        var again = new List<int>();
        var resumedTrainer = new Trainer(resumed, Options(path), [resumedRng]);
        resumedTrainer.EpochStarting += again.Add;
        resumedTrainer.Run(Examples.Length, Loss(resumed));
        Assert.Equal([1, 2], again);
    }

    [Fact]
    public void SameSeedSameRun()
    {
        var (a, ra) = Model(); var (b, rb) = Model();
        float la = new Trainer(a, Options(null), [ra]).Run(Examples.Length, Loss(a));
        float lb = new Trainer(b, Options(null), [rb]).Run(Examples.Length, Loss(b));
        Assert.Equal(la, lb);
        var order = new Trainer(a, Options(null) with { Seed = 6 }).EpochOrder(40, 0);
        Assert.NotEqual(new Trainer(a, Options(null)).EpochOrder(40, 0), order);
        Assert.Equal(Enumerable.Range(0, 40), order.Order());
    }

    [Fact]
    public void DivergenceStopsWithAClearMessage()
    {
        var (m, r) = Model();
        var error = Assert.Throws<InvalidOperationException>(() =>
            new Trainer(m, Options(null), [r]).Run(Examples.Length, _ => Tensor.Scalar(float.NaN)));
        Assert.Contains("loss became NaN at step 0", error.Message);
    }

    private static ulong Checksum(Module model)
    {
        ulong h = 14695981039346656037UL;                           // FNV-1a over the bits of every parameter value
        foreach (var (_, p) in model.NamedParameters())
            foreach (var f in p.Data) { h ^= BitConverter.SingleToUInt32Bits(f); h *= 1099511628211UL; }
        return h;
    }

    private static void AssertSameWeights(Module expected, Module actual, string what)
    {
        foreach (var ((name, a), (_, b)) in expected.NamedParameters().Zip(actual.NamedParameters()))
            Assert.True(a.Data.AsSpan().SequenceEqual(b.Data), $"{name} differs {what}");
    }

    [Fact]
    public void DefaultGroupIsTheSingleGroupPathBitForBit()
    {
        var (plain, plainRng) = Model();
        float plainLoss = new Trainer(plain, Options(null), [plainRng]).Run(Examples.Length, Loss(plain));
        var (grouped, groupedRng) = Model();
        var all = new ParameterGroup { Name = "all", Matches = _ => true, WeightDecay = Options(null).WeightDecay };
        var trainer = new Trainer(grouped, Options(null) with { Groups = [all] }, [groupedRng]);
        float groupedLoss = trainer.Run(Examples.Length, Loss(grouped));
        Assert.Empty(trainer.Optimizer.Groups[0].Parameters);
        Assert.Equal(grouped.NamedParameters().Count(), trainer.Optimizer.Groups[1].Parameters.Count);
        AssertSameWeights(plain, grouped, "between the default group and one explicit group");
        Assert.Equal(plainLoss, groupedLoss);
        // Recorded with the single-group trainer before parameter groups existed (commit 871b166); the SIMD
        // kernels make the bits hardware-dependent, so this pins x64 with AVX2, the machine the suite runs on.
        if (System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated)
        {
            Assert.Equal(0xDCAFD8F75FC19445UL, Checksum(plain));
            Assert.Equal(0x40168BDCu, BitConverter.SingleToUInt32Bits(plainLoss));
        }
    }

    [Fact]
    public void ZeroLearningRateScaleLeavesTheGroupUnchanged()
    {
        var (model, rng) = Model();
        var before = model.NamedParameters().ToDictionary(p => p.Name, p => (float[])p.Parameter.Data.Clone());
        var frozen = ParameterGroup.ByPrefix("frozen", "encoder.", "source_tokens.") with { LearningRateScale = 0f };
        var trainer = new Trainer(model, Options(null) with { Groups = [frozen] }, [rng]);
        trainer.Run(Examples.Length, Loss(model));
        Assert.Equal("frozen", trainer.Optimizer.Groups[1].Name);
        int frozenCount = 0, movedCount = 0;
        foreach (var (name, p) in model.NamedParameters())
        {
            bool same = p.Data.AsSpan().SequenceEqual(before[name]);
            if (name.StartsWith("encoder.", StringComparison.Ordinal) || name.StartsWith("source_tokens.", StringComparison.Ordinal))
            {
                Assert.True(same, $"{name} moved with a learning-rate multiplier of 0");
                frozenCount++;
            }
            else if (!same) movedCount++;
        }
        Assert.True(frozenCount > 4 && movedCount > 4, $"{frozenCount} frozen, {movedCount} moved");
    }

    /// <summary>Two [3, 2] parameters with the given gradients (null rows zero) in an optimizer with <paramref name="groups"/>.</summary>
    private static (Tensor A, Tensor B, AdamW Optimizer) TwoParameters(IReadOnlyList<ParameterGroup> groups, float[] gradA, float[] gradB, float weightDecay)
    {
        var a = new Tensor([1f, 2f, 3f, 4f, 5f, 6f], 3, 2) { RequiresGrad = true };
        var b = new Tensor([1f, 2f, 3f, 4f, 5f, 6f], 3, 2) { RequiresGrad = true };
        var optimizer = new AdamW([("a.weight", a), ("b.weight", b)], new AdamWOptions { LearningRate = 0.1f, WeightDecay = weightDecay }, groups);
        a.Grad = gradA;
        b.Grad = gradB;
        return (a, b, optimizer);
    }

    [Fact]
    public void WeightDecayIsPerGroup()
    {
        // Zero gradients: Adam's step is 0, so only the decay moves the values, p -= lr * decay * p.
        var (a, b, optimizer) = TwoParameters([ParameterGroup.ByPrefix("decayed", "a.") with { WeightDecay = 0.5f }], new float[6], new float[6], weightDecay: 0f);
        optimizer.StepOnce();
        Assert.Equal(new[] { 1f, 2f, 3f, 4f, 5f, 6f }.Select(v => v * (1f - 0.1f * 0.5f)), a.Data);
        Assert.Equal([1f, 2f, 3f, 4f, 5f, 6f], b.Data);
    }

    [Fact]
    public void SparseGroupUpdatesOnlyTheTouchedRows()
    {
        float[] Grad() => [0f, 0f, 0.5f, -1f, 0f, 0f];           // only row 1 has a gradient
        var (a, b, optimizer) = TwoParameters([ParameterGroup.ByPrefix("table", "a.") with { Sparse = true }], Grad(), Grad(), weightDecay: 0.1f);
        optimizer.StepOnce();
        Assert.Equal([1f, 2f], a.Data[..2]);                        // untouched rows: no step, no decay
        Assert.Equal([5f, 6f], a.Data[4..]);
        Assert.NotEqual(3f, a.Data[2]);
        Assert.NotEqual([1f, 2f], b.Data[..2]);                     // the dense default group decays every row
        var (moments, _) = optimizer.State();
        Assert.Equal([0f, 0f], moments["v.a.weight"].Data[..2]);
        Assert.Equal(a.Data[2..4], b.Data[2..4]);                   // the touched row moves as in a dense update
    }

    [Fact]
    public void GroupsThatMatchNothingOrOverlapAreErrors()
    {
        var (model, _) = Model();
        var none = Assert.Throws<ArgumentException>(() => new Trainer(model, Options(null) with { Groups = [ParameterGroup.ByPrefix("typo", "encodr.")] }));
        Assert.Contains("parameter group 'typo' matches no parameter", none.Message);
        var both = Assert.Throws<ArgumentException>(() => new Trainer(model, Options(null) with
        {
            Groups = [ParameterGroup.ByPrefix("encoder", "encoder."), ParameterGroup.ByPrefix("layer0", "encoder.0.")],
        }));
        Assert.Contains("is in two groups, 'encoder' and 'layer0'", both.Message);
        Assert.Throws<ArgumentException>(() => new Trainer(model, Options(null) with { Groups = [new ParameterGroup { Name = "default", Matches = _ => true }] }));
    }

    /// <summary>The model's loss plus a small L2 term on the output head, as two named parts.</summary>
    private static Func<int[], TrainingLoss> NamedLoss(EncoderDecoder model)
    {
        var head = model.NamedParameters().First(p => p.Name.StartsWith("head.", StringComparison.Ordinal)).Parameter;
        var plain = Loss(model);
        return batch => new TrainingLoss().Add("ntp", plain(batch)).Add("l2", head.Square().MeanAll(), 0.01f);
    }

    [Fact]
    public void NamedPartsAreReportedLoggedAndSumToTheTotal()
    {
        var (model, rng) = Model();
        string log = Path.Combine(_dir, "named", "log.tsv");
        var trainer = new Trainer(model, Options(null) with { LogPath = log }, [rng]);
        var seen = new List<TrainerProgress>();
        trainer.Progress += seen.Add;
        float final = trainer.Run(Examples.Length, NamedLoss(model));
        Assert.Equal(15, seen.Count);
        foreach (var p in seen)
        {
            Assert.Equal(["ntp", "l2"], p.Parts.Select(x => x.Name));
            Assert.Equal(p.Loss, p.Parts.Sum(x => x.Value), 4);
        }
        var lines = File.ReadAllLines(log);
        Assert.Equal("step\tepoch\tlr\ttotal\tntp\tl2\texamples_per_s", lines[0]);
        var (parts, rows) = TrainingLog.Read(log);
        Assert.Equal(["ntp", "l2"], parts);
        Assert.Equal(Enumerable.Range(1, 15).Select(i => (long)i), rows.Select(r => r.Step));
        Assert.Equal(seen.Select(p => p.Loss), rows.Select(r => r.Total));
        Assert.Equal(seen.Select(p => p.Parts[1].Value), rows.Select(r => r.Parts[1].Value));
        Assert.Equal(seen.Select(p => p.Epoch), rows.Select(r => r.Epoch));
        Assert.Equal(seen.Average(p => p.Loss), final, 5);
        Assert.Equal(seen.Average(p => p.Parts[0].Value), trainer.FinalParts[0].Value, 5);
    }

    [Fact]
    public void ResumedRunContinuesTheLogAndEndsAsAnUninterruptedOne()
    {
        // A final loss over the last 10 steps of 15 spans the kill at step 7 (checkpoint at 4).
        var options = Options(null) with { FinalLossSteps = 10 };
        var (straight, straightRng) = Model();
        string straightLog = Path.Combine(_dir, "straight", "training-log.tsv");
        float straightLoss = new Trainer(straight, options with { LogPath = straightLog }, [straightRng]).Run(Examples.Length, NamedLoss(straight));

        string path = Path.Combine(_dir, "killed", "checkpoint.safetensors");
        var (first, firstRng) = Model();
        var killed = new Trainer(first, options with { CheckpointPath = path }, [firstRng]);
        killed.Progress += p => { if (p.Step == 7) throw new OperationCanceledException("killed"); };
        Assert.Throws<OperationCanceledException>(() => killed.Run(Examples.Length, NamedLoss(first)));
        string log = Path.Combine(_dir, "killed", TrainerOptions.LogFileName);
        Assert.Equal(7, TrainingLog.Read(log).Rows.Count);            // steps 5..7 logged past the checkpoint

        var (resumed, resumedRng) = Model();
        var again = new Trainer(resumed, options with { CheckpointPath = path }, [resumedRng]);
        var notes = new List<string>();
        again.Note += notes.Add;
        float resumedLoss = again.Run(Examples.Length, NamedLoss(resumed));
        Assert.Equal(["resuming from step 4 of 15"], notes);
        Assert.Equal(4, again.ResumedFromStep);
        AssertSameWeights(straight, resumed, "after resume");
        Assert.Equal(straightLoss, resumedLoss);

        var (_, expected) = TrainingLog.Read(straightLog);
        var (_, actual) = TrainingLog.Read(log);
        Assert.Equal(Enumerable.Range(1, 15).Select(i => (long)i), actual.Select(r => r.Step));
        Assert.Equal(expected.Select(r => (r.Epoch, r.LearningRate, r.Total)), actual.Select(r => (r.Epoch, r.LearningRate, r.Total)));
        Assert.Equal(expected.Select(r => r.Parts[0].Value), actual.Select(r => r.Parts[0].Value));

        // A run that is already complete trains nothing and reports the same final loss from the log.
        var (done, doneRng) = Model();
        Assert.Equal(straightLoss, new Trainer(done, options with { CheckpointPath = path }, [doneRng]).Run(Examples.Length, NamedLoss(done)));
        Assert.Equal(15, TrainingLog.Read(log).Rows.Count);
    }

    [Fact]
    public void BareLossLogsTheTotalAndNewPartNamesMidRunAreErrors()
    {
        var (model, rng) = Model();
        string log = Path.Combine(_dir, "bare", "log.tsv");
        new Trainer(model, Options(null) with { LogPath = log }, [rng]).Run(Examples.Length, Loss(model));
        var (parts, rows) = TrainingLog.Read(log);
        Assert.Empty(parts);
        Assert.Equal(15, rows.Count);
        Assert.Equal("step\tepoch\tlr\ttotal\texamples_per_s", File.ReadLines(log).First());

        var (other, otherRng) = Model();
        var plain = Loss(other);
        var error = Assert.Throws<InvalidOperationException>(() => new Trainer(other, Options(null) with { LogPath = log }, [otherRng])
            .Run(Examples.Length, batch => new TrainingLoss().Add(batch[0] % 2 == 0 ? "even" : "odd", plain(batch))));
        Assert.Contains("which the log's first step did not", error.Message);
    }
}
