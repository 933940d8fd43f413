using System.Globalization;
using GenSearch.Tensors;
using GenSearch.Tensors.IO;

namespace GenSearch.Nn;

/// <summary>
/// Saves and loads models and training state as safetensors files (a PyTorch user opens them with
/// the <c>safetensors</c> library). Writes are atomic; loads check names, shapes and dtypes and
/// name, with the file, everything that does not match.
/// </summary>
/// <remarks>
/// A training checkpoint holds "model.NAME" for every parameter, "optimizer.m.NAME" and
/// "optimizer.v.NAME" for AdamW's moments, and metadata: the optimizer step, the training step, the
/// data position and the generator's state, so that a killed run resumes where it stopped.
/// </remarks>
public static class Checkpoint
{
    /// <summary>Writes the module's parameters to <paramref name="path"/>.</summary>
    public static void SaveModel(string path, Module module, IReadOnlyDictionary<string, string>? metadata = null)
        => SafeTensors.Save(path, Entries("", module.StateDict()), metadata);

    /// <summary>Reads the parameters in <paramref name="path"/> into <paramref name="module"/>; returns the file's metadata.</summary>
    public static IReadOnlyDictionary<string, string> LoadModel(string path, Module module, bool strict = true)
    {
        var file = SafeTensors.Load(path);
        LoadInto(file, "", module, strict);
        return file.Metadata;
    }

    /// <summary>Writes parameters, optimizer moments and <paramref name="state"/> to <paramref name="path"/> (atomically).</summary>
    public static void SaveTraining(string path, Module module, AdamW optimizer, TrainingState state)
    {
        var (moments, step) = optimizer.State();
        var metadata = new Dictionary<string, string>(state.Extra, StringComparer.Ordinal)
        {
            ["optimizer_step"] = step.ToString(CultureInfo.InvariantCulture),
            ["training_step"] = state.Step.ToString(CultureInfo.InvariantCulture),
            ["data_position"] = state.DataPosition.ToString(CultureInfo.InvariantCulture),
            ["rng_state"] = string.Join(",", state.RngState.Select(w => w.ToString(CultureInfo.InvariantCulture))),
        };
        SafeTensors.Save(path, Entries("model.", module.StateDict()).Concat(Entries("optimizer.", moments)), metadata);
    }

    /// <summary>Restores what <see cref="SaveTraining"/> wrote; returns the training state.</summary>
    public static TrainingState LoadTraining(string path, Module module, AdamW optimizer)
    {
        var file = SafeTensors.Load(path);
        LoadInto(file, "model.", module, strict: true);
        var moments = file.Tensors.Where(t => t.Name.StartsWith("optimizer.", StringComparison.Ordinal))
            .ToDictionary(t => t.Name["optimizer.".Length..], t => ToTensor(file.Path, t), StringComparer.Ordinal);
        try
        {
            optimizer.LoadState(moments, ReadLong(file, "optimizer_step"));
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{file.Path}: {e.Message}", e);
        }
        var rng = Metadata(file, "rng_state").Split(',').Select(w => ulong.Parse(w, CultureInfo.InvariantCulture)).ToArray();
        var extra = file.Metadata.Where(kv => kv.Key is not ("optimizer_step" or "training_step" or "data_position" or "rng_state"))
            .ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        return new TrainingState(ReadLong(file, "training_step"), ReadLong(file, "data_position"), rng, extra);
    }

    private static IEnumerable<SafeTensorEntry> Entries(string prefix, IReadOnlyDictionary<string, Tensor> tensors)
        => tensors.Select(kv => SafeTensorEntry.F32(prefix + kv.Key, kv.Value.Shape.Select(d => (long)d).ToArray(), kv.Value.Data));

    private static void LoadInto(SafeTensorsFile file, string prefix, Module module, bool strict)
    {
        var values = file.Tensors.Where(t => t.Name.StartsWith(prefix, StringComparison.Ordinal))
            .ToDictionary(t => t.Name[prefix.Length..], t => ToTensor(file.Path, t), StringComparer.Ordinal);
        try
        {
            module.LoadStateDict(values, strict);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{file.Path}: {e.Message}", e);
        }
    }

    private static Tensor ToTensor(string path, SafeTensorEntry entry)
    {
        if (entry.DType != SafeTensorDType.F32)
            throw new InvalidDataException($"{path}: tensor '{entry.Name}' is {entry.DType}, parameters are F32");
        var data = entry.AsF32();
        // A NaN or infinity in a weight poisons every output it reaches; name the file and tensor here,
        // not a query row three layers later.
        int bad = FirstNonFinite(data);
        if (bad >= 0) throw new InvalidDataException($"{path}: tensor '{entry.Name}' holds {data[bad]} at element {bad}; the file is damaged or the run diverged: retrain");
        return new Tensor(data, entry.Shape.Select(d => checked((int)d)).ToArray());
    }

    private static int FirstNonFinite(float[] data)
    {
        // Sum is NaN exactly when some element is NaN or infinite (or the sum overflows, rare: then scan).
        if (float.IsFinite(System.Numerics.Tensors.TensorPrimitives.Sum(data))) return -1;
        for (int i = 0; i < data.Length; i++) if (!float.IsFinite(data[i])) return i;
        return -1;
    }

    private static string Metadata(SafeTensorsFile file, string key)
        => file.Metadata.TryGetValue(key, out var value) ? value : throw new InvalidDataException($"{file.Path}: not a training checkpoint (no '{key}' in its metadata)");

    private static long ReadLong(SafeTensorsFile file, string key)
        => long.TryParse(Metadata(file, key), NumberStyles.Integer, CultureInfo.InvariantCulture, out long v)
            ? v : throw new InvalidDataException($"{file.Path}: metadata '{key}' is not an integer");
}

/// <summary>Where a training run stands, beyond its weights: enough to resume it exactly.</summary>
/// <param name="Step">Training steps done.</param>
/// <param name="DataPosition">Position in the data stream (examples consumed, or an epoch-and-offset code).</param>
/// <param name="RngState">The run's generator state (<see cref="Rng.State"/>).</param>
/// <param name="Extra">Anything else the trainer wants back (config, epoch), as strings.</param>
public sealed record TrainingState(long Step, long DataPosition, ulong[] RngState, IReadOnlyDictionary<string, string> Extra);
