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
}
