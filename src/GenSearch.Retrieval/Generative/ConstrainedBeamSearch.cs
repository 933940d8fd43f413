namespace GenSearch.Retrieval.Generative;

/// <summary>
/// A decoder seen from beam search: log-probabilities of the next token for each live row, and
/// reordering of rows when beams are pruned or duplicated (the rows' KV caches move with them).
/// </summary>
public interface IStepScorer
{
    /// <summary>Size of the token vocabulary.</summary>
    int Vocabulary { get; }

    /// <summary>
    /// Log-probabilities [rows, Vocabulary] of the next token, row r having just emitted
    /// <paramref name="lastTokens"/>[r] (the start token at the first step). The span may be the
    /// scorer's own buffer: it is read before the next call.
    /// </summary>
    ReadOnlySpan<float> NextLogProbabilities(int[] lastTokens);

    /// <summary>
    /// Row r emits <paramref name="lastTokens"/>[r] and its next token needs no score (the constraint
    /// forces it). A scorer may defer the work until scores are next asked for, and skip it if they never are.
    /// </summary>
    void Feed(int[] lastTokens);

    /// <summary>From now on, row i is what row <paramref name="rows"/>[i] was (rows may repeat or vanish).</summary>
    void SelectRows(int[] rows);
}

/// <summary>Options of <see cref="ConstrainedBeamSearch"/>.</summary>
public sealed record BeamSearchOptions
{
    /// <summary>Hypotheses kept per query at every step, and the most returned.</summary>
    public int BeamSize { get; init; } = 10;
    /// <summary>Longest sequence generated.</summary>
    public int MaxLength { get; init; } = 8;
    /// <summary>The token fed at the first step.</summary>
    public int StartToken { get; init; }

    /// <summary>
    /// Whether a forced token (the only one the constraint allows after its prefix) is free. Off (the
    /// default), every token adds the model's log-probability, so a hypothesis scores the model's
    /// log-probability of its whole sequence and every step calls the scorer. On, a forced token
    /// adds 0: a hypothesis scores the model's log-probabilities summed over the positions where the
    /// constraint left a choice (still a function of the sequence alone), and a step where every live
    /// row is forced (a collision level only one item fills, the tail of a unique prefix) is taken
    /// without calling the scorer, which saves a decoder pass per such step. It changes the
    /// ranking, not only the speed: sequences with forced positions gain against those without.
    /// </summary>
    public bool FreeForcedTokens { get; init; }
}

/// <summary>
/// A complete sequence found by beam search: its tokens, summed log-probability (see
/// <see cref="BeamSearchOptions.FreeForcedTokens"/> for forced tokens) and constraint state.
/// </summary>
public sealed record Hypothesis(int[] Tokens, float Score, int State);

/// <summary>
/// Beam search in which only continuations allowed by an <see cref="IPrefixConstraint"/> are scored,
/// as in GENRE: every result is a valid sequence (a real item's semantic ID). Queries are decoded
/// together: the scorer sees one batch of rows, every query's beams side by side.
/// </summary>
public static class ConstrainedBeamSearch
{
    /// <summary>
    /// Decodes <paramref name="queries"/> queries whose scorer holds one row each (row q = query q).
    /// Returns, per query, up to BeamSize complete hypotheses, best first. A query stops early once it
    /// has BeamSize complete hypotheses and no live beam can beat the worst of them (log-probabilities
    /// only fall as a sequence grows).
    /// </summary>
    public static List<Hypothesis>[] Search(IStepScorer scorer, int queries, IPrefixConstraint constraint, BeamSearchOptions options)
    {
        int beamSize = options.BeamSize, vocabulary = scorer.Vocabulary;
        if (beamSize <= 0) throw new ArgumentException("beam size must be positive");
        var finished = Enumerable.Range(0, queries).Select(_ => new List<Hypothesis>()).ToArray();
        // Live beams of all queries, in row order.
        var live = Enumerable.Range(0, queries).Select(q => new Beam(q, [], 0f, constraint.Root)).ToList();
        var lastTokens = Enumerable.Repeat(options.StartToken, queries).ToArray();
        var heap = new CandidateHeap(beamSize);
        var allowed = new int[Math.Max(1, constraint.MaxAllowed)];

        bool forcedFree = options.FreeForcedTokens;
        for (int step = 0; step < options.MaxLength && live.Count > 0; step++)
        {
            ReadOnlySpan<float> logProbs = default;
            if (forcedFree && live.TrueForAll(b => constraint.Allowed(b.State, allowed) == 1))
            {
                scorer.Feed(lastTokens); // nothing to score: every row has one way on
            }
            else
            {
                logProbs = scorer.NextLogProbabilities(lastTokens);
                if (logProbs.Length != live.Count * vocabulary)
                    throw new InvalidOperationException($"scorer returned {logProbs.Length} log-probabilities for {live.Count} rows of {vocabulary}");
            }
            var nextLive = new List<Beam>(live.Count);
            var parentRows = new List<int>(live.Count);
            int row = 0;
            while (row < live.Count)
            {
                int query = live[row].Query, first = row;
                while (row < live.Count && live[row].Query == query) row++;
                // The best beamSize continuations over this query's beams.
                heap.Clear();
                for (int r = first; r < row; r++)
                {
                    var beam = live[r];
                    int count = constraint.Allowed(beam.State, allowed);
                    if (forcedFree && count == 1)
                    {
                        heap.Offer(beam.Score, r, allowed[0]);
                        continue;
                    }
                    var scores = logProbs.Slice(r * vocabulary, vocabulary);
                    for (int i = 0; i < count; i++)
                        heap.Offer(beam.Score + scores[allowed[i]], r, allowed[i]);
                }
                foreach (var (score, parent, token) in heap.Drain())
                {
                    var beam = live[parent];
                    int state = constraint.Advance(beam.State, token);
                    int[] tokens = [.. beam.Tokens, token];
                    if (constraint.IsComplete(state)) Insert(finished[query], new Hypothesis(tokens, score, state), beamSize);
                    if (constraint.Allowed(state, allowed) == 0) continue;
                    var list = finished[query];
                    if (list.Count >= beamSize && score <= list[^1].Score) continue; // cannot enter the top any more
                    nextLive.Add(new Beam(query, tokens, score, state));
                    parentRows.Add(parent);
                }
            }
            if (nextLive.Count == 0) break;
            scorer.SelectRows([.. parentRows]);
            live = nextLive;
            lastTokens = live.Select(b => b.Tokens[^1]).ToArray();
        }
        return finished;
    }

    /// <summary>Keeps <paramref name="list"/> sorted by score, best first, at most <paramref name="capacity"/> long; earlier entries win ties.</summary>
    private static void Insert(List<Hypothesis> list, Hypothesis h, int capacity)
    {
        int at = list.Count;
        while (at > 0 && list[at - 1].Score < h.Score) at--;
        if (at >= capacity) return;
        list.Insert(at, h);
        if (list.Count > capacity) list.RemoveAt(list.Count - 1);
    }

    private readonly record struct Beam(int Query, int[] Tokens, float Score, int State);

    /// <summary>A bounded min-heap keeping the best <c>capacity</c> (score, row, token) offers; the first offer wins a tie.</summary>
    private sealed class CandidateHeap(int capacity)
    {
        private readonly (float Score, int Row, int Token, long Order)[] _items = new (float, int, int, long)[capacity];
        private int _count;
        private long _order;

        public void Clear() { _count = 0; _order = 0; }

        // Lower priority = worse: lower score, or equal score offered later.
        private static bool Worse((float Score, int Row, int Token, long Order) a, (float Score, int Row, int Token, long Order) b)
            => a.Score < b.Score || (a.Score == b.Score && a.Order > b.Order);

        public void Offer(float score, int row, int token)
        {
            var item = (score, row, token, _order++);
            if (_count < _items.Length)
            {
                int i = _count++;
                _items[i] = item;
                while (i > 0 && Worse(_items[i], _items[(i - 1) / 2])) { (_items[i], _items[(i - 1) / 2]) = (_items[(i - 1) / 2], _items[i]); i = (i - 1) / 2; }
                return;
            }
            if (!Worse(_items[0], item)) return;
            _items[0] = item;
            int j = 0;
            while (true)
            {
                int l = 2 * j + 1, r = l + 1, m = j;
                if (l < _count && Worse(_items[l], _items[m])) m = l;
                if (r < _count && Worse(_items[r], _items[m])) m = r;
                if (m == j) break;
                (_items[j], _items[m]) = (_items[m], _items[j]);
                j = m;
            }
        }

        /// <summary>The kept offers, best first.</summary>
        public IEnumerable<(float Score, int Row, int Token)> Drain()
        {
            var sorted = _items.AsSpan(0, _count).ToArray();
            Array.Sort(sorted, (a, b) => Worse(a, b) ? 1 : Worse(b, a) ? -1 : 0);
            _count = 0;
            return sorted.Select(s => (s.Score, s.Row, s.Token));
        }
    }

    /// <summary>
    /// Turns hypotheses into at most <paramref name="k"/> items: hypotheses in score order, and the
    /// items sharing a hypothesis's leaf ordered by <paramref name="tieBreak"/> (higher first; the
    /// generator passes sim(q, d)), then by item index. Each item carries its hypothesis's score.
    /// </summary>
    public static List<(int Item, float Score)> ToItems(IEnumerable<Hypothesis> hypotheses, ISidIndex trie, int k, Func<int, float>? tieBreak = null)
    {
        var result = new List<(int, float)>(k);
        foreach (var h in hypotheses)
        {
            var items = trie.ItemsAt(h.State);
            if (tieBreak is not null && items.Length > 1)
            {
                var keys = items.Select(i => -tieBreak(i)).ToArray();
                Array.Sort(keys, items);
                // Array.Sort is not stable: restore item order among equal keys.
                for (int s = 0; s < items.Length;)
                {
                    int e = s;
                    while (e < items.Length && keys[e] == keys[s]) e++;
                    Array.Sort(items, s, e - s);
                    s = e;
                }
            }
            foreach (int item in items)
            {
                if (result.Count == k) return result;
                result.Add((item, h.Score));
            }
        }
        return result;
    }
}
