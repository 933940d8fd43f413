using System.Diagnostics;
using System.Globalization;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using GenSearch.Nn;
using GenSearch.Tensors;
using GenSearch.Tensors.IO;

namespace GenSearch.Quantization;

/// <summary>Stand-alone neural quantizer parameters: the model's shape and how it trains. Presets per method.</summary>
public sealed record NeuralQuantizerOptions
{
    /// <summary>The method name it reports and saves under ("rqvae", "simvq", "vq").</summary>
    public string Method { get; init; } = NeuralQuantizer.SimVqName;

    /// <summary>Encoder hidden widths (the decoder mirrors them). Default [128].</summary>
    public int[] HiddenDims { get; init; } = [128];

    /// <summary>Latent width the codebooks quantize. Default 32.</summary>
    public int LatentDim { get; init; } = 32;

    /// <summary>The residual quantizer (levels, codes, codebook kind, commitment, init, dead codes).</summary>
    public ResidualVqOptions Quantizer { get; init; } = new();

    /// <summary>Passes over the training vectors. Default 30.</summary>
    public int Epochs { get; init; } = 30;

    /// <summary>Vectors per optimizer step. Default 256.</summary>
    public int BatchSize { get; init; } = 256;

    /// <summary>AdamW peak learning rate (linear warm-up over the first 5% of steps, cosine decay to a tenth). Default 1e-3.</summary>
    public float LearningRate { get; init; } = 1e-3f;

    /// <summary>Rows the k-means initialisation sees (the first batches of the first epoch); 0 (default) means max(BatchSize, 16 K).</summary>
    public int KMeansInitRows { get; init; }

    /// <summary>Seed of the weights, codebooks and batch order. Default 1234.</summary>
    public int Seed { get; init; } = 1234;

    /// <summary>
    /// Training checkpoint; when the file exists, <see cref="NeuralQuantizer.Train"/> resumes from it. The training
    /// log (<see cref="TrainerOptions.LogFileName"/>) goes beside it. Null (default): no checkpoint, no log.
    /// Not part of the exported quantizer.
    /// </summary>
    public string? CheckpointPath { get; init; }

    /// <summary>Steps between checkpoints when <see cref="CheckpointPath"/> is set (0 = only at the end). Default 200.</summary>
    public int CheckpointEvery { get; init; } = 200;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad field.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Method)) throw new ArgumentException("Method must be named");
        if (Epochs < 1) throw new ArgumentException($"Epochs must be at least 1 (got {Epochs})");
        if (BatchSize < 1) throw new ArgumentException($"BatchSize must be at least 1 (got {BatchSize})");
        if (!(LearningRate > 0)) throw new ArgumentException($"LearningRate must be > 0 (got {LearningRate})");
        if (KMeansInitRows < 0) throw new ArgumentException($"KMeansInitRows must be >= 0 (got {KMeansInitRows})");
        if (CheckpointEvery < 0) throw new ArgumentException($"CheckpointEvery must be >= 0 (got {CheckpointEvery})");
        Quantizer.Validate();
    }

    /// <summary>RQ-VAE: plain codebooks initialised by k-means on the first batches, dead codes re-seeded.</summary>
    public static NeuralQuantizerOptions RqVae(int levels, int codes, int seed = 1234) => new()
    {
        Method = NeuralQuantizer.RqVaeName, Seed = seed,
        Quantizer = new ResidualVqOptions { Levels = levels, Codes = codes, Codebook = CodebookKind.Plain, KMeansInit = true, ResetDeadCodes = true, Seed = seed },
    };

    /// <summary>Residual SimVQ: codebooks B W^T with frozen random B, only W trains; no k-means, no re-seeding.</summary>
    public static NeuralQuantizerOptions SimVq(int levels, int codes, int seed = 1234) => new()
    {
        Method = NeuralQuantizer.SimVqName, Seed = seed,
        Quantizer = new ResidualVqOptions { Levels = levels, Codes = codes, Codebook = CodebookKind.SimVq, Seed = seed },
    };

    /// <summary>The collapse baseline: plain codebooks from a random Gaussian init, no k-means, no re-seeding.</summary>
    public static NeuralQuantizerOptions PlainVq(int levels, int codes, int seed = 1234) => new()
    {
        Method = NeuralQuantizer.PlainVqName, Seed = seed,
        Quantizer = new ResidualVqOptions { Levels = levels, Codes = codes, Codebook = CodebookKind.Plain, Seed = seed },
    };

    /// <summary>The preset of <paramref name="method"/> for a registry spec.</summary>
    public static NeuralQuantizerOptions ForMethod(string method, QuantizerSpec spec)
    {
        if (spec.BalanceFactor != 0) throw new ArgumentException($"--balance applies to rqkmeans only; {method} does not cap buckets");
        return method switch
        {
            NeuralQuantizer.RqVaeName => RqVae(spec.Levels, spec.Codes, spec.Seed),
            NeuralQuantizer.SimVqName => SimVq(spec.Levels, spec.Codes, spec.Seed),
            NeuralQuantizer.PlainVqName => PlainVq(spec.Levels, spec.Codes, spec.Seed),
            _ => throw new ArgumentException($"'{method}' is not a neural quantization method"),
        };
    }
}

/// <summary>One epoch of neural quantizer training.</summary>
/// <param name="Epoch">0-based.</param>
/// <param name="Loss">Mean training loss (reconstruction + VQ) over the epoch's batches.</param>
/// <param name="ReconstructionLoss">Mean reconstruction MSE (on standardised vectors).</param>
/// <param name="CodesReset">Dead codes re-seeded during the epoch, all levels.</param>
/// <param name="Seconds">Wall time.</param>
public sealed record NeuralEpoch(int Epoch, double Loss, double ReconstructionLoss, long CodesReset, double Seconds);

/// <summary>
/// RQ-VAE, residual SimVQ or plain residual VQ behind <see cref="IQuantizer"/>: an <see cref="RqVae"/> model
/// trained by the shared <see cref="Trainer"/> (AdamW, resumable checkpoints, a training log with the named loss
/// parts) on mini-batches of the vectors (standardised: mean removed, divided by the global RMS), seeded. Encode runs the encoder and the greedy residual assignment; Decode sums codes and runs the decoder.
/// Exports the state dict plus the standardisation as safetensors, the options as metadata.
/// </summary>
public sealed class NeuralQuantizer : IQuantizer
{
    /// <summary>RQ-VAE's method name.</summary>
    public const string RqVaeName = "rqvae";
    /// <summary>Residual SimVQ's method name.</summary>
    public const string SimVqName = "simvq";
    /// <summary>Plain residual VQ's method name (the collapse baseline).</summary>
    public const string PlainVqName = "vq";

    private const int EncodeBatch = 4096;
    private float[] _mean;
    private float _scale = 1f;
    private readonly List<NeuralEpoch> _log = [];

    /// <summary>An untrained quantizer over <paramref name="dimension"/>-wide vectors.</summary>
    public NeuralQuantizer(int dimension, NeuralQuantizerOptions options)
    {
        options.Validate();
        if (dimension < 1) throw new ArgumentException($"dimension must be at least 1 (got {dimension})");
        Options = options;
        Dimension = dimension;
        Model = new RqVae(new RqVaeConfig
        {
            InputDim = dimension, HiddenDims = options.HiddenDims, LatentDim = options.LatentDim,
            Quantizer = options.Quantizer, Seed = options.Seed,
        });
        _mean = new float[dimension];
        CodebookSizes = Enumerable.Repeat(options.Quantizer.Codes, options.Quantizer.Levels).ToArray();
    }

    /// <summary>An untrained quantizer of registry method <paramref name="method"/> (its preset) for <paramref name="spec"/>.</summary>
    public static NeuralQuantizer Create(string method, QuantizerSpec spec)
        => new(spec.Dimension, NeuralQuantizerOptions.ForMethod(method, spec));

    /// <summary>The parameters.</summary>
    public NeuralQuantizerOptions Options { get; }
    /// <summary>The model (encoder, residual quantizer, decoder).</summary>
    public RqVae Model { get; }
    /// <summary>Per-epoch losses of the last <see cref="Train"/>.</summary>
    public IReadOnlyList<NeuralEpoch> Log => _log;
    /// <inheritdoc/>
    public string Method => Options.Method;
    /// <inheritdoc/>
    public int Dimension { get; }
    /// <inheritdoc/>
    public int Levels => Options.Quantizer.Levels;
    /// <inheritdoc/>
    public IReadOnlyList<int> CodebookSizes { get; }
    /// <inheritdoc/>
    public bool IsTrained { get; private set; }

    /// <summary>Called after every training step, with the loss parts "reconstruction", "codebook.lN" and "commitment.lN" (they sum to the loss).</summary>
    public event Action<TrainerProgress>? Progress;

    /// <summary>Called with a line for the user, such as "resuming from step N of M".</summary>
    public event Action<string>? Note;

    /// <summary>
    /// Trains for <see cref="NeuralQuantizerOptions.Epochs"/> epochs. Returns, per epoch and level: Objective = the
    /// level's mean VQ loss term, Changed = training points whose level code moved since the last epoch, EmptyCodes
    /// = codes no point chose during the epoch; the epoch's wall time is on its level-0 record (levels train together).
    /// With <see cref="NeuralQuantizerOptions.CheckpointPath"/> on disk it resumes there (same vectors required) and
    /// ends with the weights of an uninterrupted run; the records then cover the epochs this call trained, the first
    /// one from the resumed step on (its Changed counts the points not yet seen as changed).
    /// </summary>
    public IReadOnlyList<TrainingStep> Train(float[] vectors, int count)
    {
        CheckShape(vectors, count);
        if (count < 1) throw new ArgumentException("training needs at least one vector");
        int d = Dimension, L = Levels, K = Options.Quantizer.Codes, batch = Math.Min(Options.BatchSize, count);
        var x = Standardize(vectors, count, fit: true);
        var orders = new EpochOrders(count, (ulong)Options.Seed ^ 0x5DEECE66DUL);
        Model.Train();
        _log.Clear();
        bool resuming = Options.CheckpointPath is not null && File.Exists(Options.CheckpointPath);
        if (Model.Quantizer.NeedsKMeansInit && resuming) Model.Quantizer.MarkInitialized();   // the checkpoint holds the codebooks
        if (Model.Quantizer.NeedsKMeansInit)
        {
            // The first batches of the first epoch's order, through the untrained encoder.
            int rows = Math.Min(count, Options.KMeansInitRows > 0 ? Options.KMeansInitRows : Math.Max(batch, 16 * K));
            using var _ = Tensor.NoGrad();
            var z = Model.Encoder.Forward(Gather(x, orders.Of(count, 0).AsSpan(0, rows), d));
            Model.Quantizer.InitializeFromData(z.Data, rows);
        }

        int stepsPerEpoch = (count + batch - 1) / batch, total = stepsPerEpoch * Options.Epochs;
        var trainer = new Trainer(Model, new TrainerOptions
        {
            BatchSize = batch, Epochs = Options.Epochs, LearningRate = Options.LearningRate,
            WarmupSteps = Math.Max(1, total / 20), MinLearningRate = Options.LearningRate / 10, WeightDecay = 0f, ClipNorm = 0f,
            CheckpointPath = Options.CheckpointPath, CheckpointEvery = Options.CheckpointEvery, FinalLossSteps = stepsPerEpoch,
        }) { CustomOrder = orders.Of };
        trainer.Progress += p => Progress?.Invoke(p);
        trainer.Note += n => Note?.Invoke(n);
        const string UsageKey = "quantizer_usage", DataKey = "quantizer_data";
        string dataStamp = string.Create(CultureInfo.InvariantCulture, $"{count},{_scale:R}");
        trainer.SavingState += meta =>
        {
            meta[UsageKey] = Model.Quantizer.SaveUsage();
            meta[DataKey] = dataStamp;
        };
        trainer.RestoringState += meta =>
        {
            if (!meta.TryGetValue(DataKey, out var stamp) || stamp != dataStamp)
                throw new InvalidDataException($"{Options.CheckpointPath}: trained on other vectors (count,scale {stamp ?? "missing"}, now {dataStamp}); delete it to start over");
            if (!meta.TryGetValue(UsageKey, out var usage)) throw new InvalidDataException($"{Options.CheckpointPath}: no '{UsageKey}' in its metadata");
            try { Model.Quantizer.LoadUsage(usage); }
            catch (InvalidDataException e) { throw new InvalidDataException($"{Options.CheckpointPath}: {e.Message}", e); }
        };

        // Per-epoch figures, gathered step by step and closed when the next epoch starts or training ends.
        var steps = new List<TrainingStep>();
        var previous = new int[count * L];
        Array.Fill(previous, -1);
        var current = new int[count * L];
        var levelLoss = new double[L];
        var used = new bool[L * K];
        double loss = 0, recon = 0;
        long reset = 0;
        int epoch = -1, batches = 0;
        var clock = new Stopwatch();
        void CloseEpoch()
        {
            if (batches == 0) return;
            double seconds = clock.Elapsed.TotalSeconds;
            for (int l = 0; l < L; l++)
            {
                long changed = 0;
                for (int i = 0; i < count; i++) if (current[i * L + l] != previous[i * L + l]) changed++;
                int empty = 0;
                for (int k = 0; k < K; k++) if (!used[l * K + k]) empty++;
                steps.Add(new TrainingStep(l, epoch, levelLoss[l] / batches, changed, empty, l == 0 ? seconds : 0));
            }
            _log.Add(new NeuralEpoch(epoch, loss / batches, recon / batches, reset, seconds));
            (previous, current) = (current, previous);
        }
        trainer.EpochStarting += e =>
        {
            CloseEpoch();
            epoch = e;
            batches = 0;
            Array.Clear(levelLoss);
            Array.Clear(used);
            loss = recon = reset = 0;
            clock.Restart();
        };

        var partNames = Enumerable.Range(0, L).Select(l => ($"codebook.l{l}", $"commitment.l{l}")).ToArray();
        trainer.Run(count, rows =>
        {
            var output = Model.Forward(Gather(x, rows, d));
            var parts = new TrainingLoss(output.Loss).Record("reconstruction", output.ReconstructionLoss);
            for (int l = 0; l < L; l++)
            {
                parts.Record(partNames[l].Item1, output.Vq.LevelLoss[l] - output.Vq.CommitmentLoss[l]);
                parts.Record(partNames[l].Item2, output.Vq.CommitmentLoss[l]);
            }
            batches++;
            loss += output.Loss.Item();
            recon += output.ReconstructionLoss;
            for (int l = 0; l < L; l++) { levelLoss[l] += output.Vq.LevelLoss[l]; reset += output.Vq.ResetCodes[l]; }
            for (int i = 0; i < rows.Length; i++)
                for (int l = 0; l < L; l++)
                {
                    int code = output.Codes[i * L + l];
                    current[rows[i] * L + l] = code;
                    used[l * K + code] = true;
                }
            return parts;
        });
        CloseEpoch();
        Model.Eval();
        IsTrained = true;
        return steps;
    }

    /// <summary>
    /// The batch order of each epoch: one generator shuffles one array again every epoch, so epoch e's order is
    /// the (e+1)-th shuffle. Asked for the epochs in turn it shuffles once per epoch; asked for an earlier epoch
    /// (a resume) it replays from the seed.
    /// </summary>
    private sealed class EpochOrders(int count, ulong seed)
    {
        private Rng _rng = new(seed);
        private int[] _order = Enumerable.Range(0, count).ToArray();
        private int _epoch = -1;

        public int[] Of(int n, int epoch)
        {
            if (n != count) throw new ArgumentException($"orders are for {count} examples, not {n}");
            if (epoch < _epoch)
            {
                _rng = new Rng(seed);
                _order = Enumerable.Range(0, count).ToArray();
                _epoch = -1;
            }
            while (_epoch < epoch)
            {
                _rng.Shuffle(_order.AsSpan());
                _epoch++;
            }
            return (int[])_order.Clone();
        }
    }

    /// <inheritdoc/>
    public void Encode(float[] vectors, int count, Span<int> codes)
    {
        EnsureTrained();
        CheckShape(vectors, count);
        int L = Levels, d = Dimension;
        if (codes.Length < (long)count * L) throw new ArgumentException($"codes need {count} x {L} ints");
        for (int start = 0; start < count; start += EncodeBatch)
        {
            int rows = Math.Min(EncodeBatch, count - start);
            var slice = vectors.AsSpan(start * d, rows * d).ToArray();
            var block = Model.Encode(new Tensor(Standardize(slice, rows, fit: false), rows, d));
            block.CopyTo(codes.Slice(start * L, rows * L));
        }
    }

    /// <inheritdoc/>
    public void Decode(ReadOnlySpan<int> codes, int count, Span<float> vectors)
    {
        EnsureTrained();
        int L = Levels, d = Dimension;
        if (codes.Length < (long)count * L) throw new ArgumentException($"codes need {count} x {L} ints");
        if (vectors.Length < (long)count * d) throw new ArgumentException($"vectors need {count} x {d} floats");
        for (int start = 0; start < count; start += EncodeBatch)
        {
            int rows = Math.Min(EncodeBatch, count - start);
            var y = Model.Decode(codes.Slice(start * L, rows * L), rows).Data;
            for (int i = 0; i < rows; i++)
            {
                var dst = vectors.Slice((start + i) * d, d);
                TensorPrimitives.Multiply(y.AsSpan(i * d, d), _scale, dst);
                TensorPrimitives.Add(dst, _mean, dst);
            }
        }
    }

    /// <inheritdoc/>
    public (IReadOnlyList<SafeTensorEntry> Tensors, IReadOnlyDictionary<string, string> Metadata) Export()
    {
        EnsureTrained();
        var tensors = Model.StateDict()
            .Select(p => SafeTensorEntry.F32(p.Key, p.Value.Shape.Select(s => (long)s).ToArray(), (float[])p.Value.Data.Clone()))
            .ToList();
        tensors.Add(SafeTensorEntry.F32(MeanTensor, [Dimension], (float[])_mean.Clone()));
        tensors.Add(SafeTensorEntry.F32(ScaleTensor, [1], [_scale]));
        var q = Options.Quantizer;
        var inv = CultureInfo.InvariantCulture;
        var meta = new Dictionary<string, string>
        {
            ["method"] = Method,
            ["dimension"] = Dimension.ToString(inv),
            ["levels"] = q.Levels.ToString(inv),
            ["codes"] = q.Codes.ToString(inv),
            ["codebook"] = q.Codebook.ToString(),
            ["hidden_dims"] = string.Join(",", Options.HiddenDims.Select(h => h.ToString(inv))),
            ["latent_dim"] = Options.LatentDim.ToString(inv),
            ["commitment_weight"] = q.CommitmentWeight.ToString("R", inv),
            ["kmeans_init"] = q.KMeansInit ? "true" : "false",
            ["reset_dead_codes"] = q.ResetDeadCodes ? "true" : "false",
            ["dead_code_steps"] = q.DeadCodeSteps.ToString(inv),
            ["seed"] = Options.Seed.ToString(inv),
        };
        return (tensors, meta);
    }

    private const string MeanTensor = "input.mean";
    private const string ScaleTensor = "input.scale";

    /// <summary>Rebuilds a trained quantizer from <see cref="Export"/>'s tensors and metadata; errors name the file and the field.</summary>
    public static NeuralQuantizer Import(SafeTensorsFile file)
    {
        var m = file.Metadata;
        string Get(string key) => m.TryGetValue(key, out var v) ? v : throw new InvalidDataException($"{file.Path}: metadata has no '{key}'; not a neural quantizer file");
        int Int(string key) => int.TryParse(Get(key), NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v
            : throw new InvalidDataException($"{file.Path}: metadata '{key}' = '{Get(key)}' is not an integer");
        if (!Enum.TryParse<CodebookKind>(Get("codebook"), out var kind))
            throw new InvalidDataException($"{file.Path}: metadata 'codebook' = '{Get("codebook")}' is not one of {string.Join(", ", Enum.GetNames<CodebookKind>())}");
        var hidden = Get("hidden_dims");
        var options = new NeuralQuantizerOptions
        {
            Method = Get("method"),
            HiddenDims = hidden.Length == 0 ? [] : hidden.Split(',').Select(h => int.Parse(h, CultureInfo.InvariantCulture)).ToArray(),
            LatentDim = Int("latent_dim"),
            Seed = Int("seed"),
            Quantizer = new ResidualVqOptions
            {
                Levels = Int("levels"), Codes = Int("codes"), Codebook = kind,
                CommitmentWeight = float.Parse(Get("commitment_weight"), CultureInfo.InvariantCulture),
                KMeansInit = Get("kmeans_init") == "true", ResetDeadCodes = Get("reset_dead_codes") == "true",
                DeadCodeSteps = Int("dead_code_steps"), Seed = Int("seed"),
            },
        };
        NeuralQuantizer q;
        try { q = new NeuralQuantizer(Int("dimension"), options); }
        catch (ArgumentException e) { throw new InvalidDataException($"{file.Path}: {e.Message}", e); }
        var state = file.Tensors.Where(t => t.Name is not MeanTensor and not ScaleTensor)
            .ToDictionary(t => t.Name, t => new Tensor(t.AsF32(), t.Shape.Select(s => checked((int)s)).ToArray()));
        try { q.Model.LoadStateDict(state); }
        catch (InvalidDataException e) { throw new InvalidDataException($"{file.Path}: {e.Message}", e); }
        var mean = file[MeanTensor].AsF32();
        var scale = file[ScaleTensor].AsF32();
        if (mean.Length != q.Dimension || scale.Length != 1 || !(scale[0] > 0))
            throw new InvalidDataException($"{file.Path}: '{MeanTensor}' must hold {q.Dimension} values and '{ScaleTensor}' one positive value");
        q._mean = (float[])mean.Clone();
        q._scale = scale[0];
        q.Model.Quantizer.MarkInitialized();
        q.Model.Eval();
        q.IsTrained = true;
        return q;
    }

    /// <summary>(x - mean) / scale for <paramref name="count"/> rows; with <paramref name="fit"/>, first sets mean and scale from them.</summary>
    private float[] Standardize(float[] vectors, int count, bool fit)
    {
        int d = Dimension;
        if (fit)
        {
            var sum = new double[d];
            for (int i = 0; i < count; i++) for (int t = 0; t < d; t++) sum[t] += vectors[i * d + t];
            for (int t = 0; t < d; t++) _mean[t] = (float)(sum[t] / count);
            double energy = 0;
            for (int i = 0; i < count; i++) for (int t = 0; t < d; t++) { double v = vectors[i * d + t] - _mean[t]; energy += v * v; }
            double rms = Math.Sqrt(energy / ((double)count * d));
            _scale = rms > 1e-12 ? (float)rms : 1f;
        }
        var x = new float[count * d];
        for (int i = 0; i < count; i++)
        {
            var row = x.AsSpan(i * d, d);
            TensorPrimitives.Subtract(vectors.AsSpan(i * d, d), _mean, row);
            TensorPrimitives.Multiply(row, 1f / _scale, row);
        }
        return x;
    }

    private static Tensor Gather(float[] x, ReadOnlySpan<int> rows, int d)
    {
        var data = new float[rows.Length * d];
        for (int i = 0; i < rows.Length; i++) x.AsSpan(rows[i] * d, d).CopyTo(data.AsSpan(i * d, d));
        return new Tensor(data, rows.Length, d);
    }

    private void CheckShape(float[] vectors, int count)
    {
        if (count < 0 || vectors.Length < (long)count * Dimension)
            throw new ArgumentException($"vectors hold {vectors.Length} floats, fewer than {count} x {Dimension}");
    }

    private void EnsureTrained()
    {
        if (!IsTrained) throw new InvalidOperationException("the quantizer is not trained: call Train or load a trained one first");
    }
}
