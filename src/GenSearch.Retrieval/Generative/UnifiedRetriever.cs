using System.Buffers;
using System.Collections.Concurrent;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using System.Runtime.CompilerServices;
using GenSearch.Models.Generative;
using GenSearch.Models.Unified;
using GenSearch.Tensors;
using GenSearch.Text;

namespace GenSearch.Retrieval.Generative;

/// <summary>Options of a <see cref="UnifiedRetriever"/>.</summary>
public sealed record UnifiedSearchOptions
{
    /// <summary>Beams kept per query at every level; also the most items a query can return.</summary>
    public int BeamSize { get; init; } = 100;
    /// <summary>
    /// Weight w of the item's own similarity in its score: an item scores log P(ID | q) + w (sim(q, d) - 1),
    /// sim = 1 - ||q - d||^2 (the subtracted 1 keeps every step's addition at most 0, which beam search's
    /// early stop needs).
    /// </summary>
    public float LatentWeight { get; init; } = 300f;
    /// <summary>
    /// How many code levels, counted from the last, carry the best w (sim - 1) of the items under each
    /// code (a document-level score steering the beam, as PAG does), so the beam keeps prefixes for the
    /// items under them and not only for their IDs. 0: the items' similarity enters at the collision level
    /// only; 1: at the last code level too; the model's levels or more (the default): at every level, where a
    /// prefix's score is log P(prefix) + w (best sim under it - 1), with exact similarities a bound on the score of
    /// every item under it (above the last code level the sketch's estimate stands in for the best sim, so a
    /// step may then add a little: harmless, since every ID has the same length and only complete IDs compete).
    /// Every level costs an estimate per catalog item and query (<see cref="SketchDirections"/>; beam 50 p50
    /// about 2.7 -> 5 ms on homedepot's 55k items, one thread; exact similarities took 11.3) and keeps nearly
    /// all the relevant items of the model's dense top 100 (96% with the last level only; bench/RESULTS.md, ## unified).
    /// </summary>
    public int SteeredLevels { get; init; } = int.MaxValue;
    /// <summary>
    /// Directions of the <see cref="LatentSketch"/> whose estimate of sim(q, d) steers the levels above the last
    /// (the last code level and the items use the exact similarity; final scores are exact either way). At
    /// or above the latent width: the exact similarity at every level. 127: sketches of 128 floats (homedepot, p =
    /// 256, every level steered, beam 100: dev Recall@100 0.810 at 127, 0.799 at 63, 0.811 exact; beam 50 p50 about
    /// 5.5 ms at either width, where the exact leaves take most of the time, 11.3 ms exact throughout).
    /// </summary>
    public int SketchDirections { get; init; } = 127;
    /// <summary>Queries decoded together.</summary>
    public int QueryBatch { get; init; } = 8;
}

/// <summary>What the unified retriever keeps of a catalog item: its latent d and its codes (the ID without the collision token).</summary>
/// <param name="Latent">d, the item encoder's output.</param>
/// <param name="Codes">The item's ID without the collision token.</param>
/// <param name="Sketch">The latent's <see cref="LatentSketch"/> (k + 1 values), which steers the upper levels: a base item's is its row
/// of the base's entry-ordered block (held once, not beside it: 28 MB on homedepot), an added item's its own.</param>
public sealed record UnifiedItem(float[] Latent, int[] Codes, ReadOnlyMemory<float> Sketch);

/// <summary>
/// Generative retrieval with the <see cref="UnifiedModel"/>: the model encodes the query (and the
/// user's context), then writes semantic IDs with beam search constrained to the catalog's trie. An
/// item scores log P(its ID | q) + w (sim(q, d) - 1) from the model's own outputs (see
/// <see cref="UnifiedSearchOptions"/>). A live catalog: a new item is encoded by the item encoder,
/// quantized by the model's codebooks and inserted into the trie (<see cref="GenerativeCatalog"/>),
/// with no retraining.
/// </summary>
public sealed class UnifiedRetriever : IUpdatableRetriever, ISidExplainer
{
    private readonly UnifiedModel _model;
    private readonly NgramVocabulary _features;
    private readonly GenerativeCatalog _catalog;
    private readonly UnifiedSearchOptions _options;
    private readonly ConcurrentDictionary<string, UnifiedItem> _items = new(StringComparer.Ordinal);
    // The base's latents by slot, built once per base (a fold makes a new one, about every 5 s under
    // 200 changes a second): a table per snapshot, filled by id lookups as searches touched it, was
    // rebuilt on every change under churn, and with its 440 KB allocation it made 100 adds and 100
    // removals a second cost three quarters of the searches (765 to 147 a second; profile 2026-11-30:
    // the lookups, array stores and GCs were 40% of the server's time).
    // Lazy: the searches that meet a new base wait for one build instead of each making its own.
    private readonly ConditionalWeakTable<CatalogBase, Lazy<BaseTables>> _baseLatents = new();
    // Fitted once on the catalog the retriever starts with; items added later are sketched with the same
    // directions (any orthonormal directions keep scores exact; these estimate best for items like the catalog's).
    private readonly LatentSketch _sketch;

    /// <summary>
    /// A retriever over items <paramref name="itemIds"/> whose full IDs (codes per level, the collision
    /// token last) are <paramref name="itemCodes"/> and whose latents are <paramref name="latents"/> [n, p];
    /// <paramref name="sketch"/> (null: fitted on the latents) steers the upper levels.
    /// </summary>
    public UnifiedRetriever(UnifiedModel model, NgramVocabulary features, SidVocabulary vocabulary, IReadOnlyList<int[]> itemCodes,
        string[] itemIds, float[] latents, UnifiedSearchOptions? options = null, LatentSketch? sketch = null)
    {
        int p = model.Config.Dim, L = model.Config.Levels;
        if (vocabulary.Levels != L + 1) throw new ArgumentException($"the ID vocabulary has {vocabulary.Levels} levels; the model writes {L} codes and a collision token");
        if (latents.Length != (long)itemIds.Length * p) throw new ArgumentException($"{latents.Length} latent values for {itemIds.Length} items of width {p}");
        _model = model;
        _features = features;
        _options = options ?? new UnifiedSearchOptions();
        if (_options.BeamSize <= 0) throw new ArgumentOutOfRangeException(nameof(options), $"the beam size must be positive, got {_options.BeamSize}");
        if (_options.SketchDirections <= 0) throw new ArgumentOutOfRangeException(nameof(options), $"the sketch needs at least one direction, got {_options.SketchDirections}");
        _sketch = sketch ?? LatentSketch.Fit(latents, p, _options.SketchDirections);
        if (_sketch.Dim != p) throw new ArgumentException($"a sketch of vectors {_sketch.Dim} wide for latents {p} wide");
        for (int i = 0; i < itemIds.Length; i++)
            _items[itemIds[i]] = NewItem(latents.AsSpan(i * p, p), itemCodes[i].AsSpan(0, L).ToArray());
        _catalog = new GenerativeCatalog("unified", vocabulary, itemCodes, itemIds, assignIds: Assign);
        using (Tensor.NoGrad()) _codebooks = Enumerable.Range(0, L).Select(n => model.Codebook(n).Detach()).ToArray();
        _decoder = new ServingDecoder(model, _codebooks);
    }

    // The decoder with its prefix tables: beam 50 on homedepot went from 4.5 to 3.1 ms of CPU (p50,
    // `bench/run beam-unified`, one thread, 2026-11-30).
    private readonly ServingDecoder _decoder;

    // Each level's code vectors, computed once: a SimVQ codebook is B W^T, 4M multiply-adds at 64 x 256
    // (the model is served, not trained, so they do not change). Computed per row and step they were
    // most of a search's time (beam 50 p50 23.3 ms CPU).
    private readonly Tensor[] _codebooks;

    /// <inheritdoc/>
    public string Name => "generative";

    /// <inheritdoc/>
    public int Count => _catalog.Current.Count;

    /// <summary>The live catalog: IDs per item, the trie, and the changes.</summary>
    public GenerativeCatalog Catalog => _catalog;

    /// <summary>Beams per level.</summary>
    public int BeamSize => _options.BeamSize;

    /// <summary>The model served.</summary>
    public UnifiedModel Model => _model;

    /// <summary>The text features the model reads.</summary>
    internal NgramVocabulary Features => _features;

    /// <summary>The search settings it was opened with.</summary>
    public UnifiedSearchOptions Options => _options;

    /// <summary>The sketch steering the upper levels (fitted on the catalog the retriever started with, unless given).</summary>
    public LatentSketch Sketch => _sketch;

    /// <summary>The item's latent and codes, when it is in the catalog.</summary>
    public UnifiedItem? Item(string id) => _items.TryGetValue(id, out var item) ? item : null;

    private UnifiedItem NewItem(ReadOnlySpan<float> latent, int[] codes)
    {
        var sketch = new float[_sketch.Width];
        _sketch.Sketch(latent, sketch);
        return new UnifiedItem(latent.ToArray(), codes, sketch);
    }

    private int[][] Assign(IReadOnlyList<Document> docs)
    {
        var (latents, codes) = _model.EncodeItems(docs.Select(d => _features.Encode(d.TitleAndText)).ToArray());
        int p = _model.Config.Dim, L = _model.Config.Levels;
        var result = new int[docs.Count][];
        for (int i = 0; i < docs.Count; i++)
        {
            result[i] = codes.AsSpan(i * L, L).ToArray();
            _items[docs[i].Id] = NewItem(latents.AsSpan(i * p, p), result[i]);
        }
        return result;
    }

    /// <inheritdoc/>
    public CatalogChange Upsert(IReadOnlyList<Document> items)
    {
        // The assigner (Assign) writes each item's latent and codes before the catalog checks the batch;
        // a refused batch (a full collision group) must leave them as they were, or a search, explain and
        // the next fold's latent table would read the refused item's latent against its old ID.
        var before = new Dictionary<string, UnifiedItem?>(StringComparer.Ordinal);
        foreach (var item in items) before.TryAdd(item.Id, Item(item.Id));
        CatalogChange change;
        try { change = _catalog.Upsert(items); }
        catch
        {
            foreach (var (id, old) in before)
                if (old is null) _items.TryRemove(id, out _); else _items[id] = old;
            throw;
        }
        WarmBase();
        return change;
    }

    /// <inheritdoc/>
    public CatalogChange Remove(IReadOnlyList<string> ids)
    {
        var change = _catalog.Remove(ids);
        foreach (var id in ids) _items.TryRemove(id, out _); // an id the catalog did not hold has no entry either
        WarmBase();
        return change;
    }

    /// <summary>After a fold: the writer builds the new base's latent table and id map, not the searches that meet it.</summary>
    private void WarmBase()
    {
        var @base = _catalog.Current.Base;
        LatentsOf(@base);
        @base.BuildIdMap();
    }

    /// <summary>The query vectors q [n, p] of <paramref name="queries"/>, their user context included.</summary>
    public float[] EncodeQueries(IReadOnlyList<Query> queries)
    {
        using var _ = Tensor.NoGrad();
        var rows = queries.Select(q => _features.Encode(q.Text)).ToArray();
        var contexts = queries.Select(ContextOf).ToArray();
        return _model.EncodeQueries(rows, contexts).Data[..(queries.Count * _model.Config.Dim)];
    }

    /// <summary>
    /// The model's input for a query's context: entries "q:TEXT" are earlier queries, "i:ID" clicked
    /// items (unknown items are skipped: they may have left the catalog).
    /// </summary>
    public UserContextInput? ContextOf(Query query)
    {
        if (query.Context is not { Count: > 0 } context) return null;
        var texts = new List<string>();
        var codes = new List<int>();
        foreach (var entry in context)
        {
            if (entry.StartsWith("q:", StringComparison.Ordinal)) texts.Add(entry[2..]);
            else if (entry.StartsWith("i:", StringComparison.Ordinal) && _items.TryGetValue(entry[2..], out var item)) codes.AddRange(item.Codes);
        }
        return new UserContextInput(texts.Count == 0 ? [] : _features.Encode(string.Join(" ", texts)), [.. codes]);
    }

    /// <inheritdoc/>
    public IReadOnlyList<SearchHit>[] Search(IReadOnlyList<Query> queries, int k) => Search(queries, k, null);

    /// <summary>
    /// Searches, and when <paramref name="trace"/> is given, records per query and level the trie
    /// states the beam kept (for beam-survival figures).
    /// </summary>
    public IReadOnlyList<SearchHit>[] Search(IReadOnlyList<Query> queries, int k, List<HashSet<int>>[]? trace)
    {
        if (k <= 0) throw new ArgumentOutOfRangeException(nameof(k), "k must be positive");
        _model.Eval();
        var catalog = _catalog.Current;
        var results = new IReadOnlyList<SearchHit>[queries.Count];
        if (catalog.Count == 0)
        {
            Array.Fill(results, Array.Empty<SearchHit>());
            return results;
        }
        var beam = new BeamSearchOptions { BeamSize = _options.BeamSize, MaxLength = catalog.Trie.LongestId, StartToken = SidVocabulary.Start };
        var latents = new SlotLatents(catalog, LatentsOf(catalog.Base), _items, _sketch);
        for (int start = 0; start < queries.Count; start += _options.QueryBatch)
        {
            int count = Math.Min(_options.QueryBatch, queries.Count - start);
            var batch = Enumerable.Range(start, count).Select(i => queries[i]).ToArray();
            var q = EncodeQueries(batch);
            using var scorer = new UnifiedStepScorer(_model, _decoder, _codebooks, _catalog.Vocabulary, catalog, q, count, latents,
                _options, trace is null ? null : trace.AsSpan(start, count).ToArray());
            var hypotheses = ConstrainedBeamSearch.Search(scorer, count, catalog.Trie, beam);
            for (int j = 0; j < count; j++)
            {
                var items = ConstrainedBeamSearch.ToItems(hypotheses[j], catalog.Trie, k);
                results[start + j] = items.Select(x => new SearchHit(catalog.ItemIds[x.Item], x.Score)).ToArray();
            }
        }
        return results;
    }

    /// <summary>The latent of each base slot (null where the item is gone: a removed slot is never asked for).</summary>
    private BaseTables LatentsOf(CatalogBase @base) => _baseLatents.GetValue(@base, b => new Lazy<BaseTables>(() => BaseLatents(b))).Value;

    private BaseTables BaseLatents(CatalogBase @base)
    {
        var items = new UnifiedItem?[@base.Ids.Length]; // each id looked up once, for both tables
        for (int s = 0; s < items.Length; s++) items[s] = _items.GetValueOrDefault(@base.Ids[s]);
        // The sketches in the base trie's entry order, one block read in order by every steered search: the
        // items under a prefix are then a range of it.
        int width = _sketch.Width, entries = @base.Trie.ItemCount;
        var sketches = new float[entries * width];
        for (int e = 0; e < entries; e++) items[@base.Trie.ItemAt(e)]?.Sketch.Span.CopyTo(sketches.AsSpan(e * width, width));
        // Each base item's sketch then becomes its row of the block, so it is held once. Only if the item is still the
        // one read: an upsert since then has replaced it with a record of its own, which stays.
        for (int e = 0; e < entries; e++)
            if (items[@base.Trie.ItemAt(e)] is { } item)
                _items.TryUpdate(@base.Ids[@base.Trie.ItemAt(e)], item with { Sketch = sketches.AsMemory(e * width, width) }, item);
        return new BaseTables([.. items.Select(item => item?.Latent)], sketches);
    }

    /// <summary>
    /// log P(ID | q) of each item in <paramref name="ids"/> under the generator, its codes level by level
    /// (the collision token, which the model does not predict, left out), for query vector <paramref name="q"/> [p];
    /// NaN for an item not in the catalog.
    /// </summary>
    public float[] IdLogProbabilities(ReadOnlySpan<float> q, IReadOnlyList<string> ids)
        => LevelLogProbabilities(q, ids).Select(levels => levels is null ? float.NaN : levels.Sum()).ToArray();

    /// <summary>
    /// Per item of <paramref name="ids"/>, log P(code n | q, codes before it) for each code level n (null for an
    /// item not in the catalog). Candidates sharing a prefix share its decoder step, so 100 candidates
    /// cost one row at level 1 and at most one per distinct prefix below.
    /// </summary>
    public float[]?[] LevelLogProbabilities(ReadOnlySpan<float> q, IReadOnlyList<string> ids)
    {
        int p = _model.Config.Dim, L = _model.Config.Levels, K = _model.Config.Codes, H = _model.Config.DecoderHidden;
        if (q.Length != p) throw new ArgumentException($"a query vector of {q.Length} values; the model's are {p} wide");
        var result = new float[]?[ids.Count];
        var codes = new int[]?[ids.Count];
        for (int i = 0; i < ids.Count; i++)
        {
            codes[i] = Item(ids[i])?.Codes;
            if (codes[i] is not null) result[i] = new float[L];
        }
        // The decoder search uses (ServingDecoder), so these are the log-probabilities beam search added.
        var rowOf = new Dictionary<long, int>();
        var candidateRow = new int[ids.Count];
        for (int n = 0; n < L; n++)
        {
            rowOf.Clear();
            var prefixSums = new List<float>();
            var prefixCodes = new List<int>();
            for (int i = 0; i < ids.Count; i++)
            {
                if (codes[i] is not { } c) continue;
                long key = 0;
                for (int m = 0; m < n; m++) key = key * K + c[m];
                if (!rowOf.TryGetValue(key, out int row))
                {
                    row = rowOf[key] = rowOf.Count;
                    var sum = new float[p];
                    for (int m = 0; m < n; m++) TensorPrimitives.Add(sum, _codebooks[m].Data.AsSpan(c[m] * p, p), sum);
                    prefixSums.AddRange(sum);
                    prefixCodes.AddRange(c.AsSpan(0, L));
                }
                candidateRow[i] = row;
            }
            int rows = rowOf.Count;
            if (rows == 0) break;
            var queries = new float[rows * p];
            var queryPart = _decoder.QueryPart(q, n);
            var queryParts = new float[rows * H];
            for (int r = 0; r < rows; r++)
            {
                q.CopyTo(queries.AsSpan(r * p, p));
                queryPart.CopyTo(queryParts.AsSpan(r * H, H));
            }
            var logProbs = new float[rows * K];
            _decoder.LogProbabilities(queries, queryParts, [.. prefixCodes], [.. prefixSums], n, logProbs);
            for (int i = 0; i < ids.Count; i++)
                if (codes[i] is { } c) result[i]![n] = logProbs[candidateRow[i] * K + c[n]];
        }
        return result;
    }

    /// <inheritdoc/>
    public int[]? SidOf(string itemId) => _catalog.Current.SidOf(itemId);

    /// <summary>
    /// Each item's SID path for <paramref name="query"/> (its user context included): the codes with the
    /// collision token last, and as level scores log P(code n | q, codes before it) for each code level,
    /// then, at the collision token, the item's own w (sim(q, d) - 1). They sum to the score search gives
    /// the item (with steering, the last code level carries the leaf's best w (sim - 1) during search and the
    /// collision level the rest; the sum is the same). Null for an id the catalog does not hold.
    /// </summary>
    public SidPath?[] Explain(Query query, IReadOnlyList<string> itemIds)
    {
        _model.Eval();
        var catalog = _catalog.Current;
        var q = EncodeQueries([query]);
        var levels = LevelLogProbabilities(q, itemIds);
        var result = new SidPath?[itemIds.Count];
        for (int i = 0; i < itemIds.Count; i++)
        {
            int item = catalog.IndexOf(itemIds[i]);
            if (item < 0 || levels[i] is not { } scores || Item(itemIds[i]) is not { } known) continue;
            float latent = _options.LatentWeight * (Similarity(q, known.Latent) - 1f);
            result[i] = new SidPath(itemIds[i], catalog.Codes(item).ToArray(), [.. scores, latent]);
        }
        return result;
    }

    /// <summary>sim(q, d) = 1 - ||q - d||^2.</summary>
    public static float Similarity(ReadOnlySpan<float> q, ReadOnlySpan<float> d)
    {
        float distance = TensorPrimitives.Distance(q, d); // SIMD; the scalar loop was most of a beam-50 search
        return 1f - distance * distance;
    }
}

/// <summary>
/// The unified model seen from beam search. Rows follow their beams (<see cref="SelectRows"/>); each row
/// keeps its trie state and the sum of its prefix's code vectors P. At code level n a row's next-token
/// scores are the decoder's log-softmax over level n's codes; at a steered level each code also gets
/// w (v(child) - v(parent)), v the best similarity under a prefix (exact for a whole code, the sketch's
/// estimate for a shorter prefix, 1 above the first steered level), and at the collision level each item's token
/// gets w (sim - v(leaf)): the terms telescope to w (sim - 1), so every item's score is exact. (Estimating the
/// whole codes too, held-out Recall@100 fell from 0.811 to 0.778: the last level needs the exact best.)
/// </summary>
internal sealed class UnifiedStepScorer : IStepScorer, IDisposable
{
    private readonly UnifiedModel _model;
    private readonly ServingDecoder _decoder;
    private readonly Tensor[] _codebooks;
    private readonly SidVocabulary _vocabulary;
    private readonly GenerativeSnapshot _catalog;
    private readonly float[] _queries;
    private readonly SlotLatents _latents;
    private readonly UnifiedSearchOptions _options;
    private readonly List<HashSet<int>>[]? _trace;
    private readonly int _p, _levels;
    private int[] _query, _state, _codes;
    private float[] _prefix;
    private readonly float[]?[] _queryParts; // per level: the decoder's query part of each query (computed once, not per beam)
    private int _level = -1;
    private readonly int _firstSteered; // the first code level whose scores carry the items' best similarity (= levels: none)
    private float[] _out = [];
    private readonly int[] _allowed;
    // The best similarity under a state, per query: the last code level scores each leaf prefix's
    // items, and the collision level asks for the same leaves again. With the items read off the
    // trie's layout (ISidIndex.ItemsUnder) instead of walked token by token with an array per item,
    // and SIMD similarities, a beam-50 search went from 9.3 to 4.5 ms of CPU (p50, same bench).
    private readonly Dictionary<long, float> _best = [];
    private readonly List<int> _under = [];
    // Without a sketch (sketch_directions at or above the width): each query's sim(q, d) by catalog slot,
    // computed once (NaN: not yet). Steering every level asks for the best under the codes of every level,
    // so without it the items under a beam's prefixes were scored again at each level: 55k latents of 1 KB,
    // read three to four times, were a beam-50 search's 22.8 ms (p50, `bench/run beam-unified`, one thread).
    private readonly float[]?[] _similarities;
    private readonly int _slots;
    // Prefixes shorter than a whole code are valued by the sketch's estimate (k + 1 floats an item, read once
    // per query in one pass over the base's block) instead of the exact best (a 1 KB latent an item).
    private readonly float[]?[] _estimates; // per query: the estimate of each base entry
    private readonly float[] _querySketches;
    private readonly bool _sketched;

    public UnifiedStepScorer(UnifiedModel model, ServingDecoder decoder, Tensor[] codebooks, SidVocabulary vocabulary, GenerativeSnapshot catalog, float[] queries, int count,
        SlotLatents latents, UnifiedSearchOptions options, List<HashSet<int>>[]? trace)
    {
        _model = model; _decoder = decoder; _codebooks = codebooks; _vocabulary = vocabulary; _catalog = catalog; _queries = queries; _latents = latents; _options = options; _trace = trace;
        _p = model.Config.Dim; _levels = model.Config.Levels;
        _query = Enumerable.Range(0, count).ToArray();
        _state = Enumerable.Repeat(catalog.Trie.Root, count).ToArray();
        _prefix = new float[count * _p];
        _codes = new int[count * _levels];
        _queryParts = new float[]?[_levels];
        _allowed = new int[Math.Max(1, catalog.Trie.MaxAllowed)];
        _firstSteered = _levels - Math.Min(options.SteeredLevels, _levels);
        _similarities = new float[]?[count];
        _slots = catalog.Base.Ids.Length + catalog.TailIds.Length;
        var sketch = latents.Sketch;
        _sketched = sketch.Directions < _p;
        _estimates = new float[]?[count];
        _querySketches = new float[count * sketch.Width];
        if (_sketched)
            for (int i = 0; i < count; i++) sketch.Sketch(queries.AsSpan(i * _p, _p), _querySketches.AsSpan(i * sketch.Width, sketch.Width));
    }

    public int Vocabulary => _vocabulary.Size;

    private void Apply(int[] lastTokens)
    {
        if (lastTokens.Length != _query.Length) throw new ArgumentException($"{lastTokens.Length} tokens for {_query.Length} rows");
        if (_level < 0) { _level = 0; return; } // the start token
        var trie = _catalog.Trie;
        for (int r = 0; r < _query.Length; r++)
        {
            _state[r] = trie.Advance(_state[r], lastTokens[r]);
            if (_level < _levels)
            {
                int code = lastTokens[r] - _vocabulary.Token(_level, 0);
                _codes[r * _levels + _level] = code;
                var book = _codebooks[_level].Data;
                var dst = _prefix.AsSpan(r * _p, _p);
                TensorPrimitives.Add(dst, book.AsSpan(code * _p, _p), dst);
            }
        }
        _level++;
        if (_trace is not null)
            for (int r = 0; r < _query.Length; r++)
            {
                var levels = _trace[_query[r]];
                while (levels.Count < _level) levels.Add([]);
                levels[_level - 1].Add(_state[r]);
            }
    }

    public void Feed(int[] lastTokens) => Apply(lastTokens);

    public ReadOnlySpan<float> NextLogProbabilities(int[] lastTokens)
    {
        Apply(lastTokens);
        int rows = _query.Length, V = _vocabulary.Size;
        if (_out.Length != rows * V) _out = new float[rows * V];
        Array.Fill(_out, float.NegativeInfinity);
        var trie = _catalog.Trie;
        float w = _options.LatentWeight;
        if (_level < _levels)
        {
            int K = _model.Config.Codes, H = _model.Config.DecoderHidden, offset = _vocabulary.Token(_level, 0);
            var parts = _queryParts[_level] ??= _decoder.QueryPart(_queries, _level);
            var q = new float[rows * _p];
            var queryParts = new float[rows * H];
            for (int r = 0; r < rows; r++)
            {
                _queries.AsSpan(_query[r] * _p, _p).CopyTo(q.AsSpan(r * _p));
                parts.AsSpan(_query[r] * H, H).CopyTo(queryParts.AsSpan(r * H));
            }
            var logProbs = new float[rows * K];
            _decoder.LogProbabilities(q, queryParts, _codes, _prefix, _level, logProbs);
            for (int r = 0; r < rows; r++)
            {
                logProbs.AsSpan(r * K, K).CopyTo(_out.AsSpan(r * V + offset, K));
                if (_level < _firstSteered) continue;
                // The parent already carries w (best under it - 1); each child adds the difference, so a
                // prefix's score is log P(prefix) + w (best under it - 1) (with exact values, a bound on its items' scores).
                float parent = _level == _firstSteered ? 1f : PrefixValue(_query[r], _state[r], _level);
                int count = trie.Allowed(_state[r], _allowed);
                for (int t = 0; t < count; t++)
                    _out[r * V + _allowed[t]] += Steer(w, PrefixValue(_query[r], trie.Advance(_state[r], _allowed[t]), _level + 1), parent);
            }
        }
        else
        {
            for (int r = 0; r < rows; r++)
            {
                float best = _firstSteered < _levels ? BestSimilarity(_query[r], _state[r]) : 1f;
                int count = trie.Allowed(_state[r], _allowed);
                for (int t = 0; t < count; t++)
                {
                    _out[r * V + _allowed[t]] = Steer(w, BestSimilarity(_query[r], trie.Advance(_state[r], _allowed[t])), best);
                }
            }
        }
        return _out;
    }

    /// <summary>w (sim - parent): what a child adds to its parent's score; -inf for a child without an item latent under it.</summary>
    private static float Steer(float w, float sim, float parent) => float.IsNegativeInfinity(sim) ? float.NegativeInfinity : w * (sim - parent);

    /// <summary>
    /// v of the prefix of <paramref name="length"/> codes at <paramref name="state"/>: the best sim(q, d) under it for a
    /// whole code, the best sketch estimate for a shorter prefix (a state is one length, so one value per state).
    /// </summary>
    private float PrefixValue(int queryIndex, int state, int length)
        => _sketched && length < _levels ? BestEstimate(queryIndex, state) : BestSimilarity(queryIndex, state);

    /// <summary>
    /// The best sketch estimate of sim(q, d) over the items at or below <paramref name="state"/> (-inf when none):
    /// the base's items under a prefix are a range of its entries, so a SIMD max over the query's estimates
    /// by entry; the delta's (added or moved since the base) one by one.
    /// </summary>
    private float BestEstimate(int queryIndex, int state)
    {
        long key = (long)queryIndex << 32 | (uint)state;
        if (_best.TryGetValue(key, out float known)) return known;
        var trie = _catalog.Trie;
        float best = float.NegativeInfinity;
        var (lo, hi) = trie.BaseEntriesUnder(state);
        if (hi > lo) best = TensorPrimitives.Max(EntryEstimates(queryIndex).AsSpan(lo, hi - lo));
        _under.Clear();
        trie.DeltaSlotsUnder(state, _under);
        if (_under.Count > 0)
        {
            int width = _latents.Sketch.Width;
            var query = _querySketches.AsSpan(queryIndex * width, width);
            foreach (int slot in _under)
                if (_latents.DeltaSketchOf(slot) is { IsEmpty: false } d) best = Math.Max(best, LatentSketch.Estimate(query, d));
        }
        return _best[key] = best;
    }

    /// <summary>
    /// The query's estimate for every base entry, in one pass over the base's block (the first steered
    /// level's codes cover the whole catalog, so every entry is asked for); dead entries -inf.
    /// </summary>
    private float[] EntryEstimates(int queryIndex)
    {
        if (_estimates[queryIndex] is { } known) return known;
        int width = _latents.Sketch.Width, entries = _latents.BaseSketches.Length / width;
        // Rented: a fresh 220 KB array per query lands on the large-object heap, whose collections are full ones.
        var estimates = ArrayPool<float>.Shared.Rent(entries);
        LatentSketch.EstimateRows(_querySketches.AsSpan(queryIndex * width, width), _latents.BaseSketches, estimates.AsSpan(0, entries));
        foreach (int entry in _catalog.Trie.DeadEntries) estimates[entry] = float.NegativeInfinity;
        return _estimates[queryIndex] = estimates;
    }

    /// <summary>Returns the rented per-query tables.</summary>
    public void Dispose()
    {
        for (int i = 0; i < _estimates.Length; i++)
            if (_estimates[i] is { } rented) { ArrayPool<float>.Shared.Return(rented); _estimates[i] = null; }
        for (int i = 0; i < _similarities.Length; i++)
            if (_similarities[i] is { } rented) { ArrayPool<float>.Shared.Return(rented); _similarities[i] = null; }
    }

    /// <summary>The best sim(q, d) over the items at or below <paramref name="state"/> (-inf when none has a latent).</summary>
    private float BestSimilarity(int queryIndex, int state)
    {
        long key = (long)queryIndex << 32 | (uint)state;
        if (_best.TryGetValue(key, out float known)) return known;
        var query = _queries.AsSpan(queryIndex * _p, _p);
        _under.Clear();
        _catalog.Trie.SlotsUnder(state, _under);
        float best = float.NegativeInfinity;
        if (_sketched) // only whole codes and items ask: the leaves the beam reaches, a few hundred items
        {
            foreach (int slot in _under)
                if (_latents.Of(slot) is { } d) best = Math.Max(best, UnifiedRetriever.Similarity(query, d));
            return _best[key] = best;
        }
        var sims = _similarities[queryIndex];
        if (sims is null)
        {
            sims = _similarities[queryIndex] = ArrayPool<float>.Shared.Rent(_slots);
            sims.AsSpan().Fill(float.NaN);
        }
        foreach (int slot in _under)
        {
            float sim = sims[slot];
            if (float.IsNaN(sim)) sim = sims[slot] = _latents.Of(slot) is { } d ? UnifiedRetriever.Similarity(query, d) : float.NegativeInfinity;
            best = Math.Max(best, sim);
        }
        return _best[key] = best;
    }

    public void SelectRows(int[] rows)
    {
        var query = new int[rows.Length];
        var state = new int[rows.Length];
        var prefix = new float[rows.Length * _p];
        var codes = new int[rows.Length * _levels];
        for (int i = 0; i < rows.Length; i++)
        {
            query[i] = _query[rows[i]];
            state[i] = _state[rows[i]];
            _prefix.AsSpan(rows[i] * _p, _p).CopyTo(prefix.AsSpan(i * _p));
            _codes.AsSpan(rows[i] * _levels, _levels).CopyTo(codes.AsSpan(i * _levels));
        }
        _query = query; _state = state; _prefix = prefix; _codes = codes;
    }
}

/// <summary>A catalog base's latents by slot (null: gone) and their sketches in one block in the base trie's entry order [entries, k + 1].</summary>
internal sealed record BaseTables(float[]?[] Latents, float[] Sketches);

/// <summary>
/// The item latents (and their sketches) of one catalog snapshot by slot (slots, unlike positions, survive changes): a base
/// slot the snapshot has not moved reads the base's tables; a moved or added item is looked up by its id.
/// </summary>
internal sealed class SlotLatents(GenerativeSnapshot snapshot, BaseTables tables, ConcurrentDictionary<string, UnifiedItem> items, LatentSketch sketch)
{
    private readonly float[]?[] baseLatents = tables.Latents;

    /// <summary>The sketches' directions.</summary>
    public LatentSketch Sketch => sketch;

    /// <summary>The base's sketches in its trie's entry order, one block [entries, k + 1] (a dead entry's row is its old item's).</summary>
    public ReadOnlySpan<float> BaseSketches => tables.Sketches;

    /// <summary>
    /// The sketch of the delta's item (added, or moved since the base was built) at <paramref name="slot"/>, by its id
    /// (empty when the item is gone); the base's items are read from <see cref="BaseSketches"/> by entry.
    /// </summary>
    public ReadOnlySpan<float> DeltaSketchOf(int slot) => items.TryGetValue(snapshot.SlotId(slot), out var item) ? item.Sketch.Span : default;

    public float[]? Of(int slot)
    {
        // Moved is empty between folds of a quiet catalog: steering every level reads every slot per query.
        if (slot < baseLatents.Length && (snapshot.Moved.Count == 0 || !snapshot.Moved.ContainsKey(slot))) return baseLatents[slot];
        return items.TryGetValue(snapshot.SlotId(slot), out var item) ? item.Latent : null;
    }
}
