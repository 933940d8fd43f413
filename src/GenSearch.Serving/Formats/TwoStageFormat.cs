using System.Text.Json.Nodes;
using GenSearch.Models;
using GenSearch.Models.Generative;
using GenSearch.Nn;
using GenSearch.Quantization;
using GenSearch.Retrieval;
using GenSearch.Retrieval.Generative;
using GenSearch.Tensors;
using GenSearch.Tensors.IO;

namespace GenSearch.Serving;

/// <summary>What config.json of a two-stage model holds.</summary>
/// <param name="Kind">"two-stage".</param>
/// <param name="Generator">The encoder-decoder's sizes.</param>
/// <param name="TokenSizes">Tokens per semantic-ID position (the levels' codebooks, then the collision token's range).</param>
/// <param name="MaxQueryTokens">Longest query in subwords.</param>
/// <param name="BeamSize">Beams at search time.</param>
/// <param name="ItemVectorsFrom">The two-tower model whose item vectors were quantized (it encodes new items).</param>
/// <param name="Training">The settings it was trained with.</param>
public sealed record TwoStageModelConfig(string Kind, EncoderDecoderConfig Generator, int[] TokenSizes, int MaxQueryTokens, int BeamSize,
    string ItemVectorsFrom, JsonObject? Training);

/// <summary>
/// "two-stage" (TIGER-style): semantic IDs quantized from a two-tower model's item vectors, and a
/// generator that writes them, served by beam search over the trie of the catalog's IDs. The
/// directory holds <c>tokenizer.txt</c>, the generator's weights, the IDs (<c>items.safetensors</c>
/// 'ids', row i = item i of <c>items.txt</c>) and the trained quantizer (<c>quantizer.safetensors</c>).
/// </summary>
public sealed class TwoStageFormat : IModelFormat
{
    /// <summary>The kind in config.json.</summary>
    public const string Name = "two-stage";
    /// <summary>The trained quantizer's file (absent in directories written before it was kept).</summary>
    public const string QuantizerFile = "quantizer.safetensors";

    /// <inheritdoc/>
    public string Kind => Name;
    /// <inheritdoc/>
    public string Description => "TIGER-style two-stage: semantic IDs from a two-tower model's item vectors, a generator that writes them (beam search over the ID trie)";
    /// <inheritdoc/>
    public IReadOnlyList<string> Modes { get; } = ["generative"];

    /// <inheritdoc/>
    public IRetriever Open(ModelDirectory dir, ModelOpenOptions options)
    {
        var config = dir.ReadConfig<TwoStageModelConfig>();
        if (config.Kind != Name) throw new InvalidDataException($"{dir.ConfigPath}: kind '{config.Kind}', not a {Name} model");
        var vocabulary = new SidVocabulary(config.TokenSizes);
        var generator = new SidGenerator(vocabulary, config.Generator, new Rng(0));
        Checkpoint.LoadModel(dir.WeightsPath, generator);
        generator.Eval();
        var ids = dir.ItemIds();
        var entry = SafeTensors.Load(dir.ItemsPath)["ids"];
        if (entry.Shape.Length != 2 || entry.Shape[0] != ids.Length || entry.Shape[1] != vocabulary.Levels)
            throw new InvalidDataException($"{dir.ItemsPath}: 'ids' has shape [{string.Join(", ", entry.Shape)}], expected [{ids.Length}, {vocabulary.Levels}]");
        var flat = entry.AsI32();
        var codes = Enumerable.Range(0, ids.Length).Select(i => flat.AsSpan(i * vocabulary.Levels, vocabulary.Levels).ToArray()).ToList();
        int beam = options.BeamSize ?? config.BeamSize;
        if (beam <= 0) throw new ArgumentOutOfRangeException(nameof(options), $"the beam size must be positive, got {beam}");
        return new GenerativeRetriever(generator, dir.Tokenizer(), codes, ids,
            new GenerativeSearchOptions { BeamSize = beam, MaxQueryTokens = config.MaxQueryTokens }, assignIds: IdAssigner(dir, config));
    }

    /// <summary>
    /// Semantic IDs for new items, without retraining: the item vectors from the two-tower model the IDs
    /// were quantized from, encoded by the saved quantizer (the retriever adds the collision token).
    /// Both are opened on the first new item, so serving a fixed catalog never loads them.
    /// </summary>
    public static Func<IReadOnlyList<Document>, int[][]> IdAssigner(ModelDirectory dir, TwoStageModelConfig config)
    {
        Func<IReadOnlyList<Document>, float[]>? encode = null;
        IQuantizer? quantizer = null;
        return docs =>
        {
            if (quantizer is null)
            {
                string path = Path.Combine(dir.Path, QuantizerFile);
                if (!File.Exists(path))
                    throw new InvalidDataException($"{path}: missing (the model was trained before quantizers were kept); retrain it to add items without retraining");
                var source = new ModelDirectory(config.ItemVectorsFrom);
                if (!File.Exists(source.ConfigPath))
                    throw new InvalidDataException($"{dir.ConfigPath}: new items are placed by the item tower of {config.ItemVectorsFrom}, which is missing");
                encode = ModelFormats.Get(ModelFormats.KindOf(source), source.ConfigPath) is IItemEncoderFormat towers
                    ? towers.OpenItemEncoder(source)
                    : throw new InvalidDataException($"{source.ConfigPath}: a {ModelFormats.KindOf(source)} model has no item encoder");
                quantizer = QuantizerMethods.Load(path);
            }
            var vectors = encode!(docs);
            var codes = new int[docs.Count * quantizer.Levels];
            quantizer.Encode(vectors, docs.Count, codes);
            return Enumerable.Range(0, docs.Count).Select(i => codes.AsSpan(i * quantizer.Levels, quantizer.Levels).ToArray()).ToArray();
        };
    }
}
