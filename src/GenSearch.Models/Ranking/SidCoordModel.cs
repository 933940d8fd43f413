using GenSearch.Nn;
using GenSearch.Tensors;

namespace GenSearch.Models.Ranking;

/// <summary>Which item representations a <see cref="SidCoordModel"/> uses (the ablations of the SID-Coord paper).</summary>
[System.Text.Json.Serialization.JsonConverter(typeof(System.Text.Json.Serialization.JsonStringEnumConverter<ItemRepresentation>))]
public enum ItemRepresentation
{
    /// <summary>Hashed item ID and semantic IDs, balanced by the target-aware gate (the full model).</summary>
    Both,
    /// <summary>The hashed item-ID embedding alone (memorisation only).</summary>
    ItemId,
    /// <summary>The attention-fused semantic-ID embeddings alone (generalisation only).</summary>
    Sids,
    /// <summary>Neither: the match features and the user alignment through the MLP only.</summary>
    None,
}

/// <summary>Sizes of a <see cref="SidCoordModel"/>.</summary>
public sealed record SidCoordConfig
{
    /// <summary>Query-item match features per candidate (standardised before they reach the model).</summary>
    public int Features { get; init; }
    /// <summary>Rows of the hashed item-ID table (item ids hash into it; collisions share a row, as in production).</summary>
    public int ItemBuckets { get; init; } = 1 << 17;
    /// <summary>Rows of the hashed query-word table (the query's words, as the query representation).</summary>
    public int WordBuckets { get; init; } = 1 << 16;
    /// <summary>Semantic-ID levels read (the collision token is not one).</summary>
    public int Levels { get; init; } = 3;
    /// <summary>Codes per level.</summary>
    public int Codes { get; init; } = 64;
    /// <summary>Width e of the ID, SID and query embeddings.</summary>
    public int Dim { get; init; } = 32;
    /// <summary>Width of the match-feature MLP and of the scoring layer.</summary>
    public int Hidden { get; init; } = 64;
    /// <summary>Which item representations are used.</summary>
    public ItemRepresentation Items { get; init; } = ItemRepresentation.Both;
}

/// <summary>
/// A batch of candidates to score: <c>N</c> candidates of <c>B</c> queries.
/// </summary>
/// <param name="Features">Standardised match features [N, F], row-major.</param>
/// <param name="Alignment">User-history alignment per candidate [N, L] (share of the history's items sharing the target's SID prefix to each level; zeros without a history).</param>
/// <param name="ItemBuckets">Hashed item-ID row per candidate [N].</param>
/// <param name="Sids">Semantic-ID codes per candidate [N, L], row-major.</param>
/// <param name="QueryOf">The query (0..B-1) each candidate belongs to [N].</param>
/// <param name="QueryWords">Hashed word rows of each query, concatenated.</param>
/// <param name="QueryOffsets">Where each query's words start in <paramref name="QueryWords"/> [B].</param>
public sealed record RankingBatch(float[] Features, float[] Alignment, int[] ItemBuckets, int[] Sids, int[] QueryOf, int[] QueryWords, int[] QueryOffsets)
{
    /// <summary>Candidates N.</summary>
    public int Count => ItemBuckets.Length;
}

/// <summary>
/// SID-Coord (seed 001; "SID-Coord: coordinating semantic IDs with item IDs in ranking") on our engine: a
/// scorer of (query, candidate) pairs that reads
/// <list type="bullet">
/// <item>the match features (BM25, dense similarity, generator log-probability, text overlap, retrieval rank)
/// and the user alignment through a small MLP: h [N, H];</item>
/// <item>the query as a mean of hashed word embeddings: u [N, e];</item>
/// <item>a hashed item-ID embedding (memorisation): m [N, e];</item>
/// <item>the item's semantic-ID levels, one table per level, fused by attention over the levels with the
/// query as the attention's query (which level says most depends on what is asked): s [N, e];</item>
/// <item>a target-aware gate g = sigmoid(w . [u; m; s] + b) [N, 1], so the model leans on the ID where it
/// has memorised the item and on its SIDs where it has not: r = g m + (1 - g) s;</item>
/// </list>
/// and scores y = w2 . relu(W1 h + b1) + b2 + w . (r * u): the features' own score plus a match of the
/// item's representation with the query's words. The item part is added, not mixed into the features' MLP:
/// trained on 830 held-out queries, an MLP over [h; r * u; r] memorised the lists (training loss 1.29) and
/// reranked homedepot dev to NDCG@10 0.248, far below the fusion it reorders (0.415); kept apart, the
/// features rank as LambdaMART's do and the IDs add what they have learnt.
/// Shapes: N candidates, F features, L levels, e = Dim, H = Hidden.
/// </summary>
public sealed class SidCoordModel : Module
{
    private readonly Linear _featureHidden;   // [H, F + L]
    private readonly Embedding _words;        // [WordBuckets, e]
    private readonly Embedding _items;        // [ItemBuckets, e]
    private readonly Embedding[] _levels;     // [Codes, e] per level
    private readonly Linear _attentionQuery;  // [e, e]: u -> the attention's query over the levels
    private readonly Linear _gate;            // [1, 3e]
    private readonly Linear _scoreHidden;     // [H, H]
    private readonly Linear _scoreOut;        // [1, H]
    private readonly Linear _match;           // [1, e], no bias: w . (r * u)

    /// <summary>The sizes this model was built with.</summary>
    public SidCoordConfig Config { get; }

    /// <summary>A model with weights drawn by <paramref name="rng"/>.</summary>
    public SidCoordModel(SidCoordConfig config, Rng rng)
    {
        if (config.Features <= 0 || config.ItemBuckets <= 0 || config.WordBuckets <= 0 || config.Levels <= 0 || config.Codes <= 0 || config.Dim <= 0 || config.Hidden <= 0)
            throw new ArgumentException($"a SID-Coord model needs positive sizes, got {config}");
        Config = config;
        int e = config.Dim, H = config.Hidden, L = config.Levels;
        _featureHidden = RegisterModule("feature_hidden", new Linear(config.Features + L, H, rng));
        // Embedding tables start at N(0, 0.1): at 0.02 the products r * u are 1e-4 and the gate and attention
        // get no gradient to speak of for the first epoch.
        _words = RegisterModule("words", new Embedding(config.WordBuckets, e, rng, 0.1f));
        _words.Weight.RowSparse = true;
        _items = RegisterModule("items", new Embedding(config.ItemBuckets, e, rng, 0.1f));
        _items.Weight.RowSparse = true;
        _levels = new Embedding[L];
        for (int l = 0; l < L; l++) _levels[l] = RegisterModule($"sid{l}", new Embedding(config.Codes, e, rng, 0.1f));
        _attentionQuery = RegisterModule("attention_query", new Linear(e, e, rng));
        _gate = RegisterModule("gate", new Linear(3 * e, 1, rng));
        _scoreHidden = RegisterModule("score_hidden", new Linear(H, H, rng));
        _scoreOut = RegisterModule("score_out", new Linear(H, 1, rng));
        _match = RegisterModule("match", new Linear(e, 1, rng, bias: false));
    }

    /// <summary>Scores [N] of a batch of candidates.</summary>
    public Tensor Forward(RankingBatch batch)
    {
        int N = batch.Count, F = Config.Features, L = Config.Levels, e = Config.Dim;
        if (batch.Features.Length != N * F || batch.Alignment.Length != N * L || batch.Sids.Length != N * L || batch.QueryOf.Length != N)
            throw new ArgumentException($"a batch of {N} candidates needs {N * F} features, {N * L} alignments and SIDs and {N} query indexes");
        var features = Tensor.Concat([new Tensor(batch.Features, N, F), new Tensor(batch.Alignment, N, L)], 1);
        var h = _featureHidden.Forward(features).Relu();                                            // [N, H]
        var u = Tensor.Embedding(Tensor.EmbeddingBag(_words.Weight, batch.QueryWords, batch.QueryOffsets), batch.QueryOf, N); // [N, e]
        var r = ItemVector(u, batch);                                                               // [N, e] or null
        var y = _scoreOut.Forward(_scoreHidden.Forward(h).Relu());                                 // [N, 1]
        if (r is not null) y = y + _match.Forward(r * u);
        return y.Reshape(N);
    }

    /// <summary>The item's representation r [N, e]: the ID, the fused SIDs, or their gated mix; null for <see cref="ItemRepresentation.None"/>.</summary>
    private Tensor? ItemVector(Tensor u, RankingBatch batch)
    {
        int N = batch.Count;
        return Config.Items switch
        {
            ItemRepresentation.ItemId => _items.Forward(batch.ItemBuckets, N),
            ItemRepresentation.Sids => FuseLevels(u, LevelEmbeddings(batch)),
            ItemRepresentation.Both => Coordinate(u, _items.Forward(batch.ItemBuckets, N), FuseLevels(u, LevelEmbeddings(batch)), _gate),
            _ => null,
        };
    }

    /// <summary>Each level's code embedding, stacked [N, L, e].</summary>
    public Tensor LevelEmbeddings(RankingBatch batch)
    {
        int N = batch.Count, L = Config.Levels, e = Config.Dim;
        var parts = new Tensor[L];
        for (int l = 0; l < L; l++)
        {
            var codes = new int[N]; // a fresh array per level: the embedding's backward reads the ids it was given
            for (int i = 0; i < N; i++) codes[i] = batch.Sids[i * L + l];
            parts[l] = _levels[l].Forward(codes, N).Reshape(N, 1, e);
        }
        return Tensor.Concat(parts, 1);
    }

    /// <summary>
    /// Attention over the SID levels: a_l = softmax_l((A u) . s_l / sqrt(e)), fused s = sum_l a_l s_l.
    /// u [N, e] the query, levels [N, L, e]; returns [N, e].
    /// </summary>
    public Tensor FuseLevels(Tensor u, Tensor levels) => FuseLevels(_attentionQuery.Forward(u), levels, Config.Dim);

    /// <summary>The fusion with the attention's query a [N, e] given: [N, e].</summary>
    public static Tensor FuseLevels(Tensor a, Tensor levels, int dim)
    {
        int N = levels.Shape[0], L = levels.Shape[1], e = levels.Shape[2];
        var logits = (levels * a.Reshape(N, 1, e)).Sum(2).Scale(1f / MathF.Sqrt(dim));  // [N, L]
        var weights = logits.Softmax();                                                   // [N, L]
        return (levels * weights.Reshape(N, L, 1)).Sum(1);                                // [N, e]
    }

    /// <summary>The gate's weight on the item ID, g = sigmoid(gate([u; m; s])) [N, 1], for inspection.</summary>
    public Tensor GateOf(Tensor u, Tensor m, Tensor s) => _gate.Forward(Tensor.Concat([u, m, s], 1)).Sigmoid();

    /// <summary>
    /// The target-aware gate between memorisation and generalisation: g = sigmoid(gate([u; m; s])),
    /// r = g m + (1 - g) s. u the query [N, e], m the item-ID embedding [N, e], s the fused SIDs [N, e].
    /// </summary>
    public static Tensor Coordinate(Tensor u, Tensor m, Tensor s, Linear gate)
    {
        var g = gate.Forward(Tensor.Concat([u, m, s], 1)).Sigmoid();   // [N, 1]
        return g * m + (Tensor.Full(1f, 1) - g) * s;
    }

    /// <summary>
    /// The listwise softmax loss over each query's candidates (ListNet with the graded target
    /// p_i = (2^grade_i - 1) / sum_j (2^grade_j - 1), NDCG's gain): -sum_i p_i log softmax(y)_i, averaged over
    /// the queries. <paramref name="scores"/> [B * C] as B lists of C; <paramref name="grades"/> [B * C] with NaN
    /// for padding (never in the softmax). A list without gain adds nothing.
    /// </summary>
    public static Tensor ListwiseLoss(Tensor scores, float[] grades, int lists, int candidates)
    {
        if (scores.Size != lists * candidates || grades.Length != scores.Size) throw new ArgumentException($"{scores.Size} scores and {grades.Length} grades for {lists} lists of {candidates}");
        var target = new float[grades.Length];
        var padding = new bool[grades.Length];
        int used = 0;
        for (int b = 0; b < lists; b++)
        {
            double total = 0;
            for (int c = 0; c < candidates; c++)
            {
                float g = grades[b * candidates + c];
                if (float.IsNaN(g)) { padding[b * candidates + c] = true; continue; }
                total += Math.Pow(2, g) - 1;
            }
            if (total <= 0) continue;
            used++;
            for (int c = 0; c < candidates; c++)
            {
                float g = grades[b * candidates + c];
                if (!float.IsNaN(g)) target[b * candidates + c] = (float)((Math.Pow(2, g) - 1) / total);
            }
        }
        var logp = scores.Reshape(lists, candidates).MaskedFill(padding, [lists, candidates], -1e9f).LogSoftmax();
        return (logp * new Tensor(target, lists, candidates)).SumAll().Scale(-1f / Math.Max(1, used));
    }

    /// <summary>A stable hash of an item id into <paramref name="buckets"/> rows (FNV-1a over its UTF-16 units).</summary>
    public static int Bucket(string id, int buckets)
    {
        uint h = 2166136261;
        foreach (char c in id) { h ^= c; h *= 16777619; }
        return (int)(h % (uint)buckets);
    }

    /// <summary>The hashed word rows of a query's words (lower-cased, split on anything but letters and digits).</summary>
    public static int[] WordBuckets(string text, int buckets)
    {
        var rows = new List<int>();
        foreach (var word in text.ToLowerInvariant().Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
        {
            var clean = new string([.. word.Where(char.IsLetterOrDigit)]);
            if (clean.Length > 0) rows.Add(Bucket("w:" + clean, buckets));
        }
        return [.. rows];
    }
}
