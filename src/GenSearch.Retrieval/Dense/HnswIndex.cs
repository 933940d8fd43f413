using GenSearch.Tensors;
using GenSearch.Tensors.Kernels;

namespace GenSearch.Retrieval.Dense;

/// <summary>
/// Approximate search on a Hierarchical Navigable Small World graph (Malkov and Yashunin, 2016/2018),
/// written from the paper. Each vector is a node; node levels are drawn as floor(-ln(U) * mL) with
/// mL = 1 / ln(M), so each layer holds about 1/M of the one below. Inserting (the paper's Algorithm 1)
/// descends greedily from the top entry point to the node's level, then on each lower layer runs a
/// beam search of width efConstruction (Algorithm 2) and links the node to neighbours chosen by the
/// diversity heuristic (Algorithm 4, without the optional candidate extension or pruned-link refill):
/// a candidate is kept only if it is closer to the new node than to every neighbour already kept.
/// A neighbour whose list overflows (M above layer 0, 2M on it) is pruned by the same heuristic.
/// Searching (Algorithm 5) descends greedily to layer 1 and beam-searches layer 0 with
/// max(efSearch, k).
/// <para>
/// Building is single-threaded and deterministic: the same options (seed included) and the same
/// insertion order give the same graph, and ties between equal scores always go to the lower id.
/// Searches over a batch of queries run on <see cref="KernelThreads.Count"/> threads. Scores are as
/// in <see cref="VectorMetric"/>; results are approximate: a true neighbour can be missed.
/// </para>
/// <para>
/// Removal marks tombstones (as hnswlib's markDelete): a removed node is never returned but stays in
/// the graph, where searches and later insertions still walk through it, so removal costs nothing
/// and the graph keeps its reach. Tombstones cost search time and memory, so
/// <see cref="VectorRetriever"/> rebuilds the index without them (<see cref="Compact"/>, a full build)
/// once more than <see cref="VectorRetriever.CompactionThreshold"/> of the rows (default a quarter)
/// are removed. One writer may add or remove while searches run: each search follows the
/// <see cref="VectorIndexView"/> it started with, never steps onto a node added after it, and
/// returns only nodes of that view; links the writer is rewriting may steer it (as in hnswlib's
/// concurrent inserts), which can change which approximate neighbours it finds, never which nodes it may return.
/// </para>
/// </summary>
public sealed partial class HnswIndex : IVectorIndex
{
    private readonly int _m, _m0;      // link capacity above layer 0 and on layer 0
    private readonly double _levelMult; // mL = 1 / ln(M)
    private readonly Rng _rng;
    private readonly BuildScratch _build = new();
    private float[] _data = [];        // [capacity, Dimension]
    private int[] _levels = [];        // [capacity]
    private int[] _links0 = [];        // [capacity, M0 + 1]: slot 0 holds the count, then neighbour ids
    private int[]?[] _upper = [];      // per node, layers 1..level as [level, M + 1] (count first); null at level 0
    private int _count, _entry = -1, _maxLevel = -1;
    private int _efSearch;
    private volatile VectorIndexView _view;

    [ThreadStatic] private static SearchContext? t_context;

    /// <summary>An empty index of <paramref name="dimension"/>-long vectors; <paramref name="options"/> default to <see cref="HnswOptions"/>'s.</summary>
    public HnswIndex(int dimension, HnswOptions? options = null)
    {
        if (dimension <= 0) throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "dimension must be at least 1");
        options ??= new HnswOptions();
        options.Validate();
        Dimension = dimension;
        Options = options;
        _m = options.M;
        _m0 = 2 * options.M;
        _levelMult = 1 / Math.Log(options.M);
        _rng = new Rng(options.Seed);
        _efSearch = options.EfSearch;
        _view = new VectorIndexView(this, 0, null, 0);
    }

    /// <inheritdoc/>
    public int Dimension { get; }

    /// <inheritdoc/>
    public int Count => _view.Rows;

    /// <inheritdoc/>
    public int RemovedCount => _view.RemovedCount;

    /// <inheritdoc/>
    public VectorIndexView View => _view;

    /// <inheritdoc/>
    public bool IsRemoved(int id) => _view.IsRemoved(CheckId(id));

    /// <inheritdoc/>
    public int Remove(ReadOnlySpan<int> ids)
    {
        var (view, removed) = _view.WithRemoved(ids);
        _view = view;
        return removed;
    }

    /// <summary>A new index with the same options (and efSearch) built from the rows not removed, in order: a full build.</summary>
    public IVectorIndex Compact()
    {
        var view = _view;
        var copy = new HnswIndex(Dimension, Options) { EfSearch = _efSearch };
        for (int start = 0; start < view.Rows;)
        {
            while (start < view.Rows && view.IsRemoved(start)) start++;
            int end = start;
            while (end < view.Rows && !view.IsRemoved(end)) end++;
            if (end > start) copy.Add(_data.AsSpan(start * Dimension, (end - start) * Dimension));
            start = end;
        }
        return copy;
    }

    /// <inheritdoc/>
    public VectorMetric Metric => Options.Metric;

    /// <summary>The options the index was built with (<see cref="EfSearch"/> may since have changed).</summary>
    public HnswOptions Options { get; }

    /// <summary>Layer-0 search breadth used by <see cref="Search(ReadOnlySpan{float}, int)"/> (at least k is used). Settable between searches.</summary>
    public int EfSearch
    {
        get => _efSearch;
        set => _efSearch = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "efSearch must be at least 1");
    }

    /// <summary>The highest layer in the graph (-1 when empty).</summary>
    public int MaxLevel => _maxLevel;

    /// <summary>The node searches start from, on <see cref="MaxLevel"/> (-1 when empty).</summary>
    public int EntryPoint => _entry;

    /// <summary>The top layer node <paramref name="id"/> lives on.</summary>
    public int LevelOf(int id) => _levels[CheckId(id)];

    /// <summary>Node <paramref name="id"/>'s neighbours on <paramref name="layer"/> (empty above its level).</summary>
    public ReadOnlySpan<int> Neighbours(int id, int layer)
    {
        CheckId(id);
        if (layer < 0 || layer > _levels[id]) return [];
        var links = Links(id, layer);
        return links.Slice(1, links[0]);
    }

    /// <summary>Stored vector <paramref name="id"/> (unit length under <see cref="VectorMetric.Cosine"/>).</summary>
    public ReadOnlySpan<float> Vector(int id) => _data.AsSpan(CheckId(id) * Dimension, Dimension);

    /// <summary>Inserts the rows of <paramref name="vectors"/> one by one, in order (single-threaded).</summary>
    public void Add(ReadOnlySpan<float> vectors)
    {
        int rows = VectorMath.CheckRows(vectors, Dimension, nameof(vectors));
        if ((long)(_count + (long)rows) * Dimension > Array.MaxLength)
            throw new ArgumentException($"vectors: {_count} + {rows} rows of dimension {Dimension} do not fit in one array", nameof(vectors));
        Reserve(_count + rows);
        for (int i = 0; i < rows; i++)
        {
            var target = _data.AsSpan(_count * Dimension, Dimension);
            vectors.Slice(i * Dimension, Dimension).CopyTo(target);
            if (Metric == VectorMetric.Cosine) VectorMath.NormalizeRows(target, Dimension);
            Insert(_count, RandomLevel());
        }
        var old = _view;
        _view = new VectorIndexView(this, _count, old.Removed, old.RemovedCount, _entry, _maxLevel); // publishes the rows
    }

    /// <inheritdoc/>
    public VectorHit[][] Search(ReadOnlySpan<float> queries, int k) => Search(queries, k, _view);

    /// <inheritdoc/>
    public VectorHit[][] Search(ReadOnlySpan<float> queries, int k, VectorIndexView view)
    {
        VectorMath.CheckK(k);
        view.CheckOwner(this);
        int n = VectorMath.CheckRows(queries, Dimension, nameof(queries));
        var result = new VectorHit[n][];
        if (view.LiveCount == 0)
        {
            for (int i = 0; i < n; i++) result[i] = [];
            return result;
        }
        float[] q = queries.ToArray();
        if (Metric == VectorMetric.Cosine) VectorMath.NormalizeRows(q, Dimension);
        int ef = Math.Max(_efSearch, k);
        // A few queries per block: one query takes tens to hundreds of microseconds.
        KernelParallel.ForRanges(n, 4, (start, end) =>
        {
            var context = t_context ??= new SearchContext();
            for (int i = start; i < end; i++) result[i] = SearchOne(q.AsSpan(i * Dimension, Dimension), k, ef, context, view);
        });
        return result;
    }

    private VectorHit[] SearchOne(ReadOnlySpan<float> query, int k, int ef, SearchContext context, VectorIndexView view)
    {
        int ep = view.Entry;
        float epScore = Score(query, ep);
        for (int layer = view.MaxLevel; layer >= 1; layer--) Greedy(query, layer, ref ep, ref epScore, view.Rows);
        context.Start(view.Rows);
        context.Enter(ep, epScore, live: !view.IsRemoved(ep));
        SearchLayer(query, 0, ef, context, view.Rows, view.Removed);

        var results = context.Results;
        while (results.Count > k) results.Pop();
        var hits = new VectorHit[results.Count];
        for (int i = hits.Length - 1; i >= 0; i--)
        {
            var (score, id) = results.Pop();
            hits[i] = new VectorHit(id, score);
        }
        return hits;
    }

    /// <summary>Links node <paramref name="node"/> (its vector already stored) into the graph up to <paramref name="level"/>.</summary>
    private void Insert(int node, int level)
    {
        _levels[node] = level;
        _links0[node * (_m0 + 1)] = 0;
        _upper[node] = level > 0 ? new int[level * (_m + 1)] : null;
        _count = node + 1;
        if (_entry < 0)
        {
            _entry = node;
            _maxLevel = level;
            return;
        }

        var query = _data.AsSpan(node * Dimension, Dimension);
        var context = _build.Context;
        int ep = _entry;
        float epScore = Score(query, ep);
        // Above the node's level: one greedy walk per layer to the closest node (ef = 1).
        for (int layer = _maxLevel; layer > level; layer--) Greedy(query, layer, ref ep, ref epScore, _count);

        var nearest = _build.Nearest;
        nearest.Clear();
        nearest.Add((epScore, ep));
        for (int layer = Math.Min(level, _maxLevel); layer >= 0; layer--)
        {
            // The nearest set found on the layer above seeds this layer's search (the paper's ep <- W).
            context.Start(_count);
            foreach (var (s, id) in nearest) context.Enter(id, s, live: true);
            // Removed nodes take part in building like any other: they keep the graph connected.
            SearchLayer(query, layer, Options.EfConstruction, context, _count, null);
            nearest.Clear();
            while (context.Results.Count > 0) nearest.Add(context.Results.Pop());
            nearest.Reverse(); // best first

            var chosen = _build.Chosen;
            SelectNeighbours(nearest, _m, chosen);
            var links = Links(node, layer);
            links[0] = chosen.Count;
            for (int i = 0; i < chosen.Count; i++) links[1 + i] = chosen[i].Id;
            foreach (var (_, neighbour) in chosen) Connect(neighbour, node, layer);
        }
        if (level > _maxLevel)
        {
            _maxLevel = level;
            _entry = node;
        }
    }

    /// <summary>Adds <paramref name="node"/> to <paramref name="target"/>'s list on <paramref name="layer"/>, pruning it by the heuristic when full.</summary>
    private void Connect(int target, int node, int layer)
    {
        var links = Links(target, layer);
        int capacity = layer == 0 ? _m0 : _m;
        int count = links[0];
        if (count < capacity)
        {
            links[1 + count] = node;
            links[0] = count + 1;
            return;
        }
        var targetVector = _data.AsSpan(target * Dimension, Dimension);
        var candidates = _build.Overflow;
        candidates.Clear();
        for (int i = 1; i <= count; i++) candidates.Add((Score(targetVector, links[i]), links[i]));
        candidates.Add((Score(targetVector, node), node));
        candidates.Sort(static (a, b) => a.Score != b.Score ? b.Score.CompareTo(a.Score) : a.Id.CompareTo(b.Id));
        var kept = _build.Kept;
        SelectNeighbours(candidates, capacity, kept);
        links[0] = kept.Count;
        for (int i = 0; i < kept.Count; i++) links[1 + i] = kept[i].Id;
    }

    /// <summary>
    /// The paper's heuristic (Algorithm 4): walks <paramref name="candidates"/> (scored against the base
    /// node, best first) and keeps one only if it scores higher against the base than against every
    /// candidate already kept, so links spread in different directions instead of crowding one cluster.
    /// </summary>
    private void SelectNeighbours(List<(float Score, int Id)> candidates, int max, List<(float Score, int Id)> chosen)
    {
        chosen.Clear();
        foreach (var (score, id) in candidates)
        {
            if (chosen.Count >= max) break;
            var vector = _data.AsSpan(id * Dimension, Dimension);
            bool keep = true;
            foreach (var (_, kept) in chosen)
            {
                if (Score(vector, kept) > score) { keep = false; break; }
            }
            if (keep) chosen.Add((score, id));
        }
    }

    /// <summary>Moves (<paramref name="ep"/>, <paramref name="epScore"/>) to its best neighbour on <paramref name="layer"/> until none is better.</summary>
    private void Greedy(ReadOnlySpan<float> query, int layer, ref int ep, ref float epScore, int rows)
    {
        bool moved = true;
        while (moved)
        {
            moved = false;
            var links = Links(ep, layer);
            int best = ep;
            float bestScore = epScore;
            for (int i = 1; i <= links[0]; i++)
            {
                int candidate = links[i];
                if (candidate >= rows) continue; // added after the search began
                float s = Score(query, candidate);
                if (BestOnTop.Above(s, candidate, bestScore, best)) { best = candidate; bestScore = s; }
            }
            if (best != ep) { ep = best; epScore = bestScore; moved = true; }
        }
    }

    /// <summary>
    /// Beam search on one layer (the paper's Algorithm 2) from the entry points already in
    /// <paramref name="context"/>: leaves the best <paramref name="ef"/> nodes found in its results.
    /// Only nodes below <paramref name="rows"/> are visited; <paramref name="removed"/> ones are walked
    /// through (candidates) but never kept as results (hnswlib's rule for deleted nodes).
    /// </summary>
    private void SearchLayer(ReadOnlySpan<float> query, int layer, int ef, SearchContext context, int rows, ulong[]? removed)
    {
        var candidates = context.Candidates;
        var results = context.Results;
        int[] marks = context.Marks;
        int stamp = context.Stamp;
        while (candidates.Count > 0)
        {
            var (score, node) = candidates.Pop();
            // The best unexplored candidate is worse than the worst result: nothing left can improve them.
            if (results.Count >= ef && score < results.TopScore) break;
            var links = Links(node, layer);
            for (int i = 1; i <= links[0]; i++)
            {
                int next = links[i];
                if (next >= rows || marks[next] == stamp) continue;
                marks[next] = stamp;
                float s = Score(query, next);
                if (results.Count < ef || WorstOnTop.Above(results.TopScore, results.TopId, s, next))
                {
                    candidates.Push(s, next);
                    if (removed is not null && RowBits.Get(removed, next)) continue;
                    results.Push(s, next);
                    if (results.Count > ef) results.Pop();
                }
            }
        }
    }

    private float Score(ReadOnlySpan<float> query, int node) => VectorMath.Score(Metric, query, _data.AsSpan(node * Dimension, Dimension));

    private Span<int> Links(int node, int layer) => layer == 0
        ? _links0.AsSpan(node * (_m0 + 1), _m0 + 1)
        : _upper[node].AsSpan((layer - 1) * (_m + 1), _m + 1);

    /// <summary>floor(-ln(U) * mL) with U uniform in (0, 1], from 53 random bits.</summary>
    private int RandomLevel()
    {
        double u = 1.0 - (_rng.NextUInt64() >> 11) * (1.0 / (1UL << 53));
        return (int)(-Math.Log(u) * _levelMult);
    }

    private void Reserve(int needed)
    {
        if (needed <= _levels.Length) return;
        int capacity = (int)Math.Min(Math.Max(needed, 2L * _levels.Length), Array.MaxLength / Math.Max(Dimension, _m0 + 1));
        Array.Resize(ref _data, capacity * Dimension);
        Array.Resize(ref _levels, capacity);
        Array.Resize(ref _links0, capacity * (_m0 + 1));
        Array.Resize(ref _upper, capacity);
    }

    private int CheckId(int id) => (uint)id < (uint)_count ? id
        : throw new ArgumentOutOfRangeException(nameof(id), id, $"the index holds {_count} vectors");

    /// <summary>Per-thread search state: visit marks stamped per search (no clearing), and the two heaps.</summary>
    private sealed class SearchContext
    {
        public int[] Marks = [];
        public int Stamp;
        public readonly NodeHeap<BestOnTop> Candidates = new();
        public readonly NodeHeap<WorstOnTop> Results = new();

        /// <summary>Begins a search over <paramref name="nodes"/> nodes: nothing visited, both heaps empty.</summary>
        public void Start(int nodes)
        {
            if (Marks.Length < nodes)
            {
                Marks = new int[Math.Max(nodes, 2 * Marks.Length)];
                Stamp = 0;
            }
            if (++Stamp == int.MaxValue)
            {
                Array.Clear(Marks);
                Stamp = 1;
            }
            Candidates.Clear();
            Results.Clear();
        }

        /// <summary>Adds an entry point: visited, a candidate and, when <paramref name="live"/>, a result.</summary>
        public void Enter(int node, float score, bool live)
        {
            Marks[node] = Stamp;
            Candidates.Push(score, node);
            if (live) Results.Push(score, node);
        }
    }

    /// <summary>Buffers reused by every insertion.</summary>
    private sealed class BuildScratch
    {
        public readonly SearchContext Context = new();
        public readonly List<(float Score, int Id)> Nearest = [];
        public readonly List<(float Score, int Id)> Chosen = [];
        public readonly List<(float Score, int Id)> Overflow = [];
        public readonly List<(float Score, int Id)> Kept = [];
    }
}
