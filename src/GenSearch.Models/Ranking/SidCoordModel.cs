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
    /// <summary>
    /// Folds of the training queries that keep item-side tables (hashed ID and SID levels) of their own:
    /// 1 = one set of tables, trained by the lists they score; more = out-of-fold item memory (see
    /// <see cref="SidCoordModel.Score"/>). 1 for models written before the option (their one set of tables).
    /// </summary>
    public int MemoryFolds { get; init; } = 1;
    /// <summary>
    /// Whether the target's SIDs are aligned with the user's history (the alignment inputs); off, they are
    /// zeros, as for a query without a history: the ablation. On for models written before the option.
    /// </summary>
    public bool UserAlignment { get; init; } = true;
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
/// <param name="Folds">In training, the fold (0..MemoryFolds-1) of each candidate's query [N]; null when serving.</param>
public sealed record RankingBatch(float[] Features, float[] Alignment, int[] ItemBuckets, int[] Sids, int[] QueryOf, int[] QueryWords, int[] QueryOffsets, int[]? Folds = null)
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
/// features rank as LambdaMART's do and the IDs add what they have learnt. The item tables are kept per fold
/// of the training queries (out-of-fold memory, <see cref="Score"/>), so no list is scored by memory it wrote.
/// Shapes: N candidates, F features, L levels, e = Dim, H = Hidden.
/// </summary>
public sealed class SidCoordModel : Module
{
    private readonly Linear _featureHidden;   // [H, F + L]
    private readonly Embedding _words;        // [WordBuckets, e]
    private readonly Embedding[] _items;      // [ItemBuckets, e] per memory fold
    private readonly Embedding[][] _levels;   // [Codes, e] per memory fold and level
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
        if (config.Features <= 0 || config.ItemBuckets <= 0 || config.WordBuckets <= 0 || config.Levels <= 0 || config.Codes <= 0 || config.Dim <= 0 || config.Hidden <= 0 || config.MemoryFolds <= 0)
            throw new ArgumentException($"a SID-Coord model needs positive sizes, got {config}");
        Config = config;
        int e = config.Dim, H = config.Hidden, L = config.Levels;
        _featureHidden = RegisterModule("feature_hidden", new Linear(config.Features + L, H, rng));
        // Embedding tables start at N(0, 0.1): at 0.02 the products r * u are 1e-4 and the gate and attention
        // get no gradient to speak of for the first epoch.
        _words = RegisterModule("words", new Embedding(config.WordBuckets, e, rng, 0.1f));
        _words.Weight.RowSparse = true;
        // The item-ID table starts at zero, so a row no training list touched (an item never seen) adds nothing
        // and is told apart from a learnt one when folds are combined (Mix).
        int K = config.MemoryFolds;
        _items = new Embedding[K];
        _levels = new Embedding[K][];
        for (int f = 0; f < K; f++)
        {
            string suffix = f == 0 ? "" : $"_f{f}"; // fold 0 keeps the names of models written before folds
            _items[f] = RegisterModule("items" + suffix, new Embedding(config.ItemBuckets, e, rng, 0f));
            _items[f].Weight.RowSparse = true;
            _levels[f] = new Embedding[L];
            for (int l = 0; l < L; l++) _levels[f][l] = RegisterModule($"sid{l}{suffix}", new Embedding(config.Codes, e, rng, 0.1f));
        }
        _attentionQuery = RegisterModule("attention_query", new Linear(e, e, rng));
        _gate = RegisterModule("gate", new Linear(3 * e, 1, rng));
        _scoreHidden = RegisterModule("score_hidden", new Linear(H, H, rng));
        _scoreOut = RegisterModule("score_out", new Linear(H, 1, rng));
        _match = RegisterModule("match", new Linear(e, 1, rng, bias: false));
    }

    /// <summary>Scores [N] of a batch of candidates (serving, or a training batch's main scores).</summary>
    public Tensor Forward(RankingBatch batch) => Score(batch).Scores;

    /// <summary>
    /// Scores [N] of a batch, and in training with out-of-fold memory (<see cref="SidCoordConfig.MemoryFolds"/> above 1
    /// and <see cref="RankingBatch.Folds"/> given) the memory scores [N] that train the item tables.
    /// <para>
    /// Why folds: on homedepot most items are relevant to one training query, so an item embedding trained
    /// by the list it scores learns that list's label. Cross-fitted on 7,716 lists, the ID-only model fell to
    /// NDCG@10 0.300 on dev against 0.437 for the features alone: it ranked every item some training query
    /// liked above the unseen relevant ones (bench/RESULTS.md, ## ranking). So a list of fold f is scored
    /// through the item tables of the other folds (what other queries taught about the item), with no
    /// gradient into them; each fold's tables learn from their own lists through the memory score
    /// y_feat + w . (r_f * u), every other weight held fixed (detached), so the gate, the attention and the
    /// match learn to read memory that was not written by the list at hand, as at serving.
    /// </para>
    /// At serving an item's row is the mean over the folds whose row is not all zero (the ID tables start at
    /// zero: a row no list touched is an item that fold never saw).
    /// </summary>
    public (Tensor Scores, Tensor? Memory) Score(RankingBatch batch)
    {
        int N = batch.Count, F = Config.Features, L = Config.Levels;
        if (batch.Features.Length != N * F || batch.Alignment.Length != N * L || batch.Sids.Length != N * L || batch.QueryOf.Length != N)
            throw new ArgumentException($"a batch of {N} candidates needs {N * F} features, {N * L} alignments and SIDs and {N} query indexes");
        if (batch.Folds is { } folds && (folds.Length != N || folds.Any(f => (uint)f >= (uint)Config.MemoryFolds)))
            throw new ArgumentException($"a batch of {N} candidates needs {N} folds in 0..{Config.MemoryFolds - 1}");
        var features = Tensor.Concat([new Tensor(batch.Features, N, F), new Tensor(batch.Alignment, N, L)], 1);
        var h = _featureHidden.Forward(features).Relu();                                            // [N, H]
        var u = Tensor.Embedding(Tensor.EmbeddingBag(_words.Weight, batch.QueryWords, batch.QueryOffsets), batch.QueryOf, N); // [N, e]
        var y = _scoreOut.Forward(_scoreHidden.Forward(h).Relu()).Reshape(N);                      // [N]
        if (Config.Items == ItemRepresentation.None) return (y, null);
        // Each fold's rows, looked up once: [N, e] ID rows and [N, L, e] SID level rows (null when not read).
        var ids = Config.Items is ItemRepresentation.ItemId or ItemRepresentation.Both ? _items.Select(t => t.Forward(batch.ItemBuckets, N)).ToArray() : null;
        var levels = Config.Items is ItemRepresentation.Sids or ItemRepresentation.Both ? Enumerable.Range(0, Config.MemoryFolds).Select(f => LevelEmbeddings(batch, f)).ToArray() : null;
        Tensor? Ids(FoldUse use) => ids is null ? null : Mix(ids, batch.Folds, 1, use);
        Tensor? Levels(FoldUse use) => levels is null ? null : Mix(levels, batch.Folds, L, use);
        if (Config.MemoryFolds == 1 || batch.Folds is null)
        {
            var r = Represent(u, Ids(FoldUse.Serving), Levels(FoldUse.Serving), _attentionQuery.Weight, _attentionQuery.Bias, _gate.Weight, _gate.Bias);
            return (y + _match.Forward(r * u).Reshape(N), null);
        }
        var outside = Represent(u, Ids(FoldUse.OtherFolds)?.Detach(), Levels(FoldUse.OtherFolds)?.Detach(),
            _attentionQuery.Weight, _attentionQuery.Bias, _gate.Weight, _gate.Bias);
        var scores = y + _match.Forward(outside * u).Reshape(N);
        var fixedU = u.Detach();
        var own = Represent(fixedU, Ids(FoldUse.OwnFold), Levels(FoldUse.OwnFold),
            _attentionQuery.Weight.Detach(), _attentionQuery.Bias?.Detach(), _gate.Weight.Detach(), _gate.Bias?.Detach());
        var memory = y.Detach() + Tensor.Linear(own * fixedU, _match.Weight.Detach(), null).Reshape(N);
        return (scores, memory);
    }

    private enum FoldUse { Serving, OtherFolds, OwnFold }

    /// <summary>
    /// The item representation r [N, e] from the ID rows m [N, e] and the SID level rows [N, L, e] (either
    /// null when the model does not read it): the ID, the fused SIDs, or their gated mix.
    /// </summary>
    private Tensor Represent(Tensor u, Tensor? m, Tensor? levels, Tensor attentionWeight, Tensor? attentionBias, Tensor gateWeight, Tensor? gateBias)
    {
        Tensor Fused() => FuseLevels(Tensor.Linear(u, attentionWeight, attentionBias), levels!, Config.Dim);
        return Config.Items switch
        {
            ItemRepresentation.ItemId => m!,
            ItemRepresentation.Sids => Fused(),
            _ => Coordinate(u, m!, Fused(), gateWeight, gateBias),
        };
    }

    /// <summary>
    /// Combines each fold's rows [N * perCandidate rows of e] into one: the candidate's own fold's, the mean of the
    /// other folds' non-zero rows, or (serving) the mean of every fold's non-zero rows. The weights are constants, so
    /// the gradient reaches exactly the rows used.
    /// </summary>
    private static Tensor Mix(Tensor[] perFold, int[]? folds, int perCandidate, FoldUse use)
    {
        if (perFold.Length == 1) return perFold[0];
        var shape = perFold[0].Shape;
        int e = shape[^1], rows = perFold[0].Size / e;
        var weights = new float[perFold.Length][];
        for (int f = 0; f < perFold.Length; f++) weights[f] = new float[rows];
        for (int row = 0; row < rows; row++)
        {
            int own = folds is null ? -1 : folds[row / perCandidate];
            int count = 0;
            for (int f = 0; f < perFold.Length; f++)
            {
                bool used = use switch
                {
                    FoldUse.OwnFold => f == own,
                    FoldUse.OtherFolds => f != own && AnyNonZero(perFold[f].Data.AsSpan(row * e, e)),
                    _ => AnyNonZero(perFold[f].Data.AsSpan(row * e, e)),
                };
                if (used) { weights[f][row] = 1; count++; }
            }
            if (count > 1) for (int f = 0; f < perFold.Length; f++) weights[f][row] /= count;
        }
        int[] weightShape = [.. shape[..^1], 1];
        Tensor? mixed = null;
        for (int f = 0; f < perFold.Length; f++)
        {
            var part = perFold[f] * new Tensor(weights[f], weightShape);
            mixed = mixed is null ? part : mixed + part;
        }
        return mixed!;
    }

    private static bool AnyNonZero(ReadOnlySpan<float> row) => row.IndexOfAnyExcept(0f) >= 0;

    /// <summary>Each level's code embedding in memory fold <paramref name="fold"/>'s tables, stacked [N, L, e].</summary>
    public Tensor LevelEmbeddings(RankingBatch batch, int fold = 0)
    {
        int N = batch.Count, L = Config.Levels, e = Config.Dim;
        var parts = new Tensor[L];
        for (int l = 0; l < L; l++)
        {
            var codes = new int[N]; // a fresh array per level: the embedding's backward reads the ids it was given
            for (int i = 0; i < N; i++) codes[i] = batch.Sids[i * L + l];
            parts[l] = _levels[fold][l].Forward(codes, N).Reshape(N, 1, e);
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
    public static Tensor Coordinate(Tensor u, Tensor m, Tensor s, Linear gate) => Coordinate(u, m, s, gate.Weight, gate.Bias);

    /// <summary>The gate with its weight [1, 3e] and bias given (detached when only the item tables learn).</summary>
    public static Tensor Coordinate(Tensor u, Tensor m, Tensor s, Tensor gateWeight, Tensor? gateBias)
    {
        var g = Tensor.Linear(Tensor.Concat([u, m, s], 1), gateWeight, gateBias).Sigmoid();   // [N, 1]
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
