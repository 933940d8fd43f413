using GenSearch.Retrieval.Generative;

namespace GenSearch.Retrieval.Tests.Generative;

/// <summary>
/// A hand-made decoder: the log-probability of token t after prefix p is a fixed function of (p, t),
/// normalised over the vocabulary. It tracks each row's prefix itself, so wrong row bookkeeping in
/// the search (SelectRows) shows up as wrong scores.
/// </summary>
internal sealed class TableScorer(int vocabulary, int queries, int seed) : IStepScorer
{
    private List<(int Query, List<int> Prefix)> _rows = Enumerable.Range(0, queries).Select(q => (q, new List<int>())).ToList();
    private bool _started;

    public int Vocabulary => vocabulary;

    public ReadOnlySpan<float> NextLogProbabilities(int[] lastTokens)
    {
        if (_started) for (int r = 0; r < _rows.Count; r++) _rows[r].Prefix.Add(lastTokens[r]);
        _started = true;
        var result = new float[_rows.Count * vocabulary];
        for (int r = 0; r < _rows.Count; r++)
            LogProbs(_rows[r].Query, _rows[r].Prefix).CopyTo(result, r * vocabulary);
        return result;
    }

    public void Feed(int[] lastTokens)
    {
        Fed++;
        if (_started) for (int r = 0; r < _rows.Count; r++) _rows[r].Prefix.Add(lastTokens[r]);
        _started = true;
    }

    /// <summary>Steps taken with <see cref="Feed"/>, without scores.</summary>
    public int Fed { get; private set; }

    public void SelectRows(int[] rows) => _rows = rows.Select(r => (_rows[r].Query, new List<int>(_rows[r].Prefix))).ToList();

    public float[] LogProbs(int query, IReadOnlyList<int> prefix)
    {
        var logits = new double[vocabulary];
        for (int t = 0; t < vocabulary; t++)
        {
            int h = HashCode.Combine(seed, query, t, prefix.Count);
            foreach (int p in prefix) h = HashCode.Combine(h, p);
            logits[t] = (h & 0xFFFF) / 8000.0;
        }
        double max = logits.Max(), sum = logits.Sum(l => Math.Exp(l - max));
        return logits.Select(l => (float)(l - max - Math.Log(sum))).ToArray();
    }

    /// <summary>The summed log-probability of <paramref name="id"/>; with a trie, positions it forces count 0.</summary>
    public float Score(int query, int[] id, SidTrie? forcing = null)
    {
        float s = 0;
        for (int i = 0; i < id.Length; i++)
            if (forcing is null || forcing.Allowed(forcing.Find(id[..i])).Length > 1) s += LogProbs(query, id[..i])[id[i]];
        return s;
    }
}

public class BeamSearchTests
{
    private static List<int[]> RandomIds(int count, int vocabulary, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => new[] { rng.Next(vocabulary), rng.Next(vocabulary), rng.Next(vocabulary) })
            .DistinctBy(x => (x[0], x[1], x[2])).ToList();
    }

    [Fact]
    public void WideBeamRanksEveryIdExactlyAsExhaustiveSearch()
    {
        var ids = RandomIds(40, 6, 1);
        var trie = SidTrie.Build(ids);
        foreach (bool freeForced in new[] { false, true })
        {
            var scorer = new TableScorer(6, 2, 7);
            var options = new BeamSearchOptions { BeamSize = ids.Count, MaxLength = 3, FreeForcedTokens = freeForced };
            var results = ConstrainedBeamSearch.Search(scorer, 2, trie, options);
            var forcing = freeForced ? trie : null;
            for (int q = 0; q < 2; q++)
            {
                var expected = ids.OrderByDescending(id => scorer.Score(q, id, forcing)).ToList();
                Assert.Equal(ids.Count, results[q].Count);
                for (int i = 0; i < expected.Count; i++)
                {
                    Assert.Equal(scorer.Score(q, results[q][i].Tokens, forcing), results[q][i].Score, 4);
                    Assert.Equal(scorer.Score(q, expected[i], forcing), results[q][i].Score, 4);
                }
            }
        }
    }

    [Fact]
    public void ForcedStepsAreFedWithoutScoringAndRankAsTheTrieConditionalScore()
    {
        // IDs of 4 levels whose last level has one code (a collision level nobody collides on) and
        // whose third level is forced under some prefixes: the last step never calls for scores, a
        // step with some forced rows does, and the ranking is the exhaustive one over the score in
        // which forced positions count 0.
        var rng = new Random(5);
        var ids = Enumerable.Range(0, 60).Select(_ => new[] { rng.Next(4), rng.Next(5), rng.Next(3), 0 })
            .DistinctBy(x => (x[0], x[1], x[2])).ToList();
        var trie = SidTrie.Build(ids);
        var scorer = new TableScorer(5, 3, 11);
        var results = ConstrainedBeamSearch.Search(scorer, 3, trie, new BeamSearchOptions { BeamSize = ids.Count, MaxLength = 4, FreeForcedTokens = true });
        Assert.Equal(1, scorer.Fed);
        for (int q = 0; q < 3; q++)
        {
            var expected = ids.Select(id => scorer.Score(q, id, trie)).OrderByDescending(s => s).ToList();
            Assert.Equal(expected.Count, results[q].Count);
            for (int i = 0; i < expected.Count; i++)
            {
                Assert.Equal(expected[i], results[q][i].Score, 4);
                Assert.Equal(scorer.Score(q, results[q][i].Tokens, trie), results[q][i].Score, 4);
            }
        }
        // By default every position is scored and nothing is fed.
        var exact = new TableScorer(5, 3, 11);
        var exactResults = ConstrainedBeamSearch.Search(exact, 3, trie, new BeamSearchOptions { BeamSize = ids.Count, MaxLength = 4 });
        Assert.Equal(0, exact.Fed);
        Assert.Equal(exact.Score(0, exactResults[0][0].Tokens), exactResults[0][0].Score, 4);
    }

    [Fact]
    public void BeamFindsTheBestSequenceWhereGreedyIsTrapped()
    {
        // Token 0 first is likely (0.6) but every continuation is poor (0.1 each over 10 children);
        // token 1 first is less likely (0.4) but continues with certainty: best = [1, 0] (log 0.4).
        var ids = Enumerable.Range(0, 10).Select(t => new[] { 0, t }).Append([1, 0]).ToList();
        var trie = SidTrie.Build(ids);
        var scorer = new FixedScorer();
        var greedy = ConstrainedBeamSearch.Search(new FixedScorer(), 1, trie, new BeamSearchOptions { BeamSize = 1, MaxLength = 2 });
        var beam = ConstrainedBeamSearch.Search(scorer, 1, trie, new BeamSearchOptions { BeamSize = 2, MaxLength = 2 });
        Assert.Equal(0, greedy[0][0].Tokens[0]);
        Assert.Equal([1, 0], beam[0][0].Tokens);
        Assert.Equal(MathF.Log(0.4f), beam[0][0].Score, 4);
    }

    /// <summary>P(first = 0) = 0.6, P(first = 1) = 0.4; after 0 uniform over 10 tokens, after 1 token 0 is certain.</summary>
    private sealed class FixedScorer : IStepScorer
    {
        private int _step;
        public int Vocabulary => 10;
        public ReadOnlySpan<float> NextLogProbabilities(int[] lastTokens)
        {
            var result = new float[lastTokens.Length * 10];
            for (int r = 0; r < lastTokens.Length; r++)
            {
                var row = result.AsSpan(r * 10, 10);
                row.Fill(float.NegativeInfinity);
                if (_step == 0) { row[0] = MathF.Log(0.6f); row[1] = MathF.Log(0.4f); }
                else if (lastTokens[r] == 0) row.Fill(MathF.Log(0.1f)); // at step 1 the last token is the first token
                else row[0] = 0f;
            }
            _step++;
            return result;
        }
        public void Feed(int[] lastTokens) => _step++;
        public void SelectRows(int[] rows) { }
    }

    [Fact]
    public void OnlyValidIdsComeOut()
    {
        var ids = RandomIds(300, 16, 2);
        var valid = ids.Select(x => string.Join(",", x)).ToHashSet();
        var trie = SidTrie.Build(ids);
        var results = ConstrainedBeamSearch.Search(new TableScorer(16, 5, 3), 5, trie, new BeamSearchOptions { BeamSize = 20, MaxLength = 5 });
        foreach (var perQuery in results)
        {
            Assert.Equal(20, perQuery.Count);
            Assert.All(perQuery, h => Assert.Contains(string.Join(",", h.Tokens), valid));
            Assert.Equal(perQuery.Count, perQuery.Select(h => string.Join(",", h.Tokens)).Distinct().Count());
            for (int i = 1; i < perQuery.Count; i++) Assert.True(perQuery[i - 1].Score >= perQuery[i].Score);
        }
    }

    [Fact]
    public void ItemsSharingALeafAreOrderedByTheTieBreak()
    {
        int[][] ids = [[1, 2], [1, 2], [1, 2], [0, 5]];
        var trie = SidTrie.Build(ids);
        var hypotheses = new[] { new Hypothesis([1, 2], -0.1f, trie.Find([1, 2])), new Hypothesis([0, 5], -0.5f, trie.Find([0, 5])) };
        var items = ConstrainedBeamSearch.ToItems(hypotheses, trie, 3, item => item == 2 ? 1f : 0f);
        Assert.Equal([2, 0, 1], items.Select(x => x.Item).ToArray());
        Assert.All(items, x => Assert.Equal(-0.1f, x.Score));
    }
}
