using GenSearch.Retrieval;

namespace GenSearch.Serving;

/// <summary>
/// What to search with, as one expression: retrievers joined by '+' are fused
/// (<see cref="FusionRetriever"/>; standardised scores by default, reciprocal rank on request). A term is <c>bm25</c>, <c>model</c> (the model directory in its
/// default mode) or one of the model's modes by name (<c>dense</c>, <c>generative</c>), so
/// <c>bm25+model</c> fuses BM25 with any model. eval, search and the server all compose through here.
/// </summary>
public sealed record RetrieverSpec(IReadOnlyList<string> Terms)
{
    /// <summary>The term for BM25 over the catalog.</summary>
    public const string Bm25Term = "bm25";
    /// <summary>The term for the model directory in its default mode.</summary>
    public const string ModelTerm = "model";

    /// <summary>The modes any registered format serves, which may stand as terms of their own.</summary>
    public static IReadOnlyList<string> ModeTerms => [.. ModelFormats.All.SelectMany(f => f.Modes).Distinct().Order(StringComparer.Ordinal)];

    /// <summary>Every term an expression may use.</summary>
    public static IReadOnlyList<string> KnownTerms => [Bm25Term, ModelTerm, .. ModeTerms];

    /// <summary>Whether a term needs a model directory.</summary>
    public bool NeedsModel => Terms.Any(t => t != Bm25Term);

    /// <summary>
    /// What this retriever's scores are, as a ranker's retriever_score feature reads them: a fusion of so many
    /// lists, BM25's own score, or one model's score in one mode (<c>model</c> resolved to the default mode of
    /// the model in <paramref name="modelDir"/>: a unified model's is generative).
    /// </summary>
    public RetrieverScoreShape ScoreShape(string? modelDir) =>
        Terms.Count > 1 ? new(Terms.Count, null) : new(1, Terms[0] == ModelTerm ? DefaultMode(modelDir) ?? ModelTerm : Terms[0]);

    /// <summary>
    /// <see cref="ScoreShape"/> of a recorded expression (a ranker's config.json, with the model its features
    /// came from); one naming a mode this build does not know is read by its terms as written.
    /// </summary>
    public static RetrieverScoreShape ScoreShapeOf(string expression, string? modelDir)
    {
        try { return Parse(expression).ScoreShape(modelDir); }
        catch (ArgumentException)
        {
            var terms = expression.Split('+', StringSplitOptions.TrimEntries);
            return terms.Length > 1 ? new(terms.Length, null) : new(1, terms[0]);
        }
    }

    private static string? DefaultMode(string? modelDir)
    {
        if (modelDir is null) return null;
        try { return ModelFormats.Get(ModelFormats.KindOf(new ModelDirectory(modelDir))).Modes[0]; }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException or ArgumentException) { return null; }
    }

    /// <summary>Whether BM25 is one of the terms.</summary>
    public bool NeedsBm25 => Terms.Contains(Bm25Term);

    /// <summary>Parses "bm25", "model", "bm25+model", "bm25+dense", ...; an unknown or repeated term is an error naming the known ones.</summary>
    public static RetrieverSpec Parse(string text)
    {
        var terms = text.Split('+', StringSplitOptions.TrimEntries);
        var known = KnownTerms;
        foreach (var term in terms)
            if (!known.Contains(term))
                throw new ArgumentException($"--retriever '{text}': unknown retriever '{term}' (known: {string.Join(", ", known)}; join them with '+' to fuse)");
        if (terms.Distinct().Count() != terms.Length) throw new ArgumentException($"--retriever '{text}': a retriever is named twice");
        return new RetrieverSpec(terms);
    }

    /// <summary>
    /// The retriever the expression names: each term from <paramref name="open"/> (given the term, where
    /// <c>model</c> stands for the default mode), fused when there are several.
    /// </summary>
    public IRetriever Build(Func<string, IRetriever> open, FusionMethod fusion = FusionMethod.ZScore)
    {
        var parts = Terms.Select(open).ToArray();
        return parts.Length == 1 ? parts[0] : new FusionRetriever(parts, method: fusion);
    }

    /// <summary>The names <see cref="ParseFusion"/> reads, in <see cref="FusionMethod"/>'s order.</summary>
    public static readonly string[] FusionNames = ["zscore", "rrf"];

    /// <summary>"zscore" or "rrf" (any case); anything else is an error naming both and <paramref name="setting"/>.</summary>
    public static FusionMethod ParseFusion(string text, string setting = "--fusion") => text.ToLowerInvariant() switch
    {
        "zscore" => FusionMethod.ZScore,
        "rrf" => FusionMethod.ReciprocalRank,
        _ => throw new ArgumentException($"{setting} '{text}': unknown fusion (known: {string.Join(", ", FusionNames)})"),
    };

    /// <summary>The name <see cref="ParseFusion"/> reads for <paramref name="method"/>.</summary>
    public static string FusionName(FusionMethod method) => FusionNames[(int)method];

    /// <summary>The mode a model term asks for: null for <c>model</c> (the format's default).</summary>
    public static string? ModeOf(string term) => term == ModelTerm ? null : term;

    /// <inheritdoc/>
    public override string ToString() => string.Join("+", Terms);
}

/// <summary>
/// What a retriever's scores are (<see cref="RetrieverSpec.ScoreShape"/>): <paramref name="Lists"/> fused, or
/// one list whose scores are <paramref name="Single"/>'s ("bm25", or a model's mode: "dense", "generative").
/// A ranker fed candidates of another shape than it trained on would read its retriever_score feature off its
/// training scale without a word, so the shapes must match.
/// </summary>
public sealed record RetrieverScoreShape(int Lists, string? Single)
{
    /// <summary>Words for messages.</summary>
    public override string ToString() => Lists > 1 ? $"a fusion of {Lists} lists"
        : Single == RetrieverSpec.Bm25Term ? "BM25's own score" : $"one model's {Single} score";
}
