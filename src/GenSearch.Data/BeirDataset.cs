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

    private BeirDataset(string directory) => Directory = directory;

    /// <summary>Opens a BEIR directory; throws <see cref="DataFormatException"/> when it or its files are missing.</summary>
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

    /// <summary>Streams the queries.</summary>
    public IEnumerable<Query> Queries() => BeirReader.ReadQueries(QueriesPath);

    /// <summary>
    /// Reads the qrels of <paramref name="split"/>, skipping (and reporting through <paramref name="warn"/>)
    /// rows whose ids are not among <paramref name="queryIds"/> / <paramref name="docIds"/> when given.
    /// </summary>
    public QrelsReadResult Qrels(string split, IReadOnlySet<string>? queryIds = null, IReadOnlySet<string>? docIds = null, Action<string>? warn = null)
    {
        var path = QrelsPath(split);
        if (!File.Exists(path))
        {
            var known = Splits();
            throw new DataFormatException(path, 0, $"no qrels for split '{split}'" + (known.Count > 0 ? $"; known splits: {string.Join(", ", known)}" : ""));
        }
        return BeirReader.ReadQrels(path, queryIds == null ? null : queryIds.Contains, docIds == null ? null : docIds.Contains, warn);
    }

    /// <summary>Streams the search log; empty when there is none.</summary>
    public IEnumerable<Interaction> Interactions() => HasInteractions ? InteractionReader.Read(InteractionsPath) : [];
}
