using GenSearch.Retrieval;

namespace GenSearch.Serving;

/// <summary>
/// The registry of model kinds that search can open, by the "kind" their config.json records (as
/// <c>QuantizerMethods</c> is for quantizers). <see cref="Open(string, ModelOpenOptions?)"/> reads the
/// kind and hands the directory to its format, so no caller switches on kinds.
/// </summary>
public static class ModelFormats
{
    private static readonly Dictionary<string, IModelFormat> s_formats = new(StringComparer.Ordinal);

    static ModelFormats()
    {
        Register(new NgramTowerFormat());
        Register(new TransformerTowerFormat());
        Register(new TwoStageFormat());
        Register(new UnifiedFormat());
    }

    /// <summary>The registered formats, sorted by kind.</summary>
    public static IReadOnlyList<IModelFormat> All { get { lock (s_formats) return [.. s_formats.Values.OrderBy(f => f.Kind, StringComparer.Ordinal)]; } }

    /// <summary>Adds (or replaces) a format.</summary>
    public static void Register(IModelFormat format)
    {
        lock (s_formats) s_formats[format.Kind] = format;
    }

    /// <summary>The format of <paramref name="kind"/>, or an error that lists the known kinds.</summary>
    public static IModelFormat Get(string kind, string? source = null)
    {
        lock (s_formats)
            return s_formats.TryGetValue(kind, out var f) ? f : throw new InvalidDataException(
                $"{(source is null ? "" : source + ": ")}unknown model kind '{kind}' (known: {string.Join(", ", s_formats.Keys.Order(StringComparer.Ordinal))})");
    }

    /// <summary>
    /// The kind a directory's config.json records. Models written before the transformer towers had
    /// a kind of their own say "two-tower" with no "tower": those are read as "two-tower-transformer".
    /// </summary>
    public static string KindOf(ModelDirectory dir)
    {
        var (kind, tower) = dir.ReadConfig<KindAndTower>();
        if (kind is null) throw new InvalidDataException($"{dir.ConfigPath}: no \"kind\"");
        return kind == NgramTowerFormat.Name && tower is null ? TransformerTowerFormat.Name : kind;
    }

    /// <summary>
    /// Checks, before any work, that <paramref name="path"/> (given as <paramref name="setting"/>) holds a
    /// retrieval model: a missing folder or a ranker is an error naming the setting, with <paramref name="hint"/>
    /// after it, rather than a file that the first read would find missing.
    /// </summary>
    public static void CheckRetrievalModel(string setting, string path, string? hint = null)
    {
        string suffix = hint is null ? "" : $"; {hint}";
        var dir = new ModelDirectory(path);
        if (!File.Exists(dir.ConfigPath)) throw new InvalidDataException($"{setting} {path}: no model here (config.json is missing){suffix}");
        string kind = KindOf(dir);
        if (!All.Any(f => f.Kind == kind)) throw new InvalidDataException($"{setting} {path}: a {kind} model is no retrieval model{suffix}");
    }

    /// <summary>Opens the model directory <paramref name="path"/> as a retriever, whatever its kind.</summary>
    public static IRetriever Open(string path, ModelOpenOptions? options = null)
    {
        var dir = new ModelDirectory(path);
        var format = Get(KindOf(dir), dir.ConfigPath);
        options ??= new ModelOpenOptions();
        if (options.Mode is { } mode && !format.Modes.Contains(mode))
            throw new InvalidDataException($"{dir.ConfigPath}: a {format.Kind} model serves {string.Join(" or ", format.Modes)} retrieval, not {mode}");
        return format.Open(dir, options);
    }

    private sealed record KindAndTower(string? Kind, string? Tower);
}
