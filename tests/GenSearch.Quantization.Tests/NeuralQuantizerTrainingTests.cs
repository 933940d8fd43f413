using GenSearch.Nn;
using GenSearch.Tensors;

namespace GenSearch.Quantization.Tests;

/// <summary>The neural quantizers trained by the shared <see cref="Trainer"/>: same results as their own loop had, named losses, resume.</summary>
public class NeuralQuantizerTrainingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("gensearch-neuralvq").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly float[] X = Mixture.Make(4, 8, Enumerable.Repeat(20, 10).ToArray()).X;
    private const int N = 200;

    /// <summary>200 vectors in batches of 64: four steps an epoch, three epochs.</summary>
    private static NeuralQuantizerOptions Setup(string method) =>
        NeuralQuantizerOptions.ForMethod(method, new QuantizerSpec(8, 2, 8, Seed: 9)) with { Epochs = 3, BatchSize = 64 };

    private static ulong Checksum(NeuralQuantizer q)
    {
        ulong h = 14695981039346656037UL;                           // FNV-1a over the bits of every parameter value
        foreach (var (_, p) in q.Model.NamedParameters())
            foreach (var f in p.Data) { h ^= BitConverter.SingleToUInt32Bits(f); h *= 1099511628211UL; }
        return h;
    }

    [Theory]
    [InlineData("rqvae", 0xF925EC6E651F1785UL)]
    [InlineData("simvq", 0x129A1053F7677EC0UL)]
    [InlineData("vq", 0x7C1F17D16D94150BUL)]
    public void WeightsAreThoseOfTheQuantizersOwnLoop(string method, ulong recorded)
    {
        // Recorded with the quantizer's own AdamW loop (commit 871b166), before it used the Trainer; the SIMD
        // kernels make the bits hardware-dependent, so this pins x64 with AVX2, the machine the suite runs on.
        var q = new NeuralQuantizer(8, Setup(method));
        var steps = q.Train(X, N);
        Assert.Equal(3 * 2, steps.Count);
        if (System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated) Assert.Equal(recorded, Checksum(q));
    }

    [Fact]
    public void LossPartsAreNamedLoggedAndSumToTheLoss()
    {
        var path = Path.Combine(_dir, "parts", "checkpoint.safetensors");
        var q = new NeuralQuantizer(8, Setup("rqvae") with { CheckpointPath = path });
        var seen = new List<TrainerProgress>();
        q.Progress += seen.Add;
        q.Train(X, N);
        Assert.Equal(12, seen.Count);
        foreach (var p in seen)
        {
            Assert.Equal(["reconstruction", "codebook.l0", "commitment.l0", "codebook.l1", "commitment.l1"], p.Parts.Select(x => x.Name));
            Assert.Equal(p.Loss, p.Parts.Sum(x => x.Value), 4);
        }
        var (parts, rows) = TrainingLog.Read(Path.Combine(_dir, "parts", TrainerOptions.LogFileName));
        Assert.Equal(["reconstruction", "codebook.l0", "commitment.l0", "codebook.l1", "commitment.l1"], parts);
        Assert.Equal(seen.Select(p => p.Loss), rows.Select(r => r.Total));
        // An epoch's mean loss in Log is the mean of its four logged steps.
        Assert.Equal(q.Log[2].Loss, rows.Skip(8).Average(r => (double)r.Total), 6);
        // Commitment is beta (0.25) times the codebook term's distance, the same squared error.
        Assert.Equal(0.25f * rows[^1].Parts[1].Value, rows[^1].Parts[2].Value, 5);
    }

    [Fact]
    public void KilledTrainingResumesToTheSameQuantizer()
    {
        // RQ-VAE with dead codes re-seeded every two steps: the resumed run needs the code-use counters and generator back.
        var options = Setup("rqvae") with { Quantizer = Setup("rqvae").Quantizer with { DeadCodeSteps = 2 } };
        var straight = new NeuralQuantizer(8, options);
        straight.Train(X, N);
        Assert.True(straight.Log.Sum(e => e.CodesReset) > 0, "the setup should re-seed codes");

        var path = Path.Combine(_dir, "killed", "checkpoint.safetensors");
        var killed = new NeuralQuantizer(8, options with { CheckpointPath = path, CheckpointEvery = 4 });
        killed.Progress += p => { if (p.Step == 7) throw new OperationCanceledException("killed"); };
        Assert.Throws<OperationCanceledException>(() => killed.Train(X, N));

        var resumed = new NeuralQuantizer(8, options with { CheckpointPath = path, CheckpointEvery = 4 });
        var notes = new List<string>();
        resumed.Note += notes.Add;
        var steps = resumed.Train(X, N);
        Assert.Equal(["resuming from step 4 of 12"], notes);
        Assert.Equal(2 * 2, steps.Count);                             // epochs 1 and 2 trained by this call
        foreach (var ((name, a), (_, b)) in straight.Model.NamedParameters().Zip(resumed.Model.NamedParameters()))
            Assert.True(a.Data.AsSpan().SequenceEqual(b.Data), $"{name} differs after resume");
        var (ca, cb) = (new int[N * 2], new int[N * 2]);
        straight.Encode(X, N, ca);
        resumed.Encode(X, N, cb);
        Assert.Equal(ca, cb);
        Assert.Equal(Enumerable.Range(1, 12).Select(i => (long)i), TrainingLog.Read(Path.Combine(_dir, "killed", TrainerOptions.LogFileName)).Rows.Select(r => r.Step));
        Assert.Equal(straight.Log[2] with { Seconds = 0 }, resumed.Log[^1] with { Seconds = 0 });

        // The same checkpoint with other vectors is refused, not silently continued.
        var other = new NeuralQuantizer(8, options with { CheckpointPath = path });
        var error = Assert.Throws<InvalidDataException>(() => other.Train(X.Select(v => v * 2f).ToArray(), N));
        Assert.Contains("trained on other vectors", error.Message);
    }
}
