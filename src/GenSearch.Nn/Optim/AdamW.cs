using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using System.Runtime.Intrinsics;
using GenSearch.Tensors;

namespace GenSearch.Nn;

/// <summary>Hyper-parameters of <see cref="AdamW"/>, PyTorch's defaults but for the weight decay.</summary>
public sealed record AdamWOptions
{
    /// <summary>Learning rate (a schedule may set it every step).</summary>
    public float LearningRate { get; init; } = 1e-3f;
    /// <summary>Decay of the first-moment estimate.</summary>
    public float Beta1 { get; init; } = 0.9f;
    /// <summary>Decay of the second-moment estimate.</summary>
    public float Beta2 { get; init; } = 0.999f;
    /// <summary>Added to the root of the second moment.</summary>
    public float Epsilon { get; init; } = 1e-8f;
    /// <summary>Decoupled weight decay, applied as p -= lr * decay * p.</summary>
    public float WeightDecay { get; init; } = 0.01f;
    /// <summary>Whether rank-1 parameters (biases, norm scales) are decayed too; off as in most transformer recipes.</summary>
    public bool DecayVectors { get; init; }
}

/// <summary>
/// Adam with decoupled weight decay (Loshchilov and Hutter). One fused SIMD pass per parameter
/// updates both moments and the value. Parameters without a gradient this step are left alone.
/// Parameters fall into <see cref="ParameterGroup"/>s, each with its own learning-rate multiplier, weight decay
/// and dense or sparse (row-wise) updates; with no groups given, all are in the default group.
/// </summary>
public sealed class AdamW
{
    private readonly (string Name, Tensor Parameter)[] _parameters;
    private readonly float[][] _m, _v;
    private readonly int[] _groupOf;                 // parameter index -> group index (0 = default)
    private readonly ResolvedGroup[] _groups;

    private sealed record ResolvedGroup(string Name, float LearningRateScale, float WeightDecay, bool Sparse, List<string> Parameters);

    /// <summary>The options; <see cref="LearningRate"/> may change per step.</summary>
    public AdamWOptions Options { get; }

    /// <summary>The learning rate of the next step.</summary>
    public float LearningRate { get; set; }

    /// <summary>Steps taken (bias correction uses it).</summary>
    public long Step { get; private set; }

    /// <summary>An optimizer over <paramref name="parameters"/> (named, for checkpoints), all in the default group.</summary>
    public AdamW(IEnumerable<(string Name, Tensor Parameter)> parameters, AdamWOptions? options = null)
        : this(parameters, options, [])
    {
    }

    /// <summary>
    /// An optimizer over <paramref name="parameters"/> split into <paramref name="groups"/>: each parameter goes to
    /// the one explicit group that matches its name, or else to the default group. Throws <see cref="ArgumentException"/>
    /// for a group that matches no parameter, a parameter that two groups match, or a repeated group name.
    /// </summary>
    public AdamW(IEnumerable<(string Name, Tensor Parameter)> parameters, AdamWOptions? options, IReadOnlyList<ParameterGroup> groups)
    {
        Options = options ?? new AdamWOptions();
        LearningRate = Options.LearningRate;
        _parameters = parameters.ToArray();
        _m = _parameters.Select(p => new float[p.Parameter.Size]).ToArray();
        _v = _parameters.Select(p => new float[p.Parameter.Size]).ToArray();

        _groups = new ResolvedGroup[groups.Count + 1];
        _groups[0] = new ResolvedGroup(ParameterGroup.DefaultName, 1f, Options.WeightDecay, false, []);
        for (int g = 0; g < groups.Count; g++)
        {
            var group = groups[g];
            if (group.Name == ParameterGroup.DefaultName || groups.Take(g).Any(o => o.Name == group.Name))
                throw new ArgumentException($"parameter group name '{group.Name}' is used twice (\"{ParameterGroup.DefaultName}\" is the implicit group's)");
            if (!(group.LearningRateScale >= 0) || group.WeightDecay is < 0 || group.WeightDecay is float.NaN)
                throw new ArgumentException($"parameter group '{group.Name}': LearningRateScale and WeightDecay must be >= 0");
            _groups[g + 1] = new ResolvedGroup(group.Name, group.LearningRateScale, group.WeightDecay ?? Options.WeightDecay, group.Sparse, []);
        }
        _groupOf = new int[_parameters.Length];
        for (int i = 0; i < _parameters.Length; i++)
        {
            string name = _parameters[i].Name;
            for (int g = 0; g < groups.Count; g++)
            {
                if (!groups[g].Matches(name)) continue;
                if (_groupOf[i] != 0)
                    throw new ArgumentException($"parameter '{name}' is in two groups, '{_groups[_groupOf[i]].Name}' and '{groups[g].Name}'; a parameter belongs to one");
                _groupOf[i] = g + 1;
            }
            _groups[_groupOf[i]].Parameters.Add(name);
        }
        foreach (var group in _groups.Skip(1))
            if (group.Parameters.Count == 0)
                throw new ArgumentException($"parameter group '{group.Name}' matches no parameter (the model's are {Preview(_parameters.Select(p => p.Name))})");
    }

    /// <summary>The groups in order, the default group first, each with the names of its parameters.</summary>
    public IReadOnlyList<(string Name, IReadOnlyList<string> Parameters)> Groups
        => _groups.Select(g => (g.Name, (IReadOnlyList<string>)g.Parameters)).ToArray();

    private static string Preview(IEnumerable<string> names)
    {
        var list = names.Take(9).ToList();
        return list.Count == 0 ? "none" : string.Join(", ", list.Take(8)) + (list.Count > 8 ? ", ..." : "");
    }

    /// <summary>One update from the current gradients.</summary>
    public void StepOnce()
    {
        Step++;
        float b1 = Options.Beta1, b2 = Options.Beta2;
        float correction1 = 1f - MathF.Pow(b1, Step), correction2 = 1f - MathF.Pow(b2, Step);
        float rootCorrection2 = MathF.Sqrt(correction2);
        for (int i = 0; i < _parameters.Length; i++)
        {
            var p = _parameters[i].Parameter;
            if (p.Grad is null) continue;
            var group = _groups[_groupOf[i]];
            float lr = LearningRate * group.LearningRateScale, stepSize = lr / correction1;
            bool decay = group.WeightDecay > 0 && (p.Rank > 1 || Options.DecayVectors);
            float keep = decay ? 1f - lr * group.WeightDecay : 1f;
            if ((p.RowSparse || group.Sparse) && p.Rank >= 2) UpdateTouchedRows(p, _m[i], _v[i], keep, b1, b2, stepSize, rootCorrection2);
            else Update(p.Data, p.Grad, _m[i], _v[i], keep, b1, b2, stepSize, rootCorrection2, Options.Epsilon);
        }
    }

    /// <summary>
    /// <see cref="Update"/> applied row by row to the rows of a <see cref="Tensor.RowSparse"/> parameter (or
    /// one in a sparse <see cref="ParameterGroup"/>) whose gradient has a non-zero value; other rows, and their moments, stay as they are.
    /// </summary>
    private void UpdateTouchedRows(Tensor p, float[] m, float[] v, float keep, float b1, float b2, float stepSize, float rootCorrection2)
    {
        int width = p.Size / p.Shape[0];
        var g = p.Grad!;
        if (p.GradRows is { } rows)
        {
            // Only these rows can be non-zero (Tensor.GradRows); the same per-row test as the full scan below.
            foreach (int row in rows)
            {
                int at = row * width;
                if (!g.AsSpan(at, width).ContainsAnyExcept(0f)) continue;
                Update(p.Data.AsSpan(at, width), g.AsSpan(at, width), m.AsSpan(at, width), v.AsSpan(at, width),
                    keep, b1, b2, stepSize, rootCorrection2, Options.Epsilon);
            }
            return;
        }
        for (int start = 0; start < g.Length; start += width)
        {
            if (!g.AsSpan(start, width).ContainsAnyExcept(0f)) continue;
            Update(p.Data.AsSpan(start, width), g.AsSpan(start, width), m.AsSpan(start, width), v.AsSpan(start, width),
                keep, b1, b2, stepSize, rootCorrection2, Options.Epsilon);
        }
    }

    /// <summary>
    /// m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p = keep * p - stepSize * m / (sqrt(v) / sqrt(c2) + eps).
    /// </summary>
    internal static void Update(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v,
        float keep, float b1, float b2, float stepSize, float rootCorrection2, float eps)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var vb1 = Vector256.Create(b1); var va1 = Vector256.Create(1f - b1);
            var vb2 = Vector256.Create(b2); var va2 = Vector256.Create(1f - b2);
            var vKeep = Vector256.Create(keep); var vStep = Vector256.Create(stepSize);
            var vInvRoot = Vector256.Create(1f / rootCorrection2); var vEps = Vector256.Create(eps);
            for (; i <= p.Length - 8; i += 8)
            {
                var gi = Vector256.Create(g.Slice(i, 8));
                var mi = vb1 * Vector256.Create(m.Slice(i, 8)) + va1 * gi;
                var vi = vb2 * Vector256.Create(v.Slice(i, 8)) + va2 * gi * gi;
                var pi = vKeep * Vector256.Create(p.Slice(i, 8)) - vStep * mi / (Vector256.Sqrt(vi) * vInvRoot + vEps);
                mi.CopyTo(m.Slice(i, 8)); vi.CopyTo(v.Slice(i, 8)); pi.CopyTo(p.Slice(i, 8));
            }
        }
        for (; i < p.Length; i++)
        {
            m[i] = b1 * m[i] + (1f - b1) * g[i];
            v[i] = b2 * v[i] + (1f - b2) * g[i] * g[i];
            p[i] = keep * p[i] - stepSize * m[i] / (MathF.Sqrt(v[i]) / rootCorrection2 + eps);
        }
    }

    /// <summary>Clears the gradients of every parameter.</summary>
    public void ZeroGrad()
    {
        foreach (var (_, p) in _parameters) p.ZeroGrad();
    }

    /// <summary>The moments by name ("m." / "v." + parameter name) and the step, for a checkpoint.</summary>
    public (IReadOnlyDictionary<string, Tensor> Moments, long Step) State()
    {
        var dict = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        for (int i = 0; i < _parameters.Length; i++)
        {
            var (name, p) = _parameters[i];
            dict["m." + name] = new Tensor(_m[i], p.Shape);
            dict["v." + name] = new Tensor(_v[i], p.Shape);
        }
        return (dict, Step);
    }

    /// <summary>Restores <see cref="State"/>; every moment must be present with the parameter's shape.</summary>
    public void LoadState(IReadOnlyDictionary<string, Tensor> moments, long step)
    {
        for (int i = 0; i < _parameters.Length; i++)
        {
            var (name, p) = _parameters[i];
            foreach (var (prefix, target) in new[] { ("m.", _m[i]), ("v.", _v[i]) })
            {
                if (!moments.TryGetValue(prefix + name, out var t))
                    throw new InvalidDataException($"optimizer state has no '{prefix + name}'");
                if (t.Size != target.Length)
                    throw new InvalidDataException($"optimizer state '{prefix + name}' has {t.Size} values, the parameter {target.Length}");
                t.Data.AsSpan().CopyTo(target);
            }
        }
        Step = step;
    }

    /// <summary>
    /// Scales all gradients so that their global L2 norm is at most <paramref name="maxNorm"/>;
    /// returns the norm before clipping.
    /// </summary>
    public static float ClipGradNorm(IEnumerable<Tensor> parameters, float maxNorm)
    {
        var withGrad = parameters.Where(p => p.Grad is not null).ToList();
        double sum = 0;
        foreach (var p in withGrad) sum += TensorPrimitives.SumOfSquares(p.Grad!);
        float norm = (float)Math.Sqrt(sum);
        if (norm > maxNorm && norm > 0)
        {
            float scale = maxNorm / (norm + 1e-6f);
            foreach (var p in withGrad) TensorPrimitives.Multiply(p.Grad!, scale, p.Grad!);
        }
        return norm;
    }
}

/// <summary>Linear warm-up to the peak learning rate, then cosine decay to a floor.</summary>
public sealed record WarmupCosineSchedule(float PeakLearningRate, int WarmupSteps, int TotalSteps, float MinLearningRate = 0f)
{
    /// <summary>The learning rate for step <paramref name="step"/> (0-based).</summary>
    public float At(long step)
    {
        if (WarmupSteps > 0 && step < WarmupSteps) return PeakLearningRate * (step + 1) / WarmupSteps;
        if (step >= TotalSteps) return MinLearningRate;
        double progress = (double)(step - WarmupSteps) / Math.Max(1, TotalSteps - WarmupSteps);
        return MinLearningRate + (PeakLearningRate - MinLearningRate) * (float)(0.5 * (1 + Math.Cos(Math.PI * progress)));
    }
}
