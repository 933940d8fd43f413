using GenSearch.Retrieval;

namespace GenSearch.Serving;

/// <summary>How a model directory is opened for search (every setting has a default: the model's own).</summary>
public sealed record ModelOpenOptions
{
    /// <summary>
    /// Which of the format's <see cref="IModelFormat.Modes"/> to serve (e.g. "dense" or "generative"
    /// for a model that can do both); null = the format's first mode.
    /// </summary>
    public string? Mode { get; init; }
    /// <summary>Dense modes: search an HNSW graph instead of the exact index.</summary>
    public bool Hnsw { get; init; }
    /// <summary>Generative modes: beams per query; null = the model's own setting.</summary>
    public int? BeamSize { get; init; }
    /// <summary>
    /// Unified models: how many code levels, from the last, the items' best similarity steers; null = the
    /// model's config.json (every level for models trained since 2026-12-01, 1 before).
    /// </summary>
    public int? SteeredLevels { get; init; }
    /// <summary>Unified models: directions of the sketch that steers the levels above the last; null = the model's config.json.</summary>
    public int? SketchDirections { get; init; }
}

/// <summary>
/// One kind of model directory as search sees it: its name (the "kind" in config.json), the ways it
/// can retrieve, and how to open a directory as an <see cref="IRetriever"/>. Registered by name in
/// <see cref="ModelFormats"/>, so eval, search and a server open every kind through one call, and a new
/// kind is one file that registers itself.
/// </summary>
public interface IModelFormat
{
    /// <summary>The kind recorded in config.json, e.g. "two-tower".</summary>
    string Kind { get; }

    /// <summary>One line for help texts: what the model is.</summary>
    string Description { get; }

    /// <summary>The retrieval modes it serves, default first (e.g. "dense"; "generative").</summary>
    IReadOnlyList<string> Modes { get; }

    /// <summary>Opens <paramref name="dir"/> (whose config.json names this kind) for search.</summary>
    IRetriever Open(ModelDirectory dir, ModelOpenOptions options);
}

/// <summary>
/// A format whose model embeds items (two towers): what another model built on its item vectors
/// (two-stage semantic IDs) opens to place a new item without retraining.
/// </summary>
public interface IItemEncoderFormat : IModelFormat
{
    /// <summary>The model's item encoder: catalog items to vectors, row-major [n, dim], as its items.safetensors holds them.</summary>
    Func<IReadOnlyList<Document>, float[]> OpenItemEncoder(ModelDirectory dir);
}
