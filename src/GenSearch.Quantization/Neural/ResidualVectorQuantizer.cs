using GenSearch.Nn;
using GenSearch.Tensors;

namespace GenSearch.Quantization;

/// <summary>Residual vector-quantization layer parameters with defaults.</summary>
public sealed record ResidualVqOptions
{
    /// <summary>Levels L: codes per vector. Default 3.</summary>
    public int Levels { get; init; } = 3;

    /// <summary>Codes per level K. Default 256.</summary>
    public int Codes { get; init; } = 256;

    /// <summary>Plain learned codebooks or SimVQ's reparametrised ones. Default <see cref="CodebookKind.SimVq"/>.</summary>
    public CodebookKind Codebook { get; init; } = CodebookKind.SimVq;

    /// <summary>Commitment weight beta in beta * ||z - sg(q)||^2. Default 0.25 (VQ-VAE, SimVQ).</summary>
    public float CommitmentWeight { get; init; } = 0.25f;

    /// <summary>Std of the Gaussian codebook init (plain table or SimVQ basis); 0 (default) means d^-0.5, as SimVQ's code.</summary>
    public float InitStd { get; init; }

    /// <summary>
    /// Plain codebooks only: level l's codes start as k-means centroids of the first training batch's level-l
    /// residuals (RQ-VAE). Default false.
    /// </summary>
    public bool KMeansInit { get; init; }

    /// <summary>A code no batch item chose for this many training steps is dead. Default 100.</summary>
    public int DeadCodeSteps { get; init; } = 100;

    /// <summary>Plain codebooks only: dead codes are re-seeded from the current residuals of random batch items. Default false.</summary>
    public bool ResetDeadCodes { get; init; }

    /// <summary>Seed of the codebook init, k-means init and re-seeding draws. Default 1234.</summary>
    public int Seed { get; init; } = 1234;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad field.</summary>
    public void Validate()
    {
        if (Levels < 1) throw new ArgumentException($"Levels must be at least 1 (got {Levels})");
        if (Codes < 1) throw new ArgumentException($"Codes must be at least 1 (got {Codes})");
        if (!(CommitmentWeight >= 0)) throw new ArgumentException($"CommitmentWeight must be >= 0 (got {CommitmentWeight})");
        if (!(InitStd >= 0)) throw new ArgumentException($"InitStd must be >= 0 (got {InitStd})");
        if (DeadCodeSteps < 1) throw new ArgumentException($"DeadCodeSteps must be at least 1 (got {DeadCodeSteps})");
        if (Codebook != CodebookKind.Plain && (KMeansInit || ResetDeadCodes))
            throw new ArgumentException("KMeansInit and ResetDeadCodes need Plain codebooks: a SimVQ code is a linear image of a frozen basis and cannot be set on its own");
    }
}

/// <summary>What <see cref="ResidualVectorQuantizer.Forward"/> returns.</summary>
/// <param name="Quantized">[N, d]: the sum of the chosen codes, with the input's gradient (straight-through).</param>
/// <param name="Codes">[N, L] row-major: level l's code of row i at i * L + l.</param>
/// <param name="Loss">Scalar: sum over levels of ||sg(r) - q||^2 + beta ||r - sg(q)||^2 (element means).</param>
/// <param name="LevelLoss">Each level's loss term, as numbers.</param>
/// <param name="DeadCodes">Per level, codes unused for <see cref="ResidualVqOptions.DeadCodeSteps"/> steps (counted before any reset; training only).</param>
/// <param name="ResetCodes">Per level, codes re-seeded this step.</param>
public sealed record VqOutput(Tensor Quantized, int[] Codes, Tensor Loss, float[] LevelLoss, int[] DeadCodes, int[] ResetCodes)
{
    /// <summary>Per level, the weighted commitment term beta ||r - sg(q)||^2; <see cref="LevelLoss"/> minus it is the codebook term.</summary>
    public float[] CommitmentLoss { get; init; } = [];
}

/// <summary>
/// Residual vector quantization as a layer: level l quantizes what levels 0..l-1 left (r_0 = z,
/// r_{l+1} = r_l - sg(q_l)) with its own codebook; the output is sum_l q_l with straight-through gradients to z.
/// Use it inside a model (the VQ loss joins the model's losses) or through <see cref="NeuralQuantizer"/>.
/// In training mode it also tracks code use per step, initialises plain codebooks by k-means on the first
/// batch and re-seeds dead codes when asked to.
/// </summary>
/// <remarks>Shapes: N rows, d = code width, K codes per level, L levels.</remarks>
public sealed class ResidualVectorQuantizer : Module
{
    private readonly VqCodebook[] _codebooks;
    private readonly long[][] _lastUsed;            // [L][K]: the step each code was last chosen
    private readonly Rng _rng;
    private long _step;

    /// <summary>A quantizer for <paramref name="width"/>-wide vectors.</summary>
    public ResidualVectorQuantizer(int width, ResidualVqOptions? options = null)
    {
        Options = options ?? new ResidualVqOptions();
        Options.Validate();
        if (width < 1) throw new ArgumentException($"width must be at least 1 (got {width})");
        Width = width;
        _rng = new Rng((ulong)Options.Seed);
        float std = Options.InitStd > 0 ? Options.InitStd : 1f / MathF.Sqrt(width);
        _codebooks = new VqCodebook[Options.Levels];
        _lastUsed = new long[Options.Levels][];
        for (int l = 0; l < Options.Levels; l++)
        {
            _codebooks[l] = RegisterModule($"level{l}", VqCodebook.Create(Options.Codebook, Options.Codes, width, std, _rng));
            _lastUsed[l] = new long[Options.Codes];
        }
        NeedsKMeansInit = Options.KMeansInit;
    }

    /// <summary>The parameters.</summary>
    public ResidualVqOptions Options { get; }

    /// <summary>Vector width d.</summary>
    public int Width { get; }

    /// <summary>Levels L.</summary>
    public int Levels => Options.Levels;

    /// <summary>Level l's codebook.</summary>
    public VqCodebook Codebook(int level) => _codebooks[level];

    /// <summary>Whether the k-means initialisation is still to run (on the next training batch, or by <see cref="InitializeFromData"/>).</summary>
    public bool NeedsKMeansInit { get; private set; }

    /// <summary>Marks the codebooks as initialised (after loading trained weights), so that no k-means runs on the next training batch.</summary>
    public void MarkInitialized() => NeedsKMeansInit = false;

    /// <summary>Training steps taken (forward passes in training mode with gradients on).</summary>
    public long Steps => _step;

    /// <summary>
    /// Quantizes z [N, d]. In training mode (with gradients enabled) it first runs any pending k-means
    /// initialisation on this batch, and afterwards updates code-use counters and re-seeds dead codes.
    /// </summary>
    public VqOutput Forward(Tensor z)
    {
        CheckInput(z);
        int n = z.Shape[0], d = Width, L = Levels;
        bool training = Training && Tensor.GradEnabled;
        if (training && NeedsKMeansInit) InitializeFromData(z.Data, n);

        var codes = new int[n * L];
        var levelLoss = new float[L];
        var commitmentLoss = new float[L];
        var residuals = new float[L][];
        var sum = new float[n * d];
        Tensor residual = z;
        Tensor? loss = null;
        for (int l = 0; l < L; l++)
        {
            var c = _codebooks[l].Vectors();                       // [K, d]
            var idx = Nearest(residual, c);
            for (int i = 0; i < n; i++) codes[i * L + l] = idx[i];
            var q = Tensor.Embedding(c, idx, n);                   // [N, d], gradient to the codebook
            var qStop = q.Detach();
            // Codebook loss moves codes toward the (fixed) residuals; commitment pulls residuals toward (fixed) codes.
            var codebookLoss = (q - residual.Detach()).Square().MeanAll();
            var commitment = (residual - qStop).Square().MeanAll();
            var weightedCommitment = commitment * Options.CommitmentWeight;
            var term = codebookLoss + weightedCommitment;
            levelLoss[l] = term.Item();
            commitmentLoss[l] = weightedCommitment.Item();
            loss = loss is null ? term : loss + term;
            residuals[l] = residual.Data;
            System.Numerics.Tensors.TensorPrimitives.Add(sum, qStop.Data, sum);
            if (l + 1 < L) residual = residual - qStop;            // r_{l+1} = r_l - sg(q_l)
        }
        var quantized = Tensor.StraightThrough(z, new Tensor(sum, n, d));

        var dead = new int[L];
        var reset = new int[L];
        if (training) UpdateUsage(codes, n, residuals, dead, reset);
        return new VqOutput(quantized, codes, loss!, levelLoss, dead, reset) { CommitmentLoss = commitmentLoss };
    }

    /// <summary>Codes [N, L] of z [N, d], greedily level by level, without gradients or bookkeeping.</summary>
    public int[] Encode(Tensor z)
    {
        CheckInput(z);
        using var _ = Tensor.NoGrad();
        int n = z.Shape[0], L = Levels;
        var codes = new int[n * L];
        var residual = z;
        for (int l = 0; l < L; l++)
        {
            var c = _codebooks[l].Vectors();
            var idx = Nearest(residual, c);
            for (int i = 0; i < n; i++) codes[i * L + l] = idx[i];
            if (l + 1 < L) residual = residual - Tensor.Embedding(c, idx, n);
        }
        return codes;
    }

    /// <summary>The sum of the chosen codes [N, d] for codes [N, L] (no gradient).</summary>
    public Tensor Decode(ReadOnlySpan<int> codes, int count)
    {
        int L = Levels, K = Options.Codes, d = Width;
        if (codes.Length < (long)count * L) throw new ArgumentException($"codes need {count} x {L} ints");
        using var _ = Tensor.NoGrad();
        var sum = new float[count * d];
        for (int l = 0; l < L; l++)
        {
            var c = _codebooks[l].Vectors().Data;
            for (int i = 0; i < count; i++)
            {
                int code = codes[i * L + l];
                if ((uint)code >= (uint)K) throw new ArgumentOutOfRangeException(nameof(codes), $"row {i} level {l}: code {code} is outside 0..{K - 1}");
                var dst = sum.AsSpan(i * d, d);
                System.Numerics.Tensors.TensorPrimitives.Add(dst, c.AsSpan(code * d, d), dst);
            }
        }
        return new Tensor(sum, count, d);
    }

    /// <summary>
    /// Runs the k-means initialisation of plain codebooks on <paramref name="count"/> rows of <paramref name="z"/>
    /// ([count, d] row-major): level l's codes become the k-means centroids of the level-l residuals left by
    /// the already initialised levels. With fewer rows than codes, codes are rows drawn with replacement plus
    /// a little noise (so that they stay distinct).
    /// </summary>
    public void InitializeFromData(float[] z, int count)
    {
        if (Options.Codebook != CodebookKind.Plain) throw new InvalidOperationException("k-means initialisation needs plain codebooks");
        if (z.Length < (long)count * Width) throw new ArgumentException($"z holds {z.Length} floats, fewer than {count} x {Width}");
        if (count < 1) throw new ArgumentException("k-means initialisation needs at least one row");
        int d = Width, K = Options.Codes;
        var residual = z.AsSpan(0, count * d).ToArray();
        var assign = new int[count];
        for (int l = 0; l < Levels; l++)
        {
            var book = _codebooks[l];
            float[] centroids;
            if (count >= K)
            {
                var km = new KMeans(d, new KMeansOptions { Clusters = K, Seed = Options.Seed + l, Iterations = 20 });
                km.Train(residual, count);
                centroids = km.Centroids;
                km.Assign(residual, count, assign);
            }
            else
            {
                centroids = new float[K * d];
                float rms = Rms(residual);
                for (int k = 0; k < K; k++)
                {
                    int row = k < count ? k : _rng.NextInt(count);
                    for (int t = 0; t < d; t++) centroids[k * d + t] = residual[row * d + t] + (k < count ? 0f : 1e-2f * rms * _rng.NextNormal());
                }
                for (int i = 0; i < count; i++) assign[i] = i;
            }
            for (int k = 0; k < K; k++) book.SetCode(k, centroids.AsSpan(k * d, d));
            for (int i = 0; i < count; i++)
            {
                var r = residual.AsSpan(i * d, d);
                System.Numerics.Tensors.TensorPrimitives.Subtract(r, centroids.AsSpan(assign[i] * d, d), r);
            }
        }
        NeedsKMeansInit = false;
    }

    /// <summary>
    /// The training bookkeeping outside the parameters (the step count, each code's last use, the re-seeding
    /// generator) as one line of text, so that a resumed run re-seeds dead codes exactly as an uninterrupted one.
    /// </summary>
    public string SaveUsage()
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        return string.Join(";", [_step.ToString(inv), string.Join(",", _rng.State.Select(w => w.ToString(inv))),
            .. _lastUsed.Select(level => string.Join(",", level.Select(v => v.ToString(inv))))]);
    }

    /// <summary>Restores <see cref="SaveUsage"/>'s text; throws <see cref="InvalidDataException"/> when it does not fit this quantizer's shape.</summary>
    public void LoadUsage(string text)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        var fields = text.Split(';');
        if (fields.Length != 2 + Levels || fields[2..].Any(f => f.Split(',').Length != Options.Codes))
            throw new InvalidDataException($"code-use state holds {fields.Length - 2} levels, the quantizer has {Levels} levels of {Options.Codes} codes");
        try
        {
            _step = long.Parse(fields[0], inv);
            _rng.State = fields[1].Split(',').Select(w => ulong.Parse(w, inv)).ToArray();
            for (int l = 0; l < Levels; l++) _lastUsed[l] = fields[2 + l].Split(',').Select(v => long.Parse(v, inv)).ToArray();
        }
        catch (FormatException e)
        {
            throw new InvalidDataException($"code-use state is malformed: {e.Message}", e);
        }
    }

    /// <summary>Marks this step's codes as used, counts dead codes, and re-seeds them from batch residuals when enabled.</summary>
    private void UpdateUsage(int[] codes, int n, float[][] residuals, int[] dead, int[] reset)
    {
        _step++;
        int L = Levels, d = Width;
        for (int l = 0; l < L; l++)
        {
            var last = _lastUsed[l];
            for (int i = 0; i < n; i++) last[codes[i * L + l]] = _step;
            for (int k = 0; k < last.Length; k++)
            {
                if (_step - last[k] < Options.DeadCodeSteps) continue;
                dead[l]++;
                if (!Options.ResetDeadCodes || n == 0) continue;
                // A random batch item's current residual: the code lands where data is and gets chosen next step.
                int row = _rng.NextInt(n);
                _codebooks[l].SetCode(k, residuals[l].AsSpan(row * d, d));
                last[k] = _step;
                reset[l]++;
            }
        }
    }

    /// <summary>Nearest code of each row: one GEMM for the distances, then argmin (no gradient).</summary>
    private static int[] Nearest(Tensor x, Tensor codebook)
    {
        using var _ = Tensor.NoGrad();
        return Tensor.PairwiseSquaredDistance(x.Detach(), codebook.Detach()).ArgMin();
    }

    private static float Rms(ReadOnlySpan<float> x)
        => x.Length == 0 ? 0f : MathF.Sqrt(System.Numerics.Tensors.TensorPrimitives.SumOfSquares(x) / x.Length);

    private void CheckInput(Tensor z)
    {
        if (z.Rank != 2 || z.Shape[1] != Width)
            throw new ArgumentException($"ResidualVectorQuantizer: input {z.ShapeString} is not [N, {Width}]");
    }
}
