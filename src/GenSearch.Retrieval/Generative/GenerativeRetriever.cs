using System.Collections.Concurrent;
using GenSearch.Models;
using GenSearch.Models.Generative;
using GenSearch.Nn;
using GenSearch.Text;

namespace GenSearch.Retrieval.Generative;

/// <summary>Options of a <see cref="GenerativeRetriever"/>.</summary>
public sealed record GenerativeSearchOptions
{
    /// <summary>Beams kept per query; also the most IDs a query can return.</summary>
    public int BeamSize { get; init; } = 50;
    /// <summary>Query token limit ([cls] and [sep] included).</summary>
    public int MaxQueryTokens { get; init; } = 16;
    /// <summary>Queries decoded together (rows = this times the beam size).</summary>
    public int QueryBatch { get; init; } = 8;
    /// <summary>
    /// Whether tokens the catalog forces (the only continuation of a prefix) are free: they add 0 to
    /// an ID's score instead of the model's log-probability, and a level where every beam is forced
    /// costs no decoding (<see cref="BeamSearchOptions.FreeForcedTokens"/>). Off by default: on the
    /// homedepot two-stage generator it lowered dev Recall@10 from 0.127 to 0.080 (IDs with forced
    /// levels outrank better ones), so IDs are ranked by the model's full log-probability.
    /// </summary>
    public bool FreeForcedTokens { get; init; }
}

/// <summary>
/// How generative retrieval scored one item: its semantic ID (codes per level, the collision token
/// last) and, per level, the generator's log-probability of that level's token given the query and
/// the levels before it (the unified model: the item's own w (sim(q, d) - 1) at the collision token).
/// Their sum is the score search gives the item (two-stage: with
/// <see cref="GenerativeSearchOptions.FreeForcedTokens"/> off, the default).
/// </summary>
public sealed record SidPath(string ItemId, int[] Codes, float[] LevelScores)
{
    /// <summary>The sum of the levels' log-probabilities.</summary>
    public float Score => LevelScores.Sum();
}

/// <summary>
/// A retriever that writes semantic IDs and can say which ID an item has and how each of its tokens
/// scored for a query (the server's <c>sid</c> and <c>explain</c>): the two-stage generator and the unified model.
/// </summary>
public interface ISidExplainer
{
    /// <summary>The semantic ID of <paramref name="itemId"/> (codes per level, the collision token last), or null when the catalog does not hold it.</summary>
    int[]? SidOf(string itemId);

    /// <summary>Each item's SID path for <paramref name="query"/>, whose level scores sum to the item's search score; null for an id the catalog does not hold.</summary>
    SidPath?[] Explain(Query query, IReadOnlyList<string> itemIds);
}

/// <summary>
/// Generative retrieval: the generator writes semantic IDs for a query with beam search constrained
/// to the catalog's trie, so every result is a real item. Items that share an ID keep the ID's
/// score and are ordered by <c>itemPrior</c> (higher first; e.g. how often the item was judged
/// relevant in training), then by catalog order.
/// <para>
/// A live catalog (<see cref="IUpdatableRetriever"/>) when given a semantic-ID assigner: see
/// <see cref="GenerativeCatalog"/> for how IDs, collision tokens and the trie follow changes. A
/// search reads the catalog snapshot once and decodes against its trie.
/// </para>
/// </summary>
public sealed class GenerativeRetriever : IUpdatableRetriever, ISidExplainer
{
    private readonly SidGenerator _generator;
    private readonly WordPieceTokenizer _tokenizer;
    private readonly GenerativeCatalog _catalog;
    private readonly GenerativeSearchOptions _options;
    // Decoders whose buffers outlive a search: one per concurrent Search call, so steady serving allocates no beam buffers.
    private readonly ConcurrentBag<BeamDecoder> _decoders = [];

    /// <summary>
    /// A retriever over items whose IDs are <paramref name="itemCodes"/> (codes per level, item i
    /// called <paramref name="itemIds"/>[i]). <paramref name="assignIds"/>, when given, gives the
    /// codes of items to upsert (see <see cref="GenerativeCatalog"/>); without it, <see cref="Upsert"/>
    /// throws <see cref="NotSupportedException"/>.
    /// </summary>
    public GenerativeRetriever(SidGenerator generator, WordPieceTokenizer tokenizer, IReadOnlyList<int[]> itemCodes,
        string[] itemIds, GenerativeSearchOptions? options = null, float[]? itemPrior = null,
        Func<IReadOnlyList<Document>, int[][]>? assignIds = null)
    {
        _generator = generator;
        _tokenizer = tokenizer;
        _options = options ?? new GenerativeSearchOptions();
        _catalog = new GenerativeCatalog("generative", generator.Vocabulary, itemCodes, itemIds, itemPrior, assignIds);
    }

    /// <inheritdoc/>
    public string Name => "generative";

    /// <inheritdoc/>
    public int Count => _catalog.Current.Count;

    /// <summary>The index of the catalog's IDs now (its <see cref="LiveSidIndex.Bytes"/> is the serving memory for IDs).</summary>
    public LiveSidIndex Trie => _catalog.Current.Trie;

    /// <summary>The live catalog: IDs per item, and the changes.</summary>
    public GenerativeCatalog Catalog => _catalog;

    /// <inheritdoc/>
    public CatalogChange Upsert(IReadOnlyList<Document> items)
    {
        var change = _catalog.Upsert(items);
        _catalog.Current.Base.BuildIdMap(); // after a fold: the writer builds the new base's id map, not the searches that meet it
        return change;
    }

    /// <inheritdoc/>
    public CatalogChange Remove(IReadOnlyList<string> ids)
    {
        var change = _catalog.Remove(ids);
        _catalog.Current.Base.BuildIdMap();
        return change;
    }

    /// <summary>The semantic ID of <paramref name="itemId"/> (codes per level), or null when the catalog does not hold it.</summary>
    public int[]? SidOf(string itemId) => _catalog.Current.SidOf(itemId);

    /// <summary>
    /// Each item's SID path for <paramref name="query"/>: the generator is fed each item's ID token by
    /// token (teacher forcing, all items as rows of one decode) and each level's log-probability is read
    /// off. Apart from search so that search keeps no per-level scores; null for an id the catalog does not hold.
    /// </summary>
    public SidPath?[] Explain(Query query, IReadOnlyList<string> itemIds)
    {
        _generator.Eval();
        var catalog = _catalog.Current;
        var result = new SidPath?[itemIds.Count];
        var rows = new List<(int Slot, int Item)>();
        for (int i = 0; i < itemIds.Count; i++)
            if (catalog.IndexOf(itemIds[i]) is var item and >= 0) rows.Add((i, item));
        if (rows.Count == 0) return result;
        if (!_decoders.TryTake(out var decoder)) decoder = new BeamDecoder(_generator.Model);
        try
        {
            var batch = TokenBatch.Encode(_tokenizer, [query.Text], _options.MaxQueryTokens);
            var scorer = new GeneratorScorer(_generator, batch, decoder);
            scorer.SelectRows(new int[rows.Count]); // every row starts from the one query
            var tokens = rows.Select(r => _generator.Vocabulary.Tokens(catalog.Codes(r.Item))).ToArray();
            var levels = tokens.Select(t => new float[t.Length]).ToArray();
            int longest = tokens.Max(t => t.Length), vocabulary = scorer.Vocabulary;
            var last = new int[rows.Count];
            Array.Fill(last, SidVocabulary.Start);
            for (int step = 0; step < longest; step++)
            {
                var logProbs = scorer.NextLogProbabilities(last);
                for (int r = 0; r < rows.Count; r++)
                {
                    if (step >= tokens[r].Length) { last[r] = SidVocabulary.Start; continue; }
                    levels[r][step] = logProbs[r * vocabulary + tokens[r][step]];
                    last[r] = tokens[r][step];
                }
            }
            for (int r = 0; r < rows.Count; r++)
                result[rows[r].Slot] = new SidPath(itemIds[rows[r].Slot], catalog.Codes(rows[r].Item).ToArray(), levels[r]);
        }
        finally { _decoders.Add(decoder); }
        return result;
    }

    /// <inheritdoc/>
    public IReadOnlyList<SearchHit>[] Search(IReadOnlyList<Query> queries, int k)
    {
        if (k <= 0) throw new ArgumentOutOfRangeException(nameof(k), "k must be positive");
        _generator.Eval();
        var catalog = _catalog.Current; // one snapshot for the whole batch
        var trie = catalog.Trie;
        var results = new IReadOnlyList<SearchHit>[queries.Count];
        if (catalog.Count == 0)
        {
            Array.Fill(results, Array.Empty<SearchHit>());
            return results;
        }
        if (!_decoders.TryTake(out var decoder)) decoder = new BeamDecoder(_generator.Model);
        var beam = new BeamSearchOptions { BeamSize = _options.BeamSize, MaxLength = trie.LongestId, StartToken = SidVocabulary.Start, FreeForcedTokens = _options.FreeForcedTokens };
        for (int start = 0; start < queries.Count; start += _options.QueryBatch)
        {
            int count = Math.Min(_options.QueryBatch, queries.Count - start);
            var texts = Enumerable.Range(start, count).Select(i => queries[i].Text).ToList();
            var batch = TokenBatch.Encode(_tokenizer, texts, _options.MaxQueryTokens);
            var hypotheses = ConstrainedBeamSearch.Search(new GeneratorScorer(_generator, batch, decoder), count, trie, beam);
            for (int q = 0; q < count; q++)
            {
                var items = ConstrainedBeamSearch.ToItems(hypotheses[q], trie, k, catalog.Prior is { } prior ? i => prior[i] : null);
                results[start + q] = items.Select(x => new SearchHit(catalog.ItemIds[x.Item], x.Score)).ToArray();
            }
        }
        _decoders.Add(decoder);
        return results;
    }
}
