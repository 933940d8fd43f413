using System.Text.Json;
using System.Text.Json.Serialization;
using GenSearch.Retrieval.Dense;
using GenSearch.Tensors.IO;
using GenSearch.Text;

namespace GenSearch.Serving;

/// <summary>
/// A trained model on disk: <c>config.json</c> (what it is and its sizes), <c>tokenizer.txt</c>,
/// <c>model.safetensors</c> (weights), and per kind its catalog artefacts (<c>items.safetensors</c>:
/// item vectors or semantic IDs, with <c>items.txt</c>: the item id of each row). While training,
/// <c>checkpoint.safetensors</c> holds the state a killed run resumes from.
/// </summary>
public sealed class ModelDirectory(string path)
{
    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>The directory.</summary>
    public string Path { get; } = path;

    /// <summary>config.json.</summary>
    public string ConfigPath => System.IO.Path.Combine(Path, "config.json");
    /// <summary>tokenizer.txt.</summary>
    public string TokenizerPath => System.IO.Path.Combine(Path, "tokenizer.txt");
    /// <summary>model.safetensors.</summary>
    public string WeightsPath => System.IO.Path.Combine(Path, "model.safetensors");
    /// <summary>checkpoint.safetensors.</summary>
    public string CheckpointPath => System.IO.Path.Combine(Path, "checkpoint.safetensors");
    /// <summary>items.safetensors.</summary>
    public string ItemsPath => System.IO.Path.Combine(Path, "items.safetensors");
    /// <summary>items.txt.</summary>
    public string ItemIdsPath => System.IO.Path.Combine(Path, "items.txt");

    /// <summary>Writes config.json atomically.</summary>
    public void WriteConfig<T>(T config)
    {
        Directory.CreateDirectory(Path);
        string temp = ConfigPath + ".tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(config, Json));
        File.Move(temp, ConfigPath, overwrite: true);
    }

    /// <summary>Reads config.json, naming the file when it is missing or malformed.</summary>
    public T ReadConfig<T>()
    {
        if (!File.Exists(ConfigPath)) throw new FileNotFoundException($"{ConfigPath}: no model here (config.json is missing)", ConfigPath);
        try
        {
            return JsonSerializer.Deserialize<T>(File.ReadAllText(ConfigPath), Json) ?? throw new InvalidDataException($"{ConfigPath}: empty");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{ConfigPath}: line {e.LineNumber + 1}: {e.Message}", e);
        }
    }

    /// <summary>Loads the tokenizer.</summary>
    public WordPieceTokenizer Tokenizer() => File.Exists(TokenizerPath)
        ? WordPieceTokenizer.Load(TokenizerPath)
        : throw new FileNotFoundException($"{TokenizerPath}: the model's tokenizer is missing", TokenizerPath);

    /// <summary>Writes the item ids, one a line.</summary>
    public void WriteItemIds(IEnumerable<string> ids)
    {
        string temp = ItemIdsPath + ".tmp";
        File.WriteAllLines(temp, ids);
        File.Move(temp, ItemIdsPath, overwrite: true);
    }

    /// <summary>Reads the item ids.</summary>
    public string[] ItemIds() => File.Exists(ItemIdsPath)
        ? File.ReadAllLines(ItemIdsPath)
        : throw new FileNotFoundException($"{ItemIdsPath}: the model's item list is missing", ItemIdsPath);

    /// <summary>Reads one F32 matrix from items.safetensors, checking its row count against the item list.</summary>
    public (float[] Data, int Rows, int Columns) ItemMatrix(string name, int expectedRows)
    {
        var file = SafeTensors.Load(ItemsPath);
        var entry = file[name];
        if (entry.Shape.Length != 2 || entry.Shape[0] != expectedRows)
            throw new InvalidDataException($"{ItemsPath}: '{name}' has shape [{string.Join(", ", entry.Shape)}], expected {expectedRows} rows");
        return (entry.AsF32(), (int)entry.Shape[0], (int)entry.Shape[1]);
    }

    /// <summary>The catalog's item vectors (<paramref name="name"/> in items.safetensors) in an exact or HNSW index of <paramref name="metric"/>, with the item ids.</summary>
    public (IVectorIndex Index, string[] Ids) VectorIndex(bool hnsw, string name = "vectors", VectorMetric metric = VectorMetric.InnerProduct)
    {
        var ids = ItemIds();
        var (vectors, _, columns) = ItemMatrix(name, ids.Length);
        IVectorIndex index = hnsw ? new HnswIndex(columns, new HnswOptions { Metric = metric }) : new FlatIndex(columns, metric);
        index.Add(vectors);
        return (index, ids);
    }
}
