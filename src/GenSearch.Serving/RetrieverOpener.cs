using System.Diagnostics;
using GenSearch.Data;
using GenSearch.Retrieval;

namespace GenSearch.Serving;

/// <summary>How <see cref="RetrieverOpener.Open"/> builds what an expression needs; every member has a default.</summary>
public sealed record RetrieverOpenOptions
{
    /// <summary>How BM25 analyses text (its k1 and b are then set by <see cref="ChooseBm25Scoring"/>).</summary>
    public Bm25Options Bm25 { get; init; } = new();
    /// <summary>How the model directory is opened (mode, HNSW, beam).</summary>
    public ModelOpenOptions Model { get; init; } = new();
    /// <summary>Builds the BM25 index of the data set (the CLI draws a progress bar); default: <see cref="Bm25.Build"/> over the corpus.</summary>
    public Func<BeirDataset, Bm25Options, Bm25>? BuildBm25 { get; init; }
    /// <summary>
    /// Sets k1 and b on the built index (the CLI and the server choose them per data set, see
    /// <c>Bm25Parameters.Choose</c>); default: the analysis options' own.
    /// </summary>
    public Func<Bm25, Bm25>? ChooseBm25Scoring { get; init; }
    /// <summary>Where progress lines go (stderr in the CLI, the log in the server); default: nowhere.</summary>
    public Action<string>? Note { get; init; }
    /// <summary>A ranker directory (<c>gensearch train --model sid-coord</c> or <c>lambdamart</c>) whose ranker reorders the retriever's top <see cref="RerankDepth"/>; null = no reranking.</summary>
    public string? Rerank { get; init; }
    /// <summary>Candidates per query the ranker reorders.</summary>
    public int RerankDepth { get; init; } = 100;
    /// <summary>
    /// How an expression of several retrievers fuses their lists; null: as the ranker's candidates were fused
    /// when <see cref="Rerank"/> is given (its features are on that fusion's scale), else standardised scores.
    /// </summary>
    public FusionMethod? Fusion { get; init; }
}

/// <summary>
/// What <see cref="RetrieverOpener.Open"/> opened: the retriever to search with, each term's retriever
/// (in the expression's order: explanations and semantic IDs come from the parts), and the BM25 index
/// when the expression uses one.
/// </summary>
public sealed record OpenedRetriever(IRetriever Retriever, RetrieverSpec Spec, IReadOnlyList<IRetriever> Parts, Bm25? Bm25);

/// <summary>
/// Opens what a retriever expression names over a data set's catalog and a model directory: the one
/// way eval, search and the server open retrievers.
/// </summary>
public static class RetrieverOpener
{
    /// <summary>
    /// The expression to use: <paramref name="expression"/>, else <c>model</c> when a model is given, else
    /// <c>bm25</c>; checked against <paramref name="modelDir"/> (a model term needs one, a model needs a
    /// model term). Problems throw <see cref="ArgumentException"/> with a message for the user.
    /// </summary>
    public static RetrieverSpec Resolve(string? expression, string? modelDir)
    {
        var spec = RetrieverSpec.Parse(expression ?? (modelDir is null ? RetrieverSpec.Bm25Term : RetrieverSpec.ModelTerm));
        if (spec.NeedsModel && modelDir is null) throw new ArgumentException($"--retriever {spec} needs --model DIR (a model directory from gensearch train)");
        if (!spec.NeedsModel && modelDir is not null) throw new ArgumentException($"--model is given but --retriever {spec} does not use it; add 'model', e.g. --retriever {spec}+model");
        return spec;
    }

    /// <summary>Opens <paramref name="spec"/> (from <see cref="Resolve"/>) over <paramref name="data"/>'s catalog and the model in <paramref name="modelDir"/>.</summary>
    public static OpenedRetriever Open(BeirDataset data, RetrieverSpec spec, string? modelDir, RetrieverOpenOptions? options = null)
    {
        options ??= new RetrieverOpenOptions();
        var note = options.Note ?? (_ => { });
        Bm25? index = null;
        if (options.Rerank is not null && options.RerankDepth <= 0) throw new ArgumentException($"--rerank-depth must be positive, got {options.RerankDepth}");
        // A ranker reads its candidates' scores and ranks as features: search as its training lists were, checked before any work.
        var rankerHeader = options.Rerank is null ? null : Ranking.RankerFormats.Header(options.Rerank);
        if (rankerHeader is not null && (rankerHeader.TrainedShape, spec.ScoreShape(modelDir)) is var (trained, searched) && trained != searched)
            throw new InvalidDataException($"{options.Rerank}: the ranker was trained on candidates from '{rankerHeader.Retriever}', whose retriever_score is {trained}; " +
                                        $"this search ('{spec}') scores its candidates by {searched}: rerank a search of the same shape " +
                                        $"(--retriever {rankerHeader.Retriever}) or train a ranker on this one's candidates");
        if (rankerHeader is not null && options.RerankDepth > rankerHeader.Depth)
            note($"note: reranking {options.RerankDepth} candidates with a ranker trained on lists of {rankerHeader.Depth}: the deeper candidates' " +
                 "log_rank and score features lie outside what it learnt from");
        var fusion = options.Fusion ?? rankerHeader?.FusionMethod ?? FusionMethod.ZScore;
        if (rankerHeader is not null && spec.Terms.Count > 1 && fusion != rankerHeader.FusionMethod)
            throw new InvalidDataException($"{options.Rerank}: the ranker was trained on candidates fused by {RetrieverSpec.FusionName(rankerHeader.FusionMethod)} " +
                                        $"(its retriever_score and log_rank features are on that scale); rerank a search fused the same way (--fusion {RetrieverSpec.FusionName(rankerHeader.FusionMethod)})");
        if (spec.NeedsBm25 || options.Rerank is not null)
        {
            var sw = Stopwatch.StartNew();
            index = options.BuildBm25 is { } build ? build(data, options.Bm25) : Bm25.Build(data.Corpus(), options.Bm25);
            note($"indexed {index.Count:N0} documents, {index.TermCount:N0} terms in {sw.Elapsed.TotalSeconds:F2} s");
            if (options.ChooseBm25Scoring is { } choose) index = choose(index);
        }
        HashSet<string>? catalogIds = null;
        var parts = new List<IRetriever>();
        var retriever = spec.Build(term =>
        {
            IRetriever part;
            if (term == RetrieverSpec.Bm25Term) part = index!;
            else
            {
                var sw = Stopwatch.StartNew();
                catalogIds ??= data.Corpus().Select(d => d.Id).ToHashSet(StringComparer.Ordinal);
                if (CatalogCheck.Verify(modelDir!, new ModelDirectory(modelDir!).ItemIds(), data.CorpusPath, catalogIds) is { } warning) note(warning);
                part = ModelFormats.Open(modelDir!, options.Model with { Mode = RetrieverSpec.ModeOf(term) });
                note($"loaded {part.Name} model {modelDir} over {part.Count:N0} items{(options.Model.Hnsw ? " (HNSW)" : "")} in {sw.Elapsed.TotalSeconds:F1} s");
            }
            parts.Add(part);
            return part;
        }, fusion);
        if (options.Rerank is { } rankerDir)
        {
            var sw = Stopwatch.StartNew();
            var items = new System.Collections.Concurrent.ConcurrentDictionary<string, Document>(data.Corpus().Select(d => KeyValuePair.Create(d.Id, d)), StringComparer.Ordinal);
            var reranker = Ranking.Reranker.Open(rankerDir, index!, id => items.GetValueOrDefault(id), rankerHeader);
            retriever = new Ranking.RerankRetriever(retriever, reranker, options.RerankDepth, items, spec.NeedsBm25 ? null : index);
            note($"loaded {reranker.Ranker.Kind} ranker {rankerDir} (features: {reranker.FeatureSources}), reranking the top {options.RerankDepth} in {sw.Elapsed.TotalSeconds:F1} s");
        }
        return new OpenedRetriever(retriever, spec, parts, spec.NeedsBm25 ? index : null);
    }
}
