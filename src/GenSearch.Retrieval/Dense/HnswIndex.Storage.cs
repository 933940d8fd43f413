using System.Globalization;
using GenSearch.Tensors.IO;

namespace GenSearch.Retrieval.Dense;

public sealed partial class HnswIndex
{
    private const string FormatName = "gensearch-hnsw";
    private const string FormatVersion = "1";

    /// <summary>
    /// Writes the whole index to <paramref name="path"/> as safetensors: "vectors" F32 [Count, Dimension],
    /// "levels" I32 [Count], "links0" I32 [Count, 2M + 1] (count, then neighbour ids), "upper_links"
    /// I32 (each node's layers 1..level, M + 1 slots a layer, nodes in id order) and "rng_state" I64 [4]
    /// (so that adding after a load draws the same levels as adding before the save); options, entry
    /// point and top level in the metadata. Removed rows are written as live ones: <see cref="Compact"/> first to drop them.
    /// </summary>
    public void Save(string path)
    {
        int upperTotal = 0;
        for (int i = 0; i < _count; i++) upperTotal = checked(upperTotal + _levels[i] * (_m + 1));
        var upper = new int[upperTotal];
        for (int i = 0, at = 0; i < _count; i++)
        {
            if (_upper[i] is { } links) { links.CopyTo(upper, at); at += links.Length; }
        }
        var state = _rng.State;
        var metadata = new Dictionary<string, string>
        {
            ["format"] = FormatName,
            ["version"] = FormatVersion,
            ["metric"] = Metric.ToString(),
            ["dimension"] = Invariant(Dimension),
            ["m"] = Invariant(_m),
            ["ef_construction"] = Invariant(Options.EfConstruction),
            ["ef_search"] = Invariant(_efSearch),
            ["seed"] = Options.Seed.ToString(CultureInfo.InvariantCulture),
            ["entry_point"] = Invariant(_entry),
            ["max_level"] = Invariant(_maxLevel),
        };
        SafeTensors.Save(path,
        [
            SafeTensorEntry.F32("vectors", [_count, Dimension], _data.AsSpan(0, _count * Dimension).ToArray()),
            SafeTensorEntry.I32("levels", [_count], _levels.AsSpan(0, _count).ToArray()),
            SafeTensorEntry.I32("links0", [_count, _m0 + 1], _links0.AsSpan(0, _count * (_m0 + 1)).ToArray()),
            SafeTensorEntry.I32("upper_links", [upperTotal], upper),
            SafeTensorEntry.I64("rng_state", [4], state.Select(w => unchecked((long)w)).ToArray()),
        ], metadata);
    }

    /// <summary>
    /// Reads an index written by <see cref="Save"/>, checking that every link points at an existing
    /// node that lives on that layer; errors are <see cref="InvalidDataException"/> naming the file.
    /// </summary>
    public static HnswIndex Load(string path)
    {
        var file = SafeTensors.Load(path);
        var meta = file.Metadata;
        string Meta(string key) => meta.TryGetValue(key, out var v) ? v
            : throw new InvalidDataException($"{path}: metadata has no '{key}' (is this an HNSW index written by GenSearch?)");
        int MetaInt(string key) => int.TryParse(Meta(key), NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v
            : throw new InvalidDataException($"{path}: metadata '{key}' is '{meta[key]}', not an integer");

        if (Meta("format") != FormatName) throw new InvalidDataException($"{path}: metadata 'format' is '{meta["format"]}', expected '{FormatName}'");
        if (Meta("version") != FormatVersion) throw new InvalidDataException($"{path}: format version '{meta["version"]}' is not supported (expected {FormatVersion})");
        if (!Enum.TryParse<VectorMetric>(Meta("metric"), out var metric) || !Enum.IsDefined(metric))
            throw new InvalidDataException($"{path}: metadata 'metric' is '{meta["metric"]}', not one of {string.Join(", ", Enum.GetNames<VectorMetric>())}");
        if (!ulong.TryParse(Meta("seed"), NumberStyles.Integer, CultureInfo.InvariantCulture, out ulong seed))
            throw new InvalidDataException($"{path}: metadata 'seed' is '{meta["seed"]}', not an unsigned integer");
        var options = new HnswOptions
        {
            M = MetaInt("m"),
            EfConstruction = MetaInt("ef_construction"),
            EfSearch = MetaInt("ef_search"),
            Seed = seed,
            Metric = metric,
        };
        int dimension = MetaInt("dimension");
        HnswIndex index;
        try
        {
            index = new HnswIndex(dimension, options);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{path}: metadata: {e.Message}", e);
        }

        var vectors = file["vectors"];
        if (vectors.Shape is not [var n, var d] || d != dimension)
            throw new InvalidDataException($"{path}: tensor 'vectors' has shape [{string.Join(", ", vectors.Shape)}], expected [count, {dimension}]");
        int count = checked((int)n);
        int m = index._m, m0 = index._m0;
        int[] levels = Expect(file, "levels", [count]).AsI32();
        int[] links0 = Expect(file, "links0", [count, m0 + 1]).AsI32();
        int[] upper = file["upper_links"].AsI32();
        long[] state = Expect(file, "rng_state", [4]).Data as long[]
            ?? throw new InvalidDataException($"{path}: tensor 'rng_state' is {file["rng_state"].DType}, expected I64");
        int entry = MetaInt("entry_point"), maxLevel = MetaInt("max_level");
        float[] data = vectors.AsF32();
        try
        {
            VectorMath.CheckRows(data, dimension, "vectors");
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{path}: tensor {e.Message}", e);
        }

        if (count == 0 ? entry != -1 || maxLevel != -1 : (uint)entry >= (uint)count || levels[entry] != maxLevel)
            throw new InvalidDataException($"{path}: entry point {entry} on level {maxLevel} does not match the {count} nodes' levels");
        long upperTotal = 0;
        for (int i = 0; i < count; i++)
        {
            if (levels[i] < 0 || levels[i] > maxLevel)
                throw new InvalidDataException($"{path}: tensor 'levels': node {i} has level {levels[i]}, outside 0..{maxLevel}");
            upperTotal += (long)levels[i] * (m + 1);
        }
        if (upper.LongLength != upperTotal)
            throw new InvalidDataException($"{path}: tensor 'upper_links' holds {upper.LongLength} values; the levels need {upperTotal}");

        index.Reserve(count);
        data.CopyTo(index._data, 0);
        levels.CopyTo(index._levels, 0);
        links0.CopyTo(index._links0, 0);
        for (int i = 0, at = 0; i < count; i++)
        {
            int length = levels[i] * (m + 1);
            index._upper[i] = length > 0 ? upper.AsSpan(at, length).ToArray() : null;
            at += length;
        }
        index._count = count;
        index._entry = entry;
        index._maxLevel = maxLevel;
        index._view = new VectorIndexView(index, count, null, 0, entry, maxLevel);
        index._rng.State = state.Select(w => unchecked((ulong)w)).ToArray();

        // Every list: a count within capacity, and neighbours that exist on that layer and are not the node itself.
        for (int node = 0; node < count; node++)
        {
            for (int layer = 0; layer <= levels[node]; layer++)
            {
                var links = index.Links(node, layer);
                int capacity = layer == 0 ? m0 : m;
                string tensor = layer == 0 ? "links0" : "upper_links";
                if (links[0] < 0 || links[0] > capacity)
                    throw new InvalidDataException($"{path}: tensor '{tensor}': node {node} has {links[0]} links on layer {layer}, outside 0..{capacity}");
                for (int i = 1; i <= links[0]; i++)
                {
                    int next = links[i];
                    if ((uint)next >= (uint)count || next == node || levels[next] < layer)
                        throw new InvalidDataException($"{path}: tensor '{tensor}': node {node} links to {next} on layer {layer}, which is not another node on that layer");
                }
            }
        }
        return index;
    }

    private static SafeTensorEntry Expect(SafeTensorsFile file, string name, long[] shape)
    {
        var entry = file[name];
        if (!entry.Shape.SequenceEqual(shape))
            throw new InvalidDataException($"{file.Path}: tensor '{name}' has shape [{string.Join(", ", entry.Shape)}], expected [{string.Join(", ", shape)}]");
        return entry;
    }

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
