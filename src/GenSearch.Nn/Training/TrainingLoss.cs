using GenSearch.Tensors;

namespace GenSearch.Nn;

/// <summary>One named figure of a training step (a loss term, or any number worth logging), as logged.</summary>
/// <param name="Name">Column name in the training log: no tabs or line breaks.</param>
/// <param name="Value">The step's value.</param>
public readonly record struct LossPart(string Name, float Value);

/// <summary>
/// What a loss closure returns to <see cref="Trainer"/>: the total to minimise plus named parts, which the trainer
/// reports in <see cref="TrainerProgress.Parts"/> and writes to its training log. Build it either from parts
/// (<see cref="Add"/> sums them into the total, so the logged parts add up to it) or from a ready total with
/// <see cref="Record"/>ed figures (which need not add up: a metric, a raw term before its weight).
/// </summary>
/// <example><c>new TrainingLoss().Add("ntp", ntp).Add("contrast", contrast, 0.5f).Add("vq", vq, 0.1f)</c></example>
public sealed class TrainingLoss
{
    private readonly List<LossPart> _parts = [];
    private Tensor? _total;

    /// <summary>An empty loss; <see cref="Add"/> parts to it.</summary>
    public TrainingLoss()
    {
    }

    /// <summary>A loss with a ready total; <see cref="Record"/> its parts.</summary>
    public TrainingLoss(Tensor total) => _total = total;

    /// <summary>The scalar to minimise.</summary>
    public Tensor Total => _total ?? throw new InvalidOperationException("the loss has no parts: Add at least one, or construct it from a total");

    /// <summary>The named parts, in the order added.</summary>
    public IReadOnlyList<LossPart> Parts => _parts;

    /// <summary>Adds <paramref name="weight"/> x <paramref name="part"/> (a scalar) to the total and logs that weighted value under <paramref name="name"/>.</summary>
    public TrainingLoss Add(string name, Tensor part, float weight = 1f)
    {
        var term = weight == 1f ? part : part * weight;
        _total = _total is null ? term : _total + term;
        return Record(name, term.Item());
    }

    /// <summary>Logs <paramref name="value"/> under <paramref name="name"/> without touching the total.</summary>
    public TrainingLoss Record(string name, float value)
    {
        if (string.IsNullOrEmpty(name) || name.AsSpan().IndexOfAny('\t', '\n', '\r') >= 0)
            throw new ArgumentException($"loss part name '{name}' must be non-empty, without tabs or line breaks");
        if (_parts.Exists(p => p.Name == name)) throw new ArgumentException($"loss part '{name}' is given twice");
        _parts.Add(new LossPart(name, value));
        return this;
    }
}
