using System.Collections.Concurrent;
using GenSearch.Retrieval;

namespace GenSearch.Serving.Ranking;

/// <summary>
/// A ranker with the feature extractor it was trained with: reorders a query's candidates. Opened from
/// a ranker directory (any kind of <see cref="RankerFormats"/>), whose config.json names the model the
/// dense and generator features come from.
/// </summary>
public sealed class Reranker(IRanker ranker, MatchFeatures features, RankerHeader header)
{
    /// <summary>The ranker.</summary>
    public IRanker Ranker => ranker;
    /// <summary>The feature extractor.</summary>
    public MatchFeatures Features => features;
    /// <summary>What the ranker's directory records.</summary>
    public RankerHeader Header => header;

    /// <summary>Where the features come from, for messages: BM25 and the text, and the models asked.</summary>
    public string FeatureSources =>
        string.Join(", ", new[] { "BM25 and text", features.Dense is null ? null : $"similarity from {header.FeatureModel}",
            features.Generator is null ? null : $"log P(ID | q) from {header.GeneratorModel ?? header.FeatureModel}" }.OfType<string>());

    /// <summary>
    /// Opens the ranker in <paramref name="rankerDir"/> with features over <paramref name="bm25"/> and the
    /// catalog's items (<paramref name="items"/> gives an item by id); <paramref name="header"/>: the
    /// directory's header when the caller has read it already (<see cref="RankerFormats.Header"/>).
    /// </summary>
    public static Reranker Open(string rankerDir, Bm25 bm25, Func<string, Document?> items, RankerHeader? header = null)
    {
        header ??= RankerFormats.Header(rankerDir);
        // A model the ranker's config.json points to, moved or deleted since, is named with that file (else the error
        // would name only the model's missing config.json, and not say why it was looked for).
        string config = new ModelDirectory(rankerDir).ConfigPath;
        foreach (var (setting, path) in new[] { ("feature_model", header.FeatureModel), ("generator_model", header.GeneratorModel) })
            if (path is not null) ModelFormats.CheckRetrievalModel($"{config}: {setting}", path, "the ranker reads its features from there: restore the model or retrain the ranker");
        // A model whose features the ranker dropped is not asked for them (the extractor gives 0 in those columns, as in
        // training): the feature model stays recorded when the ranker's retriever searches with it, but a query's
        // candidates then cost no dense or generator pass the ranker would ignore.
        var featureModel = header.FeatureModel is null || !header.ReadsDense && !(header.ReadsGenerator && header.GeneratorModel is null)
            ? null : QueryItemScorers.Open(header.FeatureModel);
        var generator = header.GeneratorModel is null || !header.ReadsGenerator ? null : QueryItemScorers.Open(header.GeneratorModel);
        if (generator is { HasGenerator: false }) throw new InvalidDataException($"{header.GeneratorModel}: a {generator.Kind} model has no generator (generator_model must be a unified model)");
        if (generator is null && header.ReadsGenerator && featureModel is { HasGenerator: true }) generator = featureModel;
        var dense = header.ReadsDense ? featureModel : null;
        return new Reranker(RankerFormats.Open(rankerDir), new MatchFeatures(bm25, items, dense, generator, header.ReadsGenerator), header);
    }

    /// <summary>
    /// The first <paramref name="depth"/> candidates reordered by the ranker's scores (ties keep the
    /// retriever's order), then the rest in the retriever's order with scores below the reranked ones.
    /// </summary>
    public IReadOnlyList<SearchHit> Rerank(Query query, IReadOnlyList<SearchHit> candidates, int depth)
    {
        int n = Math.Min(depth, candidates.Count);
        if (n == 0) return candidates;
        var head = candidates.Take(n).ToArray();
        var scores = ranker.Score(query, head, features.Extract(query, head));
        var order = Enumerable.Range(0, n).OrderByDescending(i => scores[i]).ThenBy(i => i).ToArray();
        var result = new SearchHit[candidates.Count];
        for (int r = 0; r < n; r++) result[r] = new SearchHit(head[order[r]].Id, scores[order[r]]);
        float floor = scores[order[^1]];
        for (int i = n; i < candidates.Count; i++) result[i] = new SearchHit(candidates[i].Id, floor - (i - n + 1));
        return result;
    }
}

/// <summary>
/// Reranking as a stage: any retriever's top <c>depth</c> reordered by a <see cref="Reranker"/>. What
/// <see cref="RetrieverOpener"/> builds for <c>--rerank DIR</c>, so eval, search and the server rerank the
/// same way. Catalog changes go to the retriever, to the BM25 index the features read when the stage owns
/// it, and to the items the features read the text of.
/// </summary>
public sealed class RerankRetriever(IRetriever inner, Reranker reranker, int depth, ConcurrentDictionary<string, Document> items, Bm25? ownBm25 = null) : IUpdatableRetriever
{
    /// <inheritdoc/>
    public string Name => $"{inner.Name}>{reranker.Ranker.Kind}";
    /// <inheritdoc/>
    public int Count => inner.Count;
    /// <summary>Candidates reranked per query.</summary>
    public int Depth => depth;
    /// <summary>The retriever whose candidates are reranked.</summary>
    public IRetriever Inner => inner;
    /// <summary>The reranker.</summary>
    public Reranker Reranker => reranker;

    /// <inheritdoc/>
    public IReadOnlyList<SearchHit>[] Search(IReadOnlyList<Query> queries, int k)
    {
        if (k <= 0) throw new ArgumentOutOfRangeException(nameof(k), "k must be positive");
        var lists = inner.Search(queries, Math.Max(k, depth));
        var result = new IReadOnlyList<SearchHit>[queries.Count];
        for (int q = 0; q < queries.Count; q++)
        {
            var reranked = reranker.Rerank(queries[q], lists[q], depth);
            result[q] = reranked.Count <= k ? reranked : reranked.Take(k).ToArray();
        }
        return result;
    }

    /// <inheritdoc/>
    public CatalogChange Upsert(IReadOnlyList<Document> docs)
    {
        if (inner is not IUpdatableRetriever updatable) throw new NotSupportedException($"{inner.Name} cannot change its catalog while it serves");
        var change = updatable.Upsert(docs);
        ownBm25?.Upsert(docs);
        foreach (var d in docs) items[d.Id] = d;
        return change;
    }

    /// <inheritdoc/>
    public CatalogChange Remove(IReadOnlyList<string> ids)
    {
        if (inner is not IUpdatableRetriever updatable) throw new NotSupportedException($"{inner.Name} cannot change its catalog while it serves");
        var change = updatable.Remove(ids);
        ownBm25?.Remove(ids);
        foreach (var id in ids) items.TryRemove(id, out _);
        return change;
    }
}
