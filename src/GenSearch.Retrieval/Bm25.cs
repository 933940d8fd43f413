using System.Text;

namespace GenSearch.Retrieval;

/// <summary>BM25 settings, with the defaults GenSearch uses (tuned on homedepot's train split; see the README).</summary>
public sealed record Bm25Options
{
    /// <summary>
    /// Term-frequency saturation: 0 scores presence only; larger values let repeats count longer.
    /// Default 0.3, tuned on homedepot's train split (NDCG@10 0.401 against 0.388 at Lucene's usual
    /// 1.2): product titles rarely repeat a word, and a repeat there is seldom a sign of relevance.
    /// </summary>
    public float K1 { get; init; } = 0.3f;

    /// <summary>
    /// Length normalisation: 0 ignores document length, 1 normalises fully by length / mean length.
    /// Default 0.85, tuned with <see cref="K1"/> on homedepot's train split (Lucene's default is 0.75).
    /// </summary>
    public float B { get; init; } = 0.85f;

    /// <summary>Stem English words with Porter2. Default on.</summary>
    public bool Stem { get; init; } = true;

    /// <summary>Drop Lucene's English stop words. Default off: in product titles "in" and "with" carry little weight anyway (low idf).</summary>
    public bool RemoveStopWords { get; init; }

    /// <summary>Index the title this many times (a cheap field weight); the body text once. Default 1.</summary>
    public int TitleRepeat { get; init; } = 1;
}

/// <summary>One term's share of a BM25 score, as <see cref="Bm25.Explain"/> reports it.</summary>
public sealed record Bm25TermExplanation(string Term, int QueryCount, int DocFreq, double Idf, int TermFreq, double Score);

/// <summary>Why a document scored what it did: its length, the mean length and each query term's part.</summary>
public sealed record Bm25Explanation(string DocId, double Score, int DocLength, double AverageDocLength, float K1, float B,
    IReadOnlyList<Bm25TermExplanation> Terms)
{
    /// <summary>A readable multi-line explanation, one line per query term.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"{DocId}: score {Score:F4} = sum over terms of qf * idf * tf*(k1+1) / (tf + k1*(1 - b + b*dl/avgdl)); " +
                      $"k1={K1}, b={B}, dl={DocLength}, avgdl={AverageDocLength:F2}");
        foreach (var t in Terms)
            sb.AppendLine($"  {t.Term,-16} qf={t.QueryCount} df={t.DocFreq} idf={t.Idf:F4} tf={t.TermFreq} -> {t.Score:F4}");
        return sb.ToString();
    }
}

/// <summary>
/// BM25 over an inverted index, scored as Lucene's BM25Similarity does:
/// idf = ln(1 + (N - df + 0.5) / (df + 0.5)), and a term adds idf * tf * (k1 + 1) / (tf + norm) with
/// norm = k1 * (1 - b + b * dl / avgdl) precomputed per document. A query term repeated counts once
/// per repeat. Postings are flat arrays (CSR: offsets, document numbers, term frequencies); search
/// accumulates scores term at a time into one array per thread and keeps the top k in a heap. Ties
/// rank the earlier corpus document first. Immutable once built, so searches may run in parallel.
/// </summary>
public sealed class Bm25 : IRetriever
{
    private readonly Bm25Analyzer _analyzer;
    private readonly Dictionary<string, int> _termIds;
    private readonly int[] _offsets;    // term t's postings are [_offsets[t], _offsets[t + 1])
    private readonly int[] _postDocs;
    private readonly ushort[] _postTfs;
    private readonly float[] _idf;
    private readonly float[] _norms;    // k1 * (1 - b + b * dl / avgdl)
    private readonly int[] _docLengths;
    private readonly string[] _docIds;
    private readonly Dictionary<string, int> _docIndex;

    /// <summary>The settings the index was built with.</summary>
    public Bm25Options Options { get; }
    /// <inheritdoc/>
    public string Name => "bm25";
    /// <inheritdoc/>
    public int Count => _docIds.Length;
    /// <summary>True when <paramref name="docId"/> is indexed.</summary>
    public bool Contains(string docId) => _docIndex.ContainsKey(docId);

    /// <summary>The indexed document ids in corpus order.</summary>
    public IReadOnlyList<string> DocIds => _docIds;

    /// <summary>Number of distinct terms.</summary>
    public int TermCount => _idf.Length;
    /// <summary>Mean document length in terms.</summary>
    public double AverageDocLength { get; }

    private Bm25(Bm25Options options, Bm25Analyzer analyzer, Dictionary<string, int> termIds, int[] offsets, int[] postDocs,
        ushort[] postTfs, int[] docLengths, string[] docIds)
    {
        Options = options;
        _analyzer = analyzer;
        _termIds = termIds;
        _offsets = offsets;
        _postDocs = postDocs;
        _postTfs = postTfs;
        _docLengths = docLengths;
        _docIds = docIds;
        _docIndex = new Dictionary<string, int>(docIds.Length, StringComparer.Ordinal);
        for (int i = 0; i < docIds.Length; i++) _docIndex[docIds[i]] = i;

        int n = docIds.Length;
        AverageDocLength = n == 0 ? 0 : docLengths.Average();
        _idf = new float[termIds.Count];
        for (int t = 0; t < _idf.Length; t++)
        {
            int df = offsets[t + 1] - offsets[t];
            _idf[t] = (float)Math.Log(1 + (n - df + 0.5) / (df + 0.5));
        }
        _norms = new float[n];
        double avg = Math.Max(AverageDocLength, 1e-9);
        for (int d = 0; d < n; d++) _norms[d] = (float)(options.K1 * (1 - options.B + options.B * docLengths[d] / avg));
    }

    /// <summary>Indexes the title and text of every document. <paramref name="progress"/> is told the count so far now and then.</summary>
    public static Bm25 Build(IEnumerable<Document> documents, Bm25Options? options = null, Action<int>? progress = null)
    {
        options ??= new Bm25Options();
        if (options.K1 < 0 || options.B < 0 || options.B > 1 || options.TitleRepeat < 0)
            throw new ArgumentException("BM25 needs k1 >= 0, 0 <= b <= 1 and a non-negative title repeat", nameof(options));
        var analyzer = new Bm25Analyzer(options.Stem, options.RemoveStopWords);
        var termIds = new Dictionary<string, int>(StringComparer.Ordinal);
        var docIds = new List<string>();
        var docLengths = new List<int>();
        var docTerms = new List<(int Term, ushort Tf)[]>();
        var terms = new List<string>();
        var tf = new Dictionary<int, int>();
        var df = new List<int>();
        var stems = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var doc in documents)
        {
            terms.Clear();
            for (int r = 0; r < options.TitleRepeat; r++) analyzer.Analyze(doc.Title, terms, stems);
            if (doc.Text.Length > 0) analyzer.Analyze(doc.Text, terms, stems);
            tf.Clear();
            foreach (var term in terms)
            {
                if (!termIds.TryGetValue(term, out int id)) { id = termIds.Count; termIds[term] = id; df.Add(0); }
                tf[id] = tf.GetValueOrDefault(id) + 1;
            }
            var row = new (int, ushort)[tf.Count];
            int j = 0;
            foreach (var (id, count) in tf) { row[j++] = (id, (ushort)Math.Min(count, ushort.MaxValue)); df[id]++; }
            docTerms.Add(row);
            docIds.Add(doc.Id);
            docLengths.Add(terms.Count);
            if (docIds.Count % 10_000 == 0) progress?.Invoke(docIds.Count);
        }
        progress?.Invoke(docIds.Count);

        // Invert: CSR postings in document order.
        var offsets = new int[termIds.Count + 1];
        for (int t = 0; t < df.Count; t++) offsets[t + 1] = offsets[t] + df[t];
        var fill = (int[])offsets.Clone();
        var postDocs = new int[offsets[^1]];
        var postTfs = new ushort[offsets[^1]];
        for (int d = 0; d < docTerms.Count; d++)
            foreach (var (t, f) in docTerms[d]) { int p = fill[t]++; postDocs[p] = d; postTfs[p] = f; }
        return new Bm25(options, analyzer, termIds, offsets, postDocs, postTfs, docLengths.ToArray(), docIds.ToArray());
    }

    /// <inheritdoc/>
    public IReadOnlyList<SearchHit>[] Search(IReadOnlyList<Query> queries, int k)
    {
        if (k <= 0) throw new ArgumentOutOfRangeException(nameof(k), k, "k must be positive");
        var results = new IReadOnlyList<SearchHit>[queries.Count];
        // Each worker thread keeps its scratch between batches (thread-static), so a batch costs no score arrays.
        Parallel.For(0, queries.Count, i => results[i] = Search(queries[i].Text, k));
        return results;
    }

    /// <summary>Searches one query text on the calling thread.</summary>
    public IReadOnlyList<SearchHit> Search(string text, int k)
    {
        if (k <= 0) throw new ArgumentOutOfRangeException(nameof(k), k, "k must be positive");
        // One scratch per thread and index: a fresh score array per query would cost more than the search.
        var scratch = _threadScratch ??= new Scratch(Count) { Owner = this };
        return SearchOne(text, k, scratch);
    }

    [ThreadStatic] private static Scratch? _threadScratchStatic;
    private Scratch? _threadScratch
    {
        get => _threadScratchStatic is { } s && s.Owner == this ? s : null;
        set => _threadScratchStatic = value;
    }

    /// <summary>Scratch space of one thread: a score per document and the list of documents touched.</summary>
    private sealed class Scratch(int docs)
    {
        public object? Owner;
        public readonly float[] Scores = new float[docs];
        public readonly List<int> Touched = new();
        public readonly List<string> Terms = new();
    }

    private SearchHit[] SearchOne(string text, int k, Scratch s)
    {
        var queryTerms = QueryTerms(text, s.Terms);
        foreach (var (t, qf) in queryTerms)
        {
            float idf = _idf[t] * qf, k1p1 = Options.K1 + 1;
            for (int p = _offsets[t]; p < _offsets[t + 1]; p++)
            {
                int d = _postDocs[p];
                float f = _postTfs[p];
                if (s.Scores[d] == 0) s.Touched.Add(d);
                s.Scores[d] += idf * f * k1p1 / (f + _norms[d]);
            }
        }

        // Top k by a min-heap on (score, -doc): the root is the weakest kept hit.
        var heap = new PriorityQueue<int, (float Score, int NegDoc)>(Math.Min(k, s.Touched.Count) + 1);
        foreach (int d in s.Touched)
        {
            float score = s.Scores[d];
            s.Scores[d] = 0;
            if (score <= 0) continue;
            if (heap.Count < k) heap.Enqueue(d, (score, -d));
            else if (heap.TryPeek(out _, out var weakest) && (score > weakest.Score || (score == weakest.Score && -d > weakest.NegDoc)))
                heap.EnqueueDequeue(d, (score, -d));
        }
        s.Touched.Clear();
        var hits = new SearchHit[heap.Count];
        for (int i = hits.Length - 1; i >= 0; i--)
        {
            heap.TryDequeue(out int d, out var key);
            hits[i] = new SearchHit(_docIds[d], key.Score);
        }
        return hits;
    }

    /// <summary>The known terms of a query with their counts, in first-seen order.</summary>
    private List<(int Term, int Count)> QueryTerms(string text, List<string> buffer)
    {
        buffer.Clear();
        _analyzer.Analyze(text, buffer);
        var result = new List<(int, int)>();
        foreach (var term in buffer)
        {
            if (!_termIds.TryGetValue(term, out int id)) continue;
            int at = result.FindIndex(x => x.Item1 == id);
            if (at >= 0) result[at] = (id, result[at].Item2 + 1);
            else result.Add((id, 1));
            if (result.Count > 4096) break; // a pathological query: enough terms to rank by
        }
        return result;
    }

    /// <summary>How <paramref name="docId"/> scores for <paramref name="text"/>; null when the id is not indexed.</summary>
    public Bm25Explanation? Explain(string text, string docId)
    {
        if (!_docIndex.TryGetValue(docId, out int d)) return null;
        var parts = new List<Bm25TermExplanation>();
        var analyzed = _analyzer.Analyze(text);
        foreach (var term in analyzed.Distinct(StringComparer.Ordinal))
        {
            int qf = analyzed.Count(x => x == term);
            if (!_termIds.TryGetValue(term, out int t)) { parts.Add(new Bm25TermExplanation(term, qf, 0, 0, 0, 0)); continue; }
            int lo = _offsets[t], hi = _offsets[t + 1];
            int p = Array.BinarySearch(_postDocs, lo, hi - lo, d);
            int tf = p >= 0 ? _postTfs[p] : 0;
            double score = tf == 0 ? 0 : qf * _idf[t] * tf * (Options.K1 + 1) / (tf + _norms[d]);
            parts.Add(new Bm25TermExplanation(term, qf, hi - lo, _idf[t], tf, score));
        }
        return new Bm25Explanation(docId, parts.Sum(x => x.Score), _docLengths[d], AverageDocLength, Options.K1, Options.B, parts);
    }

    /// <summary>The slow, obvious score of one document for a query: the definition, for tests of the fast path.</summary>
    internal double ReferenceScore(string text, int doc)
    {
        double score = 0;
        foreach (var (t, qf) in QueryTerms(text, new List<string>()))
            for (int p = _offsets[t]; p < _offsets[t + 1]; p++)
                if (_postDocs[p] == doc)
                {
                    int n = Count, df = _offsets[t + 1] - _offsets[t];
                    double idf = Math.Log(1 + (n - df + 0.5) / (df + 0.5));
                    double norm = Options.K1 * (1 - Options.B + Options.B * _docLengths[doc] / AverageDocLength);
                    score += qf * idf * _postTfs[p] * (Options.K1 + 1) / (_postTfs[p] + norm);
                }
        return score;
    }
}
