using GenSearch.Nn;
using GenSearch.Quantization;
using GenSearch.Tensors;

namespace GenSearch.Models.Unified;

/// <summary>Sizes and fixed constants of a <see cref="UnifiedModel"/>.</summary>
public sealed record UnifiedConfig
{
    /// <summary>Rows of the n-gram feature table (the feature vocabulary's size).</summary>
    public int Features { get; init; }
    /// <summary>Width p of the query vector q, the item latents d(n) and the codes.</summary>
    public int Dim { get; init; } = 256;
    /// <summary>Levels k of the semantic ID (a collision token is appended when items share all k codes).</summary>
    public int Levels { get; init; } = 3;
    /// <summary>Codes per level.</summary>
    public int Codes { get; init; } = 64;
    /// <summary>Hidden width of each level's decoder layer.</summary>
    public int DecoderHidden { get; init; } = 256;
    /// <summary>Temperature of the decoder's softmax over a level's codes (scores are -||s - c||^2).</summary>
    public float DecoderTemperature { get; init; } = 0.1f;
    /// <summary>Commitment weight beta of the SimVQ levels.</summary>
    public float CommitmentWeight { get; init; } = 0.25f;
}

/// <summary>
/// The user's context as the query encoder reads it: the n-gram features of their recent queries
/// (one bag) and the semantic IDs of the items they recently clicked (codes, <see cref="UnifiedConfig.Levels"/> per item).
/// </summary>
public sealed record UserContextInput(int[] QueryFeatures, int[] ItemCodes)
{
    /// <summary>No history.</summary>
    public static readonly UserContextInput Empty = new([], []);
    /// <summary>Whether there is anything to read.</summary>
    public bool IsEmpty => QueryFeatures.Length == 0 && ItemCodes.Length == 0;
}

/// <summary>
/// UniSearch's unified model (DESIGN.md, "The unified model"), trained end to end:
/// <list type="bullet">
/// <item><b>Item encoder</b>: the item's text as a bag of n-gram features (words, word pairs, character
/// trigrams; one table shared with the query side, unit length), then one linear head per level giving
/// the latents d(1)..d(k), coarse to fine; the item's latent is d = d(1) + .. + d(k).</item>
/// <item><b>Quantizer</b>: level n's SimVQ codebook quantizes d(n) (straight-through, commitment loss);
/// the codes s(1)..s(k) are the item's semantic ID.</item>
/// <item><b>Search generator</b>: the query encoder reads the query's bag and the user's context
/// (recent queries' bag and the quantized latents of recently clicked items, through a projection
/// that starts at zero) into q; the decoder writes the ID level by level. Its state at level n is the
/// part of q the prefix has not yet explained, s(n) = q - P(n-1) + f_n([q; P(n-1)]), with P(n-1) the sum
/// of the prefix's code vectors and f_n a two-layer network that starts at zero; the next code's score is
/// -||s(n) - c||^2 / T over level n's codes c, so the decoder's token scores are tied to the codebooks.
/// Why not the two-stage model's transformer decoder: on homedepot the two-stage generator ranks a
/// relevant item into its beam of 50 for 27% of them where the dense top 50 holds 75%; a decoder tied
/// to the same geometry as the contrastive loss keeps the beam where sim(q, d) is high, and costs a
/// few 256-wide products per beam instead of attention over a cache.</item>
/// </list>
/// sim(q, d) = 1 - ||q - d||^2 throughout (the contrastive loss, dense search, and ordering a leaf's items).
/// </summary>
public sealed class UnifiedModel : Module
{
    private readonly Tensor[] _heads;              // [p, p] per level: d(n) = h W_n^T
    private readonly ResidualVectorQuantizer[] _quantizers; // one single-level SimVQ per level
    private readonly Linear[] _decoderHidden;      // [H, 2p] per level
    private readonly Linear[] _decoderOut;         // [p, H] per level, zero at the start
    private readonly Linear _context;              // [p, 2p], zero at the start

    /// <summary>The sizes this model was built with.</summary>
    public UnifiedConfig Config { get; }

    /// <summary>The n-gram feature table [features, p], shared by the query and item encoders (row-sparse updates).</summary>
    public Tensor Table { get; }

    /// <summary>A model with weights drawn by <paramref name="rng"/>.</summary>
    public UnifiedModel(UnifiedConfig config, Rng rng)
    {
        if (config.Features <= 0 || config.Dim <= 0 || config.Levels <= 0 || config.Codes <= 1 || config.DecoderHidden <= 0)
            throw new ArgumentException($"a unified model needs features, a width, levels, codes and a decoder width, got {config}");
        Config = config;
        int p = config.Dim;
        Table = RegisterParameter("features", Tensor.Randn(rng, 0.1f, config.Features, p));
        Table.RowSparse = true;
        _heads = new Tensor[config.Levels];
        _quantizers = new ResidualVectorQuantizer[config.Levels];
        _decoderHidden = new Linear[config.Levels];
        _decoderOut = new Linear[config.Levels];
        for (int n = 0; n < config.Levels; n++)
        {
            // Level 1 starts as the bag itself (the two-tower model's item vector); finer levels start as random
            // maps at half its scale: much smaller, and every item's d(n) would sit nearest the same code of its
            // level, whose utilisation then starts at a few percent.
            var head = n == 0 ? Identity(p) : Tensor.Randn(rng, 0.5f / MathF.Sqrt(p), p, p);
            _heads[n] = RegisterParameter($"head{n}", head);
            _quantizers[n] = RegisterModule($"vq{n}", new ResidualVectorQuantizer(p, new ResidualVqOptions
            {
                Levels = 1, Codes = config.Codes, Codebook = CodebookKind.SimVq, CommitmentWeight = config.CommitmentWeight, Seed = rng.NextInt(int.MaxValue),
            }));
            _decoderHidden[n] = RegisterModule($"decoder{n}_hidden", new Linear(2 * p, config.DecoderHidden, rng));
            _decoderOut[n] = RegisterModule($"decoder{n}_out", new Linear(config.DecoderHidden, p, rng));
            _decoderOut[n].Weight.Data.AsSpan().Clear();
            _decoderOut[n].Bias!.Data.AsSpan().Clear();
        }
        _context = RegisterModule("context", new Linear(2 * p, p, rng, bias: false));
        _context.Weight.Data.AsSpan().Clear();
    }

    private static Tensor Identity(int p)
    {
        var t = Tensor.Zeros(p, p);
        for (int i = 0; i < p; i++) t.Data[i * p + i] = 1f;
        return t;
    }

    /// <summary>Level <paramref name="level"/>'s decoder hidden layer [H, 2p] over [q; P] (<see cref="ServingDecoder"/> splits it).</summary>
    public Linear DecoderHiddenLayer(int level) => _decoderHidden[level];

    /// <summary>Level <paramref name="level"/>'s decoder output layer [p, H].</summary>
    public Linear DecoderOutLayer(int level) => _decoderOut[level];

    /// <summary>Level <paramref name="level"/>'s quantizer.</summary>
    public ResidualVectorQuantizer Quantizer(int level) => _quantizers[level];

    /// <summary>Level <paramref name="level"/>'s code vectors [K, p] (in the graph when gradients are on).</summary>
    public Tensor Codebook(int level) => _quantizers[level].Codebook(0).Vectors();

    /// <summary>Unit-length bags of feature-id rows [rows, p]; an empty row gives zeros.</summary>
    public Tensor Bags(IReadOnlyList<int[]> rows) => TwoTower.NgramTowerModel.UnitBags(Table, rows);

    /// <summary>
    /// The query vectors q [rows, p] of query feature rows and, when given, each query's user context
    /// (null entries or <see cref="UserContextInput.Empty"/> for none).
    /// </summary>
    public Tensor EncodeQueries(IReadOnlyList<int[]> rows, IReadOnlyList<UserContextInput?>? contexts = null)
    {
        var bags = Bags(rows);
        if (contexts is null || contexts.All(c => c is null || c.IsEmpty)) return bags;
        if (contexts.Count != rows.Count) throw new ArgumentException($"{contexts.Count} contexts for {rows.Count} queries");
        int p = Config.Dim, L = Config.Levels;
        var history = Bags(contexts.Select(c => c?.QueryFeatures ?? []).ToArray());
        // The clicked items' quantized latents (sum of their codes), averaged: the "SIDs of recently clicked items".
        var clicked = new float[rows.Count * p];
        using (Tensor.NoGrad())
        {
            var books = Enumerable.Range(0, L).Select(n => Codebook(n).Data).ToArray();
            for (int r = 0; r < rows.Count; r++)
            {
                var codes = contexts[r]?.ItemCodes ?? [];
                int items = codes.Length / L;
                if (items == 0) continue;
                var dst = clicked.AsSpan(r * p, p);
                for (int i = 0; i < items; i++)
                    for (int n = 0; n < L; n++)
                        System.Numerics.Tensors.TensorPrimitives.Add(dst, books[n].AsSpan(codes[i * L + n] * p, p), dst);
                System.Numerics.Tensors.TensorPrimitives.Multiply(dst, 1f / items, dst);
            }
        }
        var context = Tensor.Concat([history, new Tensor(clicked, rows.Count, p)], 1);
        return bags + _context.Forward(context);
    }

    /// <summary>The item latents d(1)..d(k), each [rows, p], of item feature rows.</summary>
    public Tensor[] ItemLevels(IReadOnlyList<int[]> rows)
    {
        var bags = Bags(rows);
        return _heads.Select(w => Tensor.Linear(bags, w, null)).ToArray();
    }

    /// <summary>
    /// The decoder's state s(n) [rows, p] at level <paramref name="level"/> given q [rows, p] and the
    /// prefix's code-vector sum P [rows, p] (zeros at level 0).
    /// </summary>
    public Tensor DecoderState(Tensor q, Tensor prefixSum, int level)
    {
        var input = Tensor.Concat([q, prefixSum], 1);
        var correction = _decoderOut[level].Forward(_decoderHidden[level].Forward(input).Gelu());
        return q - prefixSum + correction;
    }

    /// <summary>
    /// Level <paramref name="level"/>'s next-code logits [rows, K] = -||s(n) - c||^2 / T. The codes are
    /// constants here: next-token prediction trains the query side and the decoder, never the codebooks.
    /// Letting its gradient move the codes collapsed the IDs on homedepot (after one epoch 46,412 of
    /// 54,667 items on one level-1 code): the easiest ID to predict is the one every item shares.
    /// </summary>
    /// <param name="q">Query vectors [rows, p].</param>
    /// <param name="prefixSum">The prefix's code-vector sums [rows, p].</param>
    /// <param name="level">The level whose code comes next.</param>
    /// <param name="codebook">That level's code vectors when the caller holds them (serving computes each
    /// SimVQ codebook B W^T once, not once a step); null computes them.</param>
    public Tensor LevelLogits(Tensor q, Tensor prefixSum, int level, Tensor? codebook = null)
        => Tensor.PairwiseSquaredDistance(DecoderState(q, prefixSum, level), (codebook ?? Codebook(level)).Detach()).Scale(-1f / Config.DecoderTemperature);

    /// <summary>The sum of the code vectors of <paramref name="codes"/> [rows, L] row-major over levels 0..<paramref name="levels"/>-1, [rows, p], a constant (see <see cref="LevelLogits"/>).</summary>
    public Tensor PrefixSum(int[] codes, int rows, int levels)
    {
        int L = Config.Levels, p = Config.Dim;
        var sum = new float[rows * p];
        for (int n = 0; n < levels; n++)
        {
            var book = Codebook(n).Data;
            for (int r = 0; r < rows; r++)
            {
                var dst = sum.AsSpan(r * p, p);
                System.Numerics.Tensors.TensorPrimitives.Add(dst, book.AsSpan(codes[r * L + n] * p, p), dst);
            }
        }
        return new Tensor(sum, rows, p);
    }

    /// <summary>
    /// The model's own score of items for queries, in the graph: log P(ID | q) + w (sim(q, d) - 1), with
    /// log P(ID | q) the sum over levels of the decoder's log-softmax at the item's code given its prefix
    /// (teacher-forced, as beam search reaches it). This is the generative retriever's item score (the
    /// collision token adds nothing to it), so preference optimisation moves what serving ranks by.
    /// Row r scores item latent <paramref name="latents"/>[r] with codes <paramref name="codes"/>[r * L ..] for query <paramref name="q"/>[r].
    /// </summary>
    public Tensor ItemScores(Tensor q, Tensor latents, int[] codes, float latentWeight)
    {
        int rows = q.Shape[0], L = Config.Levels, K = Config.Codes;
        if (latents.Shape[0] != rows || codes.Length != rows * L)
            throw new ArgumentException($"{latents.Shape[0]} latents and {codes.Length} codes for {rows} queries of {L} levels");
        Tensor? logP = null;
        for (int n = 0; n < L; n++)
        {
            var logProbs = LevelLogits(q, PrefixSum(codes, rows, n), n).LogSoftmax();
            var pick = new float[rows * K];
            for (int r = 0; r < rows; r++) pick[r * K + codes[r * L + n]] = 1f;
            var term = Tensor.Mul(logProbs, Tensor.FromArray(pick, rows, K)).Sum(1);
            logP = logP is null ? term : logP + term;
        }
        var distance = (q - latents).Square().Sum(1);
        return logP! - distance.Scale(latentWeight);
    }

    /// <summary>
    /// Starts every level's codebook at the k-means centroids of that level's latents over up to
    /// <paramref name="sample"/> of <paramref name="rows"/> (SimVQ's map fitted to them,
    /// <see cref="SimVqCodebook.FitCodes"/>). Without it the random codes sit away from the latents and the
    /// code nearest to every item is the same one: on the homedepot sample every level used 1 code of 8.
    /// </summary>
    public void InitializeCodebooks(IReadOnlyList<int[]> rows, int sample, int seed)
    {
        int p = Config.Dim;
        var rng = new Rng((ulong)seed);
        var picked = Enumerable.Range(0, rows.Count).ToArray();
        rng.Shuffle(picked.AsSpan());
        var chosen = picked.Take(Math.Min(sample, rows.Count)).Select(i => rows[i]).ToArray();
        using var _ = Tensor.NoGrad();
        var levels = ItemLevels(chosen);
        int count = chosen.Length;
        var cumulative = new float[count * p];
        var prefix = new float[count * p];
        for (int n = 0; n < Config.Levels; n++)
        {
            System.Numerics.Tensors.TensorPrimitives.Add(cumulative, levels[n].Data.AsSpan(0, count * p), cumulative);
            var residual = new float[count * p];
            System.Numerics.Tensors.TensorPrimitives.Subtract(cumulative, prefix, residual);
            float[] centroids;
            var assign = new int[count];
            if (count >= Config.Codes)
            {
                var kmeans = new KMeans(p, new KMeansOptions { Clusters = Config.Codes, Seed = seed + n, Iterations = 20 });
                kmeans.Train(residual, count);
                kmeans.Assign(residual, count, assign);
                centroids = kmeans.Centroids;
            }
            else
            {
                // Fewer items than codes: every item is a code, the rest are items again with a little noise.
                centroids = new float[Config.Codes * p];
                for (int c = 0; c < Config.Codes; c++)
                    for (int t = 0; t < p; t++)
                        centroids[c * p + t] = residual[(c % count) * p + t] + (c < count ? 0f : 0.01f * rng.NextNormal());
                for (int i = 0; i < count; i++) assign[i] = i;
            }
            ((SimVqCodebook)_quantizers[n].Codebook(0)).FitCodes(centroids);
            var book = Codebook(n).Data;
            for (int i = 0; i < count; i++)
            {
                var dst = prefix.AsSpan(i * p, p);
                System.Numerics.Tensors.TensorPrimitives.Add(dst, book.AsSpan(assign[i] * p, p), dst);
            }
        }
    }

    /// <summary>
    /// Re-seeds every code of every level that no item uses (in <paramref name="codes"/> [rows, L], the
    /// catalog as last encoded) with the residual of a random item from the level's largest buckets,
    /// keeping the used codes exactly (a SimVQ codebook is refitted, <see cref="SimVqCodebook.FitCodes"/>,
    /// which is exact when codes &lt;= width). Returns the codes re-seeded per level. Without it the
    /// homedepot run ended its first epoch with 47% of the level-1 codes in use: the latents move
    /// under the contrastive loss and leave codes behind that the codebook loss, which moves only
    /// chosen codes towards their items, never brings back.
    /// </summary>
    public int[] ReseedDeadCodes(IReadOnlyList<int[]> rows, int[] codes, Rng rng, int sample = 20_000)
    {
        int L = Config.Levels, K = Config.Codes, p = Config.Dim, N = rows.Count;
        var reseeded = new int[L];
        var picked = Enumerable.Range(0, N).ToArray();
        rng.Shuffle(picked.AsSpan());
        picked = picked.Take(Math.Min(sample, N)).ToArray();
        using var _ = Tensor.NoGrad();
        var levels = ItemLevels(picked.Select(i => rows[i]).ToArray());
        int count = picked.Length;
        var cumulative = new float[count * p];
        var prefix = new float[count * p];
        for (int n = 0; n < L; n++)
        {
            System.Numerics.Tensors.TensorPrimitives.Add(cumulative, levels[n].Data.AsSpan(0, count * p), cumulative);
            var use = new int[K];
            for (int i = 0; i < N; i++) use[codes[i * L + n]]++;
            var dead = Enumerable.Range(0, K).Where(c => use[c] == 0).ToArray();
            var book = Codebook(n).Data.ToArray();
            if (dead.Length > 0)
            {
                // Donors: sample items whose code at this level is among the most used.
                var big = Enumerable.Range(0, K).OrderByDescending(c => use[c]).Take(Math.Max(1, K / 8)).ToHashSet();
                var donors = Enumerable.Range(0, count).Where(j => big.Contains(codes[picked[j] * L + n])).ToArray();
                if (donors.Length == 0) donors = Enumerable.Range(0, count).ToArray();
                foreach (int c in dead)
                {
                    int j = donors[rng.NextInt(donors.Length)];
                    for (int t = 0; t < p; t++) book[c * p + t] = cumulative[j * p + t] - prefix[j * p + t] + 1e-3f * rng.NextNormal();
                }
                ((SimVqCodebook)_quantizers[n].Codebook(0)).FitCodes(book);
                reseeded[n] = dead.Length;
            }
            for (int j = 0; j < count; j++)
            {
                var dst = prefix.AsSpan(j * p, p);
                System.Numerics.Tensors.TensorPrimitives.Add(dst, book.AsSpan(codes[picked[j] * L + n] * p, p), dst);
            }
        }
        return reseeded;
    }

    /// <summary>
    /// Quantizes the coarse-to-fine sums residually: level n's code is the nearest to
    /// (d(1) + .. + d(n)) - (c(1) + .. + c(n-1)), the part of the level-n sum the codes so far leave, so
    /// that the codes' prefix sums follow the latents' prefix sums (what the decoder's scores and the
    /// beam rely on) and each level encodes what the coarser ones did not. Quantizing each d(n) on its
    /// own gave 79% colliding IDs on the homedepot sample: the levels' latents, all linear maps of
    /// one text, repeat each other. Returns codes [rows, L] and, with gradients on in training mode,
    /// the VQ loss (codebook + commitment terms, summed over levels).
    /// </summary>
    public (int[] Codes, Tensor? Loss) Quantize(Tensor[] levels)
    {
        int rows = levels[0].Shape[0], L = Config.Levels, p = Config.Dim;
        var codes = new int[rows * L];
        bool training = Training && Tensor.GradEnabled;
        var prefix = new float[rows * p];
        Tensor? cumulative = null, loss = null;
        for (int n = 0; n < L; n++)
        {
            cumulative = cumulative is null ? levels[n] : cumulative + levels[n];
            var residual = cumulative - new Tensor((float[])prefix.Clone(), rows, p);
            int[] levelCodes;
            if (training)
            {
                var output = _quantizers[n].Forward(residual);
                loss = loss is null ? output.Loss : loss + output.Loss;
                levelCodes = output.Codes;
            }
            else levelCodes = _quantizers[n].Encode(residual);
            var book = Codebook(n).Data;
            for (int i = 0; i < rows; i++)
            {
                codes[i * L + n] = levelCodes[i];
                var dst = prefix.AsSpan(i * p, p);
                System.Numerics.Tensors.TensorPrimitives.Add(dst, book.AsSpan(levelCodes[i] * p, p), dst);
            }
        }
        return (codes, loss);
    }

    /// <summary>
    /// Latents d = d(1) + .. + d(k) [n, p] and codes [n, L] of item feature rows, without gradients,
    /// in batches (what the catalog is indexed with, and a new item is placed by).
    /// </summary>
    public (float[] Latents, int[] Codes) EncodeItems(IReadOnlyList<int[]> rows, int batchSize = 4096)
    {
        int p = Config.Dim, L = Config.Levels;
        var latents = new float[rows.Count * p];
        var codes = new int[rows.Count * L];
        using var _ = Tensor.NoGrad();
        for (int start = 0; start < rows.Count; start += batchSize)
        {
            int count = Math.Min(batchSize, rows.Count - start);
            var levels = ItemLevels(rows.Skip(start).Take(count).ToArray());
            var sum = levels[0];
            for (int n = 1; n < L; n++) sum = sum + levels[n];
            sum.Data.AsSpan(0, count * p).CopyTo(latents.AsSpan(start * p));
            var c = Quantize(levels).Codes;
            c.CopyTo(codes.AsSpan(start * L));
        }
        return (latents, codes);
    }
}
