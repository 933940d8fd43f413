using GenSearch.Evaluation;

namespace GenSearch.Data;

/// <summary>
/// The files of one BEIR directory. Opening checks the layout; the data are streamed on demand.
/// </summary>
public sealed class BeirDataset
{
    /// <summary>The directory.</summary>
    public string Directory { get; }
    /// <summary>Path of <c>corpus.jsonl</c>.</summary>
    public string CorpusPath => Path.Combine(Directory, "corpus.jsonl");
    /// <summary>Path of <c>queries.jsonl</c>.</summary>
    public string QueriesPath => Path.Combine(Directory, "queries.jsonl");
    /// <summary>Path of the optional <c>interactions.jsonl</c>.</summary>
    public string InteractionsPath => Path.Combine(Directory, "interactions.jsonl");
    /// <summary>True when the directory has a search log.</summary>
    public bool HasInteractions => File.Exists(InteractionsPath);

    /// <summary>
    /// Lowest grade that counts as relevant in this data set's judgments: from <c>dataset.json</c>, else
    /// the built-in table, else 1 (see <see cref="DatasetManifest"/>). Homedepot: 3.
    /// </summary>
    public int RelevanceThreshold => Manifest.RelevanceThreshold;

    /// <summary>The grades this data set's judgments may take; a qrels row outside them is an error. Homedepot: 0..4.</summary>
    public GradeRange Grades => Manifest.Grades;

    /// <summary>The relevance scale with where it came from (<see cref="DatasetManifest.Source"/>: print it beside the scores).</summary>
    public DatasetManifest Manifest { get; }

    private BeirDataset(string directory)
    {
        Directory = directory;
        Manifest = DatasetManifest.For(directory);
    }

    /// <summary>
    /// Evaluation settings for this data set: its threshold (or <paramref name="threshold"/> when given, as
    /// from a command-line flag) and its grade range. A threshold outside the range throws
    /// <see cref="InvalidDataException"/>: no judgment could reach it, and every score would be 0.
    /// </summary>
    public EvaluationOptions EvaluationOptions(int? threshold = null)
    {
        int t = threshold ?? RelevanceThreshold;
        if (!Grades.Contains(t))
            throw new InvalidDataException($"relevance threshold {t} is outside the grades {Grades} of {Directory} ({Manifest.Source})");
        return new EvaluationOptions { RelevanceThreshold = t, Grades = Grades };
    }

    /// <summary>
    /// Opens a BEIR directory and reads its relevance scale; throws <see cref="DataFormatException"/> when
    /// it or its files are missing or its <c>dataset.json</c> is malformed.
    /// </summary>
    public static BeirDataset Open(string directory)
    {
        if (!System.IO.Directory.Exists(directory)) throw new DataFormatException(directory, 0, "data directory not found");
        var set = new BeirDataset(directory);
        foreach (var path in new[] { set.CorpusPath, set.QueriesPath })
            if (!File.Exists(path)) throw new DataFormatException(path, 0, "file not found (a BEIR directory holds corpus.jsonl, queries.jsonl and qrels/<split>.tsv)");
        return set;
    }

    /// <summary>Path of the qrels of <paramref name="split"/>.</summary>
    public string QrelsPath(string split) => Path.Combine(Directory, "qrels", split + ".tsv");

    /// <summary>The splits that have a qrels file, sorted.</summary>
    public IReadOnlyList<string> Splits() =>
        System.IO.Directory.Exists(Path.Combine(Directory, "qrels"))
            ? System.IO.Directory.GetFiles(Path.Combine(Directory, "qrels"), "*.tsv").Select(p => Path.GetFileNameWithoutExtension(p)!).Order(StringComparer.Ordinal).ToArray()
            : [];

    /// <summary>Streams the corpus.</summary>
    public IEnumerable<Document> Corpus() => BeirReader.ReadCorpus(CorpusPath);

    /// <summary>
    /// Streams the queries. When the directory has a search log (<c>interactions.jsonl</c>), each query
    /// with a user comes with that user's earlier events as its <see cref="Query.Context"/>
    /// (<see cref="UserContexts.Attach"/>, at most <see cref="UserContexts.DefaultMaxEvents"/> events);
    /// the queries are then read whole before the first is returned. Without a log they stream as read.
    /// </summary>
    public IEnumerable<Query> Queries() => HasInteractions ? WithContext() : BeirReader.ReadQueries(QueriesPath);

    private IEnumerable<Query> WithContext()
    {
        foreach (var q in UserContexts.Attach(BeirReader.ReadQueries(QueriesPath).ToList(), Interactions())) yield return q;
    }

    /// <summary>
    /// Reads the qrels of <paramref name="split"/>, skipping (and reporting through <paramref name="warn"/>)
    /// rows whose ids are not among <paramref name="queryIds"/> / <paramref name="docIds"/> when given.
    /// Grades outside <see cref="Grades"/> and conflicting judgments throw (see <see cref="BeirReader.ReadQrels"/>).
    /// </summary>
    public QrelsReadResult Qrels(string split, IReadOnlySet<string>? queryIds = null, IReadOnlySet<string>? docIds = null, Action<string>? warn = null)
    {
        var path = QrelsPath(split);
        if (!File.Exists(path))
        {
            var known = Splits();
            throw new DataFormatException(path, 0, $"no qrels for split '{split}'" + (known.Count > 0 ? $"; known splits: {string.Join(", ", known)}" : ""));
        }
        return BeirReader.ReadQrels(path, queryIds == null ? null : queryIds.Contains, docIds == null ? null : docIds.Contains, warn, Grades);
    }

    /// <summary>Streams the search log; empty when there is none.</summary>
    public IEnumerable<Interaction> Interactions() => HasInteractions ? InteractionReader.Read(InteractionsPath) : [];
}
