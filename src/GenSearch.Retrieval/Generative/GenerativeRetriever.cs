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
/// Generative retrieval: the generator writes semantic IDs for a query with beam search constrained
/// to the catalog's trie, so every result is a real item. Items that share an ID keep the ID's
/// score and are ordered by <c>itemPrior</c> (higher first; e.g. how often the item was judged
/// relevant in training), then by catalog order.
/// </summary>
public sealed class GenerativeRetriever : IRetriever
{
    private readonly SidGenerator _generator;
    private readonly WordPieceTokenizer _tokenizer;
    private readonly SidTrie _trie;
    private readonly string[] _itemIds;
    private readonly float[]? _itemPrior;
    private readonly GenerativeSearchOptions _options;
    // Decoders whose buffers outlive a search: one per concurrent Search call, so steady serving allocates no beam buffers.
    private readonly ConcurrentBag<BeamDecoder> _decoders = [];

    /// <summary>
    /// A retriever over items whose IDs are <paramref name="itemCodes"/> (codes per level, item i
    /// called <paramref name="itemIds"/>[i]).
    /// </summary>
    public GenerativeRetriever(SidGenerator generator, WordPieceTokenizer tokenizer, IReadOnlyList<int[]> itemCodes,
        string[] itemIds, GenerativeSearchOptions? options = null, float[]? itemPrior = null)
    {
        if (itemCodes.Count != itemIds.Length) throw new ArgumentException($"{itemCodes.Count} IDs for {itemIds.Length} items");
        _generator = generator;
        _tokenizer = tokenizer;
        _itemIds = itemIds;
        _itemPrior = itemPrior;
        _options = options ?? new GenerativeSearchOptions();
        _trie = SidTrie.Build(itemCodes.Select(c => generator.Vocabulary.Tokens(c)).ToList());
    }

    /// <inheritdoc/>
    public string Name => "generative";

    /// <inheritdoc/>
    public int Count => _itemIds.Length;

    /// <summary>The trie of the catalog's IDs (its <see cref="SidTrie.Bytes"/> is the serving memory for IDs).</summary>
    public SidTrie Trie => _trie;

    /// <inheritdoc/>
    public IReadOnlyList<SearchHit>[] Search(IReadOnlyList<Query> queries, int k)
    {
        if (k <= 0) throw new ArgumentOutOfRangeException(nameof(k), "k must be positive");
        _generator.Eval();
        var results = new IReadOnlyList<SearchHit>[queries.Count];
        if (!_decoders.TryTake(out var decoder)) decoder = new BeamDecoder(_generator.Model);
        var beam = new BeamSearchOptions { BeamSize = _options.BeamSize, MaxLength = _trie.LongestId, StartToken = SidVocabulary.Start, FreeForcedTokens = _options.FreeForcedTokens };
        for (int start = 0; start < queries.Count; start += _options.QueryBatch)
        {
            int count = Math.Min(_options.QueryBatch, queries.Count - start);
            var texts = Enumerable.Range(start, count).Select(i => queries[i].Text).ToList();
            var batch = TokenBatch.Encode(_tokenizer, texts, _options.MaxQueryTokens);
            var hypotheses = ConstrainedBeamSearch.Search(new GeneratorScorer(_generator, batch, decoder), count, _trie, beam);
            for (int q = 0; q < count; q++)
            {
                var items = ConstrainedBeamSearch.ToItems(hypotheses[q], _trie, k, _itemPrior is null ? null : i => _itemPrior[i]);
                results[start + q] = items.Select(x => new SearchHit(_itemIds[x.Item], x.Score)).ToArray();
            }
        }
        _decoders.Add(decoder);
        return results;
    }
}
