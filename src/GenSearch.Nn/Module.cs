using GenSearch.Tensors;

namespace GenSearch.Nn;

/// <summary>
/// A piece of a model: named parameters and named sub-modules, registered explicitly so that the
/// state dict has stable, readable names ("encoder.layers.0.attention.query.weight"), as in PyTorch.
/// </summary>
public abstract class Module
{
    private readonly List<(string Name, Tensor Parameter)> _parameters = [];
    private readonly List<(string Name, Module Child)> _children = [];

    /// <summary>True in training mode (dropout on), false in evaluation mode.</summary>
    public bool Training { get; private set; } = true;

    /// <summary>Registers a trainable tensor under <paramref name="name"/> and returns it.</summary>
    protected Tensor RegisterParameter(string name, Tensor parameter)
    {
        CheckName(name);
        parameter.RequiresGrad = true;
        _parameters.Add((name, parameter));
        return parameter;
    }

    /// <summary>Registers a sub-module under <paramref name="name"/> and returns it.</summary>
    protected T RegisterModule<T>(string name, T child) where T : Module
    {
        CheckName(name);
        _children.Add((name, child));
        return child;
    }

    private void CheckName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Contains('.'))
            throw new ArgumentException($"module member name '{name}' must be non-empty and contain no '.'");
        if (_parameters.Any(p => p.Name == name) || _children.Any(c => c.Name == name))
            throw new ArgumentException($"'{name}' is registered twice in {GetType().Name}");
    }

    /// <summary>Every parameter with its dotted path, depth first in registration order.</summary>
    public IEnumerable<(string Name, Tensor Parameter)> NamedParameters(string prefix = "")
    {
        foreach (var (name, p) in _parameters) yield return (prefix + name, p);
        foreach (var (name, child) in _children)
            foreach (var item in child.NamedParameters(prefix + name + "."))
                yield return item;
    }

    /// <summary>Every parameter.</summary>
    public IEnumerable<Tensor> Parameters() => NamedParameters().Select(p => p.Parameter);

    /// <summary>Total number of trainable values.</summary>
    public long ParameterCount() => Parameters().Sum(p => (long)p.Size);

    /// <summary>Switches training mode (dropout on) for this module and all below it.</summary>
    public void Train(bool training = true)
    {
        Training = training;
        foreach (var (_, child) in _children) child.Train(training);
    }

    /// <summary>Evaluation mode: dropout off.</summary>
    public void Eval() => Train(false);

    /// <summary>Clears every parameter's gradient.</summary>
    public void ZeroGrad()
    {
        foreach (var p in Parameters()) p.ZeroGrad();
    }

    /// <summary>Names the parameters after their paths (for messages) and returns them by name.</summary>
    public IReadOnlyDictionary<string, Tensor> StateDict()
    {
        var dict = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, p) in NamedParameters())
        {
            p.Name ??= name;
            dict.Add(name, p);
        }
        return dict;
    }

    /// <summary>
    /// Copies values into the parameters by name. <paramref name="strict"/>: every parameter must be
    /// given and nothing else. A shape mismatch always fails. The error names every mismatch at once.
    /// </summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> values, bool strict = true)
    {
        var own = StateDict();
        var problems = new List<string>();
        foreach (var (name, p) in own)
        {
            if (!values.TryGetValue(name, out var v))
            {
                if (strict) problems.Add($"missing '{name}' {p.ShapeString}");
                continue;
            }
            if (!p.Shape.AsSpan().SequenceEqual(v.Shape)) problems.Add($"'{name}' has shape {v.ShapeString}, the model needs {p.ShapeString}");
        }
        if (strict)
            foreach (var name in values.Keys.Where(k => !own.ContainsKey(k)).Order(StringComparer.Ordinal))
                problems.Add($"unexpected '{name}'");
        if (problems.Count > 0)
            throw new InvalidDataException($"state dict does not match {GetType().Name}: {string.Join("; ", problems)}");
        foreach (var (name, p) in own)
            if (values.TryGetValue(name, out var v)) v.Data.AsSpan().CopyTo(p.Data);
    }
}
