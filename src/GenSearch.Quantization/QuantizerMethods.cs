using GenSearch.Tensors.IO;

namespace GenSearch.Quantization;

/// <summary>What the CLI and other callers choose a quantizer by: the common knobs every method reads.</summary>
/// <param name="Dimension">Vector width.</param>
/// <param name="Levels">Codes per vector.</param>
/// <param name="Codes">Codebook size per level.</param>
/// <param name="Seed">Seed of every random choice.</param>
/// <param name="BalanceFactor">Cap on bucket sizes for methods that support it (0 = off).</param>
public sealed record QuantizerSpec(int Dimension, int Levels, int Codes, int Seed = 1234, double BalanceFactor = 0);

/// <summary>
/// The registry of quantization methods by name: each registers a factory (from a <see cref="QuantizerSpec"/>)
/// and a loader (from its exported safetensors). The CLI offers exactly the registered names, so a new
/// method (RQ-VAE, SimVQ) becomes available by calling <see cref="Register"/> in its static set-up.
/// </summary>
public static class QuantizerMethods
{
    private static readonly Dictionary<string, (Func<QuantizerSpec, IQuantizer> Create, Func<SafeTensorsFile, IQuantizer> Load)> s_methods = new()
    {
        [ResidualKMeans.MethodName] = (
            spec => new ResidualKMeans(spec.Dimension, new ResidualKMeansOptions
            {
                Levels = spec.Levels, Codes = spec.Codes,
                KMeans = new KMeansOptions { Seed = spec.Seed, BalanceFactor = spec.BalanceFactor },
            }),
            file => ResidualKMeans.Import(file)),
        [NeuralQuantizer.RqVaeName] = (spec => NeuralQuantizer.Create(NeuralQuantizer.RqVaeName, spec), NeuralQuantizer.Import),
        [NeuralQuantizer.SimVqName] = (spec => NeuralQuantizer.Create(NeuralQuantizer.SimVqName, spec), NeuralQuantizer.Import),
        [NeuralQuantizer.PlainVqName] = (spec => NeuralQuantizer.Create(NeuralQuantizer.PlainVqName, spec), NeuralQuantizer.Import),
    };

    /// <summary>The registered method names, sorted.</summary>
    public static IReadOnlyList<string> Names { get { lock (s_methods) return [.. s_methods.Keys.Order(StringComparer.Ordinal)]; } }

    /// <summary>Adds (or replaces) a method.</summary>
    public static void Register(string name, Func<QuantizerSpec, IQuantizer> create, Func<SafeTensorsFile, IQuantizer> load)
    {
        lock (s_methods) s_methods[name] = (create, load);
    }

    /// <summary>An untrained quantizer of method <paramref name="name"/>.</summary>
    public static IQuantizer Create(string name, QuantizerSpec spec) => Lookup(name).Create(spec);

    /// <summary>Saves a trained quantizer as safetensors; the metadata's "method" says how to load it.</summary>
    public static void Save(IQuantizer quantizer, string path)
    {
        var (tensors, metadata) = quantizer.Export();
        var meta = new Dictionary<string, string>(metadata) { ["method"] = quantizer.Method };
        SafeTensors.Save(path, tensors, meta);
    }

    /// <summary>Loads a quantizer saved by <see cref="Save"/>.</summary>
    public static IQuantizer Load(string path)
    {
        var file = SafeTensors.Load(path);
        if (!file.Metadata.TryGetValue("method", out var method))
            throw new InvalidDataException($"{path}: no 'method' in the safetensors metadata; not a saved quantizer");
        return Lookup(method, path).Load(file);
    }

    private static (Func<QuantizerSpec, IQuantizer> Create, Func<SafeTensorsFile, IQuantizer> Load) Lookup(string name, string? path = null)
    {
        lock (s_methods)
        {
            return s_methods.TryGetValue(name, out var m) ? m : throw new ArgumentException(
                $"{(path != null ? path + ": " : "")}unknown quantization method '{name}' (known: {string.Join(", ", s_methods.Keys.Order(StringComparer.Ordinal))})");
        }
    }
}
