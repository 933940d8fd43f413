using System.Text;

namespace GenSearch.Retrieval;

/// <summary>
/// BM25 settings. The defaults of k1 and b are Lucene's, the general choice for a corpus nobody has tuned
/// them on; the CLI picks per data set (dataset.json, the built-in table, or tuned on the train split:
/// see the README's "BM25 parameters per data set"). Homedepot's, tuned on its train split, are 0.3 and 0.85.
/// </summary>
public sealed record Bm25Options
{
    /// <summary>
    /// Term-frequency saturation: 0 scores presence only; larger values let repeats count longer.
    /// Default 1.2 (Lucene's). On homedepot's product titles 0.3 wins (train NDCG@10 0.401 against 0.388
    /// at 1.2): titles rarely repeat a word, and a repeat there is seldom a sign of relevance.
    /// </summary>
    public float K1 { get; init; } = 1.2f;

    /// <summary>
    /// Length normalisation: 0 ignores document length, 1 normalises fully by length / mean length.
    /// Default 0.75 (Lucene's); homedepot's is 0.85, tuned with <see cref="K1"/> on its train split.
    /// </summary>
    public float B { get; init; } = 0.75f;

    /// <summary>Stem English words with Porter2. Default on.</summary>
    public bool Stem { get; init; } = true;

    /// <summary>Drop Lucene's English stop words. Default off: in product titles "in" and "with" carry little weight anyway (low idf).</summary>
    public bool RemoveStopWords { get; init; }

    /// <summary>Index the title this many times (a cheap field weight); the body text once. Default 1.</summary>
    public int TitleRepeat { get; init; } = 1;

    /// <summary>
    /// Most documents the delta segment of a live index holds before it is merged into the base
    /// segment (see <see cref="Bm25.Upsert"/>). 0, the default, picks max(256, 4 * sqrt(documents)):
    /// every change rebuilds the delta (cost grows with its size) and a merge rewrites every posting
    /// (cost grows with the catalog), and a delta near sqrt(catalog) balances the two.
    /// </summary>
    public int DeltaLimit { get; init; }
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
/// norm = k1 * (1 - b + b * dl / avgdl). A query term repeated counts once per repeat. Postings are
/// flat arrays (CSR: offsets, document numbers, term frequencies); search accumulates scores term at
/// a time into one array per thread and keeps the top k in a heap.
/// <para>
/// A live catalog, as Lucene's segments: the index is a large base segment, a small delta segment
/// holding the documents added or replaced since the last merge, and a set of deleted base documents
/// (tombstones). N, df and the mean length are those of the live documents (base minus tombstones,
/// plus delta), so scores equal those of an index built from scratch on the same documents. An
/// <see cref="Upsert"/> or <see cref="Remove"/> builds a new snapshot: it rebuilds only the delta
/// (and copies the tombstone bits and per-term deleted counts), and when the delta outgrows
/// <see cref="Bm25Options.DeltaLimit"/> or a quarter of the base is deleted, merges both into a new base in one
/// pass over the postings (no text is analysed again). Snapshots are immutable and swapped through
/// one volatile reference: a search reads it once, so it sees one whole catalog, and never waits.
/// </para>
/// <para>
/// Ties rank the earlier document first: base documents in corpus order, then the delta's in the
/// order they were added. Each document also keeps its terms (a forward index, about as large as its
/// postings) so that deleting it can lower the document frequencies without the text.
/// </para>
/// </summary>
public sealed class Bm25 : IUpdatableRetriever
{
    private readonly Bm25Analyzer _analyzer;
    private readonly object _writeLock = new();
    private volatile Catalog _catalog;

    /// <summary>The settings the index was built with.</summary>
    public Bm25Options Options { get; }
    /// <inheritdoc/>
    public string Name => "bm25";
    /// <inheritdoc/>
    public int Count => _catalog.Live;
    /// <summary>True when <paramref name="docId"/> is indexed.</summary>
    public bool Contains(string docId) => _catalog.Find(docId) >= 0;

    /// <summary>The indexed document ids in ranking-tie order (base segment, then delta).</summary>
    public IReadOnlyList<string> DocIds => _catalog.LiveIds;

    /// <summary>Number of distinct terms in the live documents.</summary>
    public int TermCount => _catalog.TermCount();
    /// <summary>Mean document length in terms.</summary>
    public double AverageDocLength => _catalog.AverageLength;

    /// <summary>Documents in the delta segment (not yet merged into the base).</summary>
    public int DeltaCount => _catalog.Delta.Count;
    /// <summary>Deleted base documents still in the base segment's postings.</summary>
    public int DeletedCount => _catalog.BaseDeletedCount;

    private Bm25(Bm25Options options, Bm25Analyzer analyzer, Segment segment)
        : this(options, analyzer, new Catalog(segment, null, 0, null, 0, [], Segment.FromDocs([]))) { }

    private Bm25(Bm25Options options, Bm25Analyzer analyzer, Catalog catalog)
    {
        Options = options;
        _analyzer = analyzer;
        _catalog = catalog;
    }

    /// <summary>
    /// The same documents scored with other <paramref name="k1"/> and <paramref name="b"/>, sharing this
    /// index's postings (norms are computed at search time, so nothing is rebuilt): what tuning k1 and b
    /// on a train split costs one search per setting. The two indexes change independently afterwards.
    /// </summary>
    public Bm25 WithScoring(float k1, float b)
    {
        if (!(k1 >= 0) || !(b >= 0 && b <= 1)) throw new ArgumentException($"BM25 needs k1 >= 0 and 0 <= b <= 1, got k1 {k1}, b {b}");
        return new Bm25(Options with { K1 = k1, B = b }, _analyzer, _catalog);
    }

    /// <summary>Indexes the title and text of every document. <paramref name="progress"/> is told the count so far now and then.</summary>
    public static Bm25 Build(IEnumerable<Document> documents, Bm25Options? options = null, Action<int>? progress = null)
    {
        options ??= new Bm25Options();
        if (options.K1 < 0 || options.B < 0 || options.B > 1 || options.TitleRepeat < 0 || options.DeltaLimit < 0)
            throw new ArgumentException("BM25 needs k1 >= 0, 0 <= b <= 1 and a non-negative title repeat and delta limit", nameof(options));
        var analyzer = new Bm25Analyzer(options.Stem, options.RemoveStopWords);
        // One pass straight into term ids and the forward index (no per-document objects): a term
        // occurrence costs one string lookup, as before the index became live (twice that doubled the build).
        var termIds = new Dictionary<string, int>(StringComparer.Ordinal);
        var termList = new List<string>();
        var df = new List<int>();
        var docIds = new List<string>();
        var docLengths = new List<int>();
        var docTermStart = new List<int> { 0 };
        var docTerms = new List<int>();
        var docTfs = new List<ushort>();
        var terms = new List<string>();
        var stems = new Dictionary<string, string?>(StringComparer.Ordinal);
        var tf = new Dictionary<int, int>();
        foreach (var doc in documents)
        {
            terms.Clear();
            for (int r = 0; r < options.TitleRepeat; r++) analyzer.Analyze(doc.Title, terms, stems);
            if (doc.Text.Length > 0) analyzer.Analyze(doc.Text, terms, stems);
            tf.Clear();
            foreach (var term in terms)
            {
                if (!termIds.TryGetValue(term, out int id)) { id = termList.Count; termIds[term] = id; termList.Add(term); df.Add(0); }
                tf[id] = tf.GetValueOrDefault(id) + 1;
            }
            foreach (var (id, count) in tf) { docTerms.Add(id); docTfs.Add((ushort)Math.Min(count, ushort.MaxValue)); df[id]++; }
            docTermStart.Add(docTerms.Count);
            docIds.Add(doc.Id);
            docLengths.Add(terms.Count);
            if (docIds.Count % 10_000 == 0) progress?.Invoke(docIds.Count);
        }
        progress?.Invoke(docIds.Count);
        return new Bm25(options, analyzer, Segment.Invert(termIds, [.. termList], df, [.. docTermStart], [.. docTerms], [.. docTfs], [.. docLengths], [.. docIds]));
    }

    /// <summary>A document's terms with their counts (first-seen order) and its length.</summary>
    /// <remarks><paramref name="tf"/> is scratch, cleared here: one dictionary per document was a third of the build time.</remarks>
    private static IndexedDoc Analyze(Bm25Analyzer analyzer, Bm25Options options, Document doc, List<string> terms, Dictionary<string, string?> stems,
        Dictionary<string, int> tf)
    {
        terms.Clear();
        for (int r = 0; r < options.TitleRepeat; r++) analyzer.Analyze(doc.Title, terms, stems);
        if (doc.Text.Length > 0) analyzer.Analyze(doc.Text, terms, stems);
        tf.Clear();
        foreach (var term in terms) tf[term] = tf.GetValueOrDefault(term) + 1;
        var row = new (string, ushort)[tf.Count];
        int j = 0;
        foreach (var (term, count) in tf) row[j++] = (term, (ushort)Math.Min(count, ushort.MaxValue));
        return new IndexedDoc(doc.Id, terms.Count, row);
    }

    /// <summary>
    /// Adds or replaces documents (see <see cref="IUpdatableRetriever"/> for what searches see). A
    /// replaced base document is tombstoned and its new version goes to the delta; the delta is
    /// rebuilt (cost proportional to its size, not the catalog's) and merged when it is full.
    /// </summary>
    public CatalogChange Upsert(IReadOnlyList<Document> items)
    {
        var batch = CatalogBatch.LastPerId(items, Name);
        var stems = new Dictionary<string, string?>(StringComparer.Ordinal);
        var terms = new List<string>();
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        var analyzed = batch.Select(d => Analyze(_analyzer, Options, d, terms, stems, counts)).ToList(); // outside the lock
        lock (_writeLock)
        {
            var c = _catalog;
            var edit = new CatalogEdit(c);
            int added = 0, replaced = 0;
            foreach (var doc in analyzed)
            {
                if (edit.Delete(doc.Id)) replaced++; else added++;
                edit.Delta.Add(doc);
            }
            _catalog = MaybeMerge(edit.Finish());
            return new CatalogChange(added, replaced, 0, 0);
        }
    }

    /// <summary>Removes documents: base ones are tombstoned (df and mean length drop at once), delta ones dropped.</summary>
    public CatalogChange Remove(IReadOnlyList<string> ids)
    {
        var batch = CatalogBatch.DistinctIds(ids);
        lock (_writeLock)
        {
            var edit = new CatalogEdit(_catalog);
            int removed = 0;
            foreach (var id in batch) if (edit.Delete(id)) removed++;
            if (removed > 0) _catalog = MaybeMerge(edit.Finish());
            return new CatalogChange(0, 0, removed, ids.Count - removed);
        }
    }

    /// <summary>Merges delta and tombstones into a new base when the delta is over its limit or a quarter of the base is deleted.</summary>
    private Catalog MaybeMerge(Catalog c)
    {
        int limit = Options.DeltaLimit > 0 ? Options.DeltaLimit : Math.Max(256, (int)(4 * Math.Sqrt(c.Live)));
        if (c.Delta.Count <= limit && c.BaseDeletedCount * 4L <= c.Base.Count) return c;
        return Catalog.Merged(c);
    }

    /// <inheritdoc/>
    public IReadOnlyList<SearchHit>[] Search(IReadOnlyList<Query> queries, int k)
    {
        if (k <= 0) throw new ArgumentOutOfRangeException(nameof(k), k, "k must be positive");
        var results = new IReadOnlyList<SearchHit>[queries.Count];
        var catalog = _catalog; // one snapshot for the whole batch
        // Each worker thread keeps its scratch between batches (thread-static), so a batch costs no score arrays.
        Parallel.For(0, queries.Count, i => results[i] = SearchOne(catalog, queries[i].Text, k));
        return results;
    }

    /// <summary>Searches one query text on the calling thread.</summary>
    public IReadOnlyList<SearchHit> Search(string text, int k)
    {
        if (k <= 0) throw new ArgumentOutOfRangeException(nameof(k), k, "k must be positive");
        return SearchOne(_catalog, text, k);
    }

    // One scratch per thread: a fresh score array per query would cost more than the search. Scores
    // are left at zero after every search, so any index may reuse it once it is large enough.
    [ThreadStatic] private static Scratch? t_scratch;

    /// <summary>Scratch space of one thread: a score per document and the list of documents touched.</summary>
    private sealed class Scratch(int docs)
    {
        public readonly float[] Scores = new float[docs];
        public readonly List<int> Touched = new();
        public readonly List<string> Terms = new();
    }

    private SearchHit[] SearchOne(Catalog c, string text, int k)
    {
        int docs = c.Base.Count + c.Delta.Count;
        var s = t_scratch is { } cached && cached.Scores.Length >= docs ? cached : t_scratch = new Scratch(Math.Max(docs, 16));
        var queryTerms = QueryTerms(c, text, s.Terms);
        float k1p1 = Options.K1 + 1;
        var norms = c.Norms(Options);
        foreach (var qt in queryTerms)
        {
            float idf = Idf(c.Live, qt.DocFreq) * qt.Count;
            if (qt.BaseTerm >= 0)
            {
                if (c.BaseDeleted is null) Accumulate(c.Base, qt.BaseTerm, 0, idf, k1p1, norms, s);
                else AccumulateLive(c.Base, qt.BaseTerm, c.BaseDeleted, idf, k1p1, norms, s);
            }
            if (qt.DeltaTerm >= 0) Accumulate(c.Delta, qt.DeltaTerm, c.Base.Count, idf, k1p1, norms, s);
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
            hits[i] = new SearchHit(c.DocId(d), key.Score);
        }
        return hits;
    }

    // The hot loop: one division per posting, the norm read from the snapshot's array (as before the
    // catalog became live: computing a + b * length here instead cost about a third of the throughput).
    private static void Accumulate(Segment seg, int t, int first, float idf, float k1p1, float[] norms, Scratch s)
    {
        var scores = s.Scores;
        var docs = seg.PostDocs; var tfs = seg.PostTfs;
        for (int p = seg.Offsets[t], end = seg.Offsets[t + 1]; p < end; p++)
        {
            int g = first + docs[p];
            float f = tfs[p];
            if (scores[g] == 0) s.Touched.Add(g);
            scores[g] += idf * f * k1p1 / (f + norms[g]);
        }
    }

    /// <summary><see cref="Accumulate"/> over the base segment when some of its documents are deleted.</summary>
    private static void AccumulateLive(Segment seg, int t, ulong[] deleted, float idf, float k1p1, float[] norms, Scratch s)
    {
        var scores = s.Scores;
        for (int p = seg.Offsets[t]; p < seg.Offsets[t + 1]; p++)
        {
            int d = seg.PostDocs[p];
            if ((deleted[d >> 6] & (1UL << d)) != 0) continue;
            float f = seg.PostTfs[p];
            if (scores[d] == 0) s.Touched.Add(d);
            scores[d] += idf * f * k1p1 / (f + norms[d]);
        }
    }

    private static float Idf(int n, int df) => (float)Math.Log(1 + (n - df + 0.5) / (df + 0.5));

    /// <summary>A query term found in the live documents: its count in the query, ids in each segment (-1: absent) and live df.</summary>
    private readonly record struct QueryTerm(string Term, int Count, int BaseTerm, int DeltaTerm, int DocFreq);

    /// <summary>The known terms of a query with their counts, in first-seen order.</summary>
    private List<QueryTerm> QueryTerms(Catalog c, string text, List<string> buffer)
    {
        buffer.Clear();
        _analyzer.Analyze(text, buffer);
        var result = new List<QueryTerm>();
        foreach (var term in buffer)
        {
            int at = result.FindIndex(x => x.Term == term);
            if (at >= 0) { result[at] = result[at] with { Count = result[at].Count + 1 }; continue; }
            var (bt, dt, df) = c.Lookup(term);
            if (df == 0) continue;
            result.Add(new QueryTerm(term, 1, bt, dt, df));
            if (result.Count > 4096) break; // a pathological query: enough terms to rank by
        }
        return result;
    }

    /// <summary>The terms BM25 reads from <paramref name="text"/> (normalised, split, stemmed as the index is), in order.</summary>
    public List<string> Analyze(string text) => _analyzer.Analyze(text);

    /// <summary>
    /// The scores of the documents <paramref name="docIds"/> for <paramref name="text"/> (0 for an id not
    /// indexed): the scores <see cref="Explain"/> gives, with the query analysed once, for a reranker's features.
    /// </summary>
    public float[] Score(string text, IReadOnlyList<string> docIds)
    {
        var c = _catalog;
        var norms = c.Norms(Options);
        var analyzed = _analyzer.Analyze(text);
        var terms = analyzed.Distinct(StringComparer.Ordinal)
            .Select(term => (Term: term, Qf: analyzed.Count(x => x == term), Df: c.Lookup(term).DocFreq))
            .Where(t => t.Df > 0).Select(t => (t.Term, Weight: t.Qf * Idf(c.Live, t.Df))).ToArray();
        var scores = new float[docIds.Count];
        for (int i = 0; i < docIds.Count; i++)
        {
            int d = c.Find(docIds[i]);
            if (d < 0) continue;
            var (seg, local) = c.Locate(d);
            double score = 0;
            foreach (var (term, weight) in terms)
            {
                int tf = seg.TermFrequency(local, term);
                if (tf > 0) score += weight * tf * (Options.K1 + 1) / (tf + norms[d]);
            }
            scores[i] = (float)score;
        }
        return scores;
    }

    /// <summary>How <paramref name="docId"/> scores for <paramref name="text"/>; null when the id is not indexed.</summary>
    public Bm25Explanation? Explain(string text, string docId)
    {
        var c = _catalog;
        int d = c.Find(docId);
        if (d < 0) return null;
        var (seg, local) = c.Locate(d);
        float norm = c.Norms(Options)[d];
        var parts = new List<Bm25TermExplanation>();
        var analyzed = _analyzer.Analyze(text);
        foreach (var term in analyzed.Distinct(StringComparer.Ordinal))
        {
            int qf = analyzed.Count(x => x == term);
            var (_, _, df) = c.Lookup(term);
            if (df == 0) { parts.Add(new Bm25TermExplanation(term, qf, 0, 0, 0, 0)); continue; }
            float idf = Idf(c.Live, df);
            int tf = seg.TermFrequency(local, term);
            double score = tf == 0 ? 0 : qf * idf * tf * (Options.K1 + 1) / (tf + norm);
            parts.Add(new Bm25TermExplanation(term, qf, df, idf, tf, score));
        }
        return new Bm25Explanation(docId, parts.Sum(x => x.Score), seg.DocLengths[local], c.AverageLength, Options.K1, Options.B, parts);
    }

    /// <summary>
    /// The slow, obvious score of document <paramref name="doc"/> (its position in <see cref="DocIds"/>)
    /// for a query: the definition, with N, df and avgdl counted over the live documents, for tests of the fast path.
    /// </summary>
    internal double ReferenceScore(string text, int doc)
    {
        var live = _catalog.LiveDocs().ToList();
        var query = _analyzer.Analyze(text);
        double avg = live.Average(x => (double)x.Length);
        var target = live[doc];
        double score = 0;
        foreach (var term in query)
        {
            int tf = target.Terms.Where(x => x.Term == term).Select(x => (int)x.Tf).FirstOrDefault();
            if (tf == 0) continue;
            int df = live.Count(x => x.Terms.Any(y => y.Term == term));
            double idf = Math.Log(1 + (live.Count - df + 0.5) / (df + 0.5));
            double norm = Options.K1 * (1 - Options.B + Options.B * target.Length / avg);
            score += idf * tf * (Options.K1 + 1) / (tf + norm);
        }
        return score;
    }

    /// <summary>An analysed document: id, length in terms, and each distinct term with its count.</summary>
    private sealed record IndexedDoc(string Id, int Length, (string Term, ushort Tf)[] Terms);

    /// <summary>
    /// One immutable segment: CSR postings (term t's are [Offsets[t], Offsets[t + 1]), documents
    /// ascending) and the forward index (document d's term ids are [DocTermStart[d], DocTermStart[d + 1])).
    /// </summary>
    private sealed class Segment
    {
        public required Dictionary<string, int> TermIds;
        public required string[] Terms;
        public required int[] Offsets;
        public required int[] PostDocs;
        public required ushort[] PostTfs;
        public required int[] DocTermStart;
        public required int[] DocTerms;
        public required ushort[] DocTfs;
        public required int[] DocLengths;
        public required string[] DocIds;
        public required Dictionary<string, int> DocIndex;
        public long TotalLength;

        public int Count => DocIds.Length;
        public int DocFreq(int t) => Offsets[t + 1] - Offsets[t];

        public int TermFrequency(int doc, string term)
        {
            if (!TermIds.TryGetValue(term, out int t)) return 0;
            for (int i = DocTermStart[doc]; i < DocTermStart[doc + 1]; i++) if (DocTerms[i] == t) return DocTfs[i];
            return 0;
        }

        public IndexedDoc Doc(int d)
        {
            var terms = new (string, ushort)[DocTermStart[d + 1] - DocTermStart[d]];
            for (int i = 0; i < terms.Length; i++) terms[i] = (Terms[DocTerms[DocTermStart[d] + i]], DocTfs[DocTermStart[d] + i]);
            return new IndexedDoc(DocIds[d], DocLengths[d], terms);
        }

        /// <summary>A segment of <paramref name="docs"/> in order: term ids in first-seen order, postings by inversion.</summary>
        public static Segment FromDocs(IReadOnlyList<IndexedDoc> docs)
        {
            var termIds = new Dictionary<string, int>(StringComparer.Ordinal);
            var terms = new List<string>();
            var df = new List<int>();
            var docTermStart = new int[docs.Count + 1];
            for (int d = 0; d < docs.Count; d++) docTermStart[d + 1] = docTermStart[d] + docs[d].Terms.Length;
            var docTerms = new int[docTermStart[^1]];
            var docTfs = new ushort[docTermStart[^1]];
            for (int d = 0, p = 0; d < docs.Count; d++)
                foreach (var (term, tf) in docs[d].Terms)
                {
                    if (!termIds.TryGetValue(term, out int id)) { id = terms.Count; termIds[term] = id; terms.Add(term); df.Add(0); }
                    df[id]++;
                    docTerms[p] = id; docTfs[p] = tf; p++;
                }
            return Invert(termIds, [.. terms], df, docTermStart, docTerms, docTfs, docs.Select(x => x.Length).ToArray(), docs.Select(x => x.Id).ToArray());
        }

        /// <summary>Builds the postings (documents ascending) from the forward index.</summary>
        public static Segment Invert(Dictionary<string, int> termIds, string[] terms, IReadOnlyList<int> df, int[] docTermStart, int[] docTerms,
            ushort[] docTfs, int[] docLengths, string[] docIds)
        {
            var offsets = new int[terms.Length + 1];
            for (int t = 0; t < terms.Length; t++) offsets[t + 1] = offsets[t] + df[t];
            var fill = (int[])offsets.Clone();
            var postDocs = new int[offsets[^1]];
            var postTfs = new ushort[offsets[^1]];
            for (int d = 0; d < docIds.Length; d++)
                for (int i = docTermStart[d]; i < docTermStart[d + 1]; i++) { int p = fill[docTerms[i]]++; postDocs[p] = d; postTfs[p] = docTfs[i]; }
            var docIndex = new Dictionary<string, int>(docIds.Length, StringComparer.Ordinal);
            for (int d = 0; d < docIds.Length; d++) docIndex[docIds[d]] = d;
            long total = 0;
            foreach (int l in docLengths) total += l;
            return new Segment
            {
                TermIds = termIds, Terms = terms, Offsets = offsets, PostDocs = postDocs, PostTfs = postTfs, DocTermStart = docTermStart,
                DocTerms = docTerms, DocTfs = docTfs, DocLengths = docLengths, DocIds = docIds, DocIndex = docIndex, TotalLength = total,
            };
        }
    }

    /// <summary>
    /// One immutable state of the catalog: base segment with tombstones (a bit per deleted base
    /// document, and per base term how many deleted documents hold it), and the delta segment.
    /// Document number d is base document d below Base.Count, delta document d - Base.Count above.
    /// </summary>
    private sealed class Catalog(Segment @base, ulong[]? baseDeleted, int baseDeletedCount, int[]? baseDeletedDf, long baseDeletedLength,
        IndexedDoc[] deltaDocs, Segment delta)
    {
        public readonly Segment Base = @base;
        public readonly ulong[]? BaseDeleted = baseDeleted;
        public readonly int BaseDeletedCount = baseDeletedCount;
        public readonly int[]? BaseDeletedDf = baseDeletedDf;
        public readonly long BaseDeletedLength = baseDeletedLength;
        public readonly IndexedDoc[] DeltaDocs = deltaDocs;
        public readonly Segment Delta = delta;

        public int Live => Base.Count - BaseDeletedCount + Delta.Count;

        private string[]? _liveIds;
        /// <summary>The live ids in document-number order, made on first use (racing threads make equal copies).</summary>
        public string[] LiveIds => _liveIds ??= Enumerable.Range(0, Base.Count).Where(d => !IsBaseDeleted(d)).Select(d => Base.DocIds[d])
            .Concat(Delta.DocIds).ToArray();
        public double AverageLength => Live == 0 ? 0 : (double)(Base.TotalLength - BaseDeletedLength + Delta.TotalLength) / Live;

        private volatile NormCache? _norms;

        /// <summary>
        /// k1 (1 - b + b dl / avgdl) of every document number (deleted ones too), computed once per
        /// snapshot and setting: the search loop reads one float a posting. Racing threads compute equal arrays.
        /// </summary>
        public float[] Norms(Bm25Options o)
        {
            if (_norms is { } cached && cached.K1 == o.K1 && cached.B == o.B) return cached.Values;
            double avg = Math.Max(AverageLength, 1e-9);
            var values = new float[Base.Count + Delta.Count];
            for (int d = 0; d < Base.Count; d++) values[d] = (float)(o.K1 * (1 - o.B + o.B * Base.DocLengths[d] / avg));
            for (int d = 0; d < Delta.Count; d++) values[Base.Count + d] = (float)(o.K1 * (1 - o.B + o.B * Delta.DocLengths[d] / avg));
            _norms = new NormCache(o.K1, o.B, values);
            return values;
        }

        private sealed record NormCache(float K1, float B, float[] Values);

        public bool IsBaseDeleted(int d) => RowBits.Get(BaseDeleted, d);

        /// <summary>The document number of <paramref name="id"/>, or -1.</summary>
        public int Find(string id)
        {
            if (Delta.DocIndex.TryGetValue(id, out int j)) return Base.Count + j;
            return Base.DocIndex.TryGetValue(id, out int d) && !IsBaseDeleted(d) ? d : -1;
        }

        public (Segment Segment, int Local) Locate(int d) => d < Base.Count ? (Base, d) : (Delta, d - Base.Count);

        public string DocId(int d) => d < Base.Count ? Base.DocIds[d] : Delta.DocIds[d - Base.Count];

        /// <summary>A term's id in each segment (-1 when absent) and its document frequency among live documents.</summary>
        public (int BaseTerm, int DeltaTerm, int DocFreq) Lookup(string term)
        {
            int bt = Base.TermIds.TryGetValue(term, out int b) ? b : -1;
            int dt = Delta.TermIds.TryGetValue(term, out int x) ? x : -1;
            int df = (bt >= 0 ? Base.DocFreq(bt) - (BaseDeletedDf?[bt] ?? 0) : 0) + (dt >= 0 ? Delta.DocFreq(dt) : 0);
            return (bt, dt, df);
        }

        public int TermCount()
        {
            int n = 0;
            for (int t = 0; t < Base.Terms.Length; t++)
                if (Base.DocFreq(t) - (BaseDeletedDf?[t] ?? 0) > 0 || Delta.TermIds.ContainsKey(Base.Terms[t])) n++;
            foreach (var term in Delta.Terms) if (!Base.TermIds.ContainsKey(term)) n++;
            return n;
        }

        /// <summary>The live documents in document-number order.</summary>
        public IEnumerable<IndexedDoc> LiveDocs()
        {
            for (int d = 0; d < Base.Count; d++) if (!IsBaseDeleted(d)) yield return Base.Doc(d);
            foreach (var doc in DeltaDocs) yield return doc;
        }

        /// <summary>
        /// The live documents as one new base segment and an empty delta, in one pass over the forward
        /// indexes: base documents keep their order, delta documents follow; no text is analysed.
        /// </summary>
        public static Catalog Merged(Catalog c)
        {
            Segment b = c.Base, x = c.Delta;
            int live = c.Live;
            var termIds = new Dictionary<string, int>(StringComparer.Ordinal);
            var terms = new List<string>();
            var df = new List<int>();
            var baseMap = new int[b.Terms.Length];  // base term -> merged term (-1: no live document holds it)
            var deltaMap = new int[x.Terms.Length];
            for (int t = 0; t < b.Terms.Length; t++)
            {
                int liveDf = b.DocFreq(t) - (c.BaseDeletedDf?[t] ?? 0);
                baseMap[t] = -1;
                if (liveDf > 0) { baseMap[t] = terms.Count; termIds[b.Terms[t]] = terms.Count; terms.Add(b.Terms[t]); df.Add(liveDf); }
            }
            for (int t = 0; t < x.Terms.Length; t++)
            {
                if (!termIds.TryGetValue(x.Terms[t], out int id)) { id = terms.Count; termIds[x.Terms[t]] = id; terms.Add(x.Terms[t]); df.Add(0); }
                df[id] += x.DocFreq(t);
                deltaMap[t] = id;
            }
            var docTermStart = new int[live + 1];
            var docIds = new string[live];
            var docLengths = new int[live];
            int postings = 0, n = 0;
            for (int d = 0; d < b.Count; d++)
                if (!c.IsBaseDeleted(d)) { postings += b.DocTermStart[d + 1] - b.DocTermStart[d]; docIds[n] = b.DocIds[d]; docLengths[n++] = b.DocLengths[d]; }
            for (int d = 0; d < x.Count; d++) { postings += x.DocTermStart[d + 1] - x.DocTermStart[d]; docIds[n] = x.DocIds[d]; docLengths[n++] = x.DocLengths[d]; }
            var docTerms = new int[postings];
            var docTfs = new ushort[postings];
            n = 0;
            int p = 0;
            void Copy(Segment s, int d, int[] map)
            {
                for (int i = s.DocTermStart[d]; i < s.DocTermStart[d + 1]; i++) { docTerms[p] = map[s.DocTerms[i]]; docTfs[p++] = s.DocTfs[i]; }
                docTermStart[++n] = p;
            }
            for (int d = 0; d < b.Count; d++) if (!c.IsBaseDeleted(d)) Copy(b, d, baseMap);
            for (int d = 0; d < x.Count; d++) Copy(x, d, deltaMap);
            var merged = Segment.Invert(termIds, [.. terms], df, docTermStart, docTerms, docTfs, docLengths, docIds);
            return new Catalog(merged, null, 0, null, 0, [], Segment.FromDocs([]));
        }
    }

    /// <summary>A change being made to a catalog: copy-on-write tombstones and the new delta's documents.</summary>
    private sealed class CatalogEdit(Catalog c)
    {
        private ulong[]? _deleted = c.BaseDeleted;
        private int[]? _deletedDf = c.BaseDeletedDf;
        private int _deletedCount = c.BaseDeletedCount;
        private long _deletedLength = c.BaseDeletedLength;
        private bool _copied;
        private readonly Dictionary<string, int> _deltaAt = new(c.Delta.DocIndex, StringComparer.Ordinal);
        public readonly List<IndexedDoc?> Delta = [.. c.DeltaDocs];

        /// <summary>Deletes the live document <paramref name="id"/>; false when there is none.</summary>
        public bool Delete(string id)
        {
            if (_deltaAt.Remove(id, out int j)) { Delta[j] = null; return true; }
            var b = c.Base;
            if (!b.DocIndex.TryGetValue(id, out int d) || RowBits.Get(_deleted, d)) return false;
            if (!_copied)
            {
                _deleted = RowBits.CopyFor(_deleted, b.Count);
                _deletedDf = _deletedDf is null ? new int[b.Terms.Length] : (int[])_deletedDf.Clone();
                _copied = true;
            }
            RowBits.Set(_deleted!, d);
            for (int i = b.DocTermStart[d]; i < b.DocTermStart[d + 1]; i++) _deletedDf![b.DocTerms[i]]++;
            _deletedCount++;
            _deletedLength += b.DocLengths[d];
            return true;
        }

        public Catalog Finish()
        {
            // Documents added in this edit are not in _deltaAt; a later Delete in the same edit never targets them
            // (a batch holds each id once).
            var docs = Delta.Where(x => x is not null).Select(x => x!).ToArray();
            return new Catalog(c.Base, _deleted, _deletedCount, _deletedDf, _deletedLength, docs, Segment.FromDocs(docs));
        }
    }
}
