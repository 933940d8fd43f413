using GenSearch.Data;
using GenSearch.Text;

namespace GenSearch.Training;

/// <summary>One training pair: a query text, the item it should retrieve (catalog index) and a weight.</summary>
/// <param name="QueryText">The query (or, for an indexing pair, the item's own title).</param>
/// <param name="Item">Index of the item in the catalog.</param>
/// <param name="Weight">Loss weight: from the grade for judged pairs, a fixed weight for indexing pairs.</param>
/// <param name="QueryIndex">Index of the judged query, or -1 for an indexing pair.</param>
public sealed record TrainingPair(string QueryText, int Item, float Weight, int QueryIndex);

/// <summary>A judged query's user history: the user's earlier query texts and the catalog indices of items they clicked, oldest first.</summary>
public sealed record QueryHistory(string[] Queries, int[] Items);

/// <summary>
/// What every model trains from: the catalog (item ids and texts, in corpus order), the judged
/// queries of a split with their graded items, and the pairs built from them. Judged pairs are
/// weighted by gain, (2^grade - 1) / (2^max - 1); indexing pairs (an item's title as a pseudo-query,
/// DESIGN.md) make items that no query has judged reachable.
/// </summary>
public sealed class TrainingData
{
    /// <summary>Item ids, in corpus order; the catalog index of an item is its position here.</summary>
    public required string[] ItemIds { get; init; }

    /// <summary>Item texts (title, then text when present).</summary>
    public required string[] ItemTexts { get; init; }

    /// <summary>Judged query texts of the split.</summary>
    public required string[] QueryTexts { get; init; }

    /// <summary>For each judged query, its judged items and grades.</summary>
    public required (int Item, int Grade)[][] Judgments { get; init; }

    /// <summary>
    /// For each judged query, its user's history when the data set has one (queries.jsonl's users with
    /// interactions.jsonl, attached as <c>Query.Context</c>); null when no query has any.
    /// </summary>
    public QueryHistory?[]? QueryContexts { get; init; }

    /// <summary>Highest grade in the judgments.</summary>
    public int MaxGrade { get; init; }

    /// <summary>
    /// Reads the catalog and the judgments of <paramref name="split"/>. Judgments of unknown queries
    /// or items are skipped and reported through <paramref name="warn"/> (the readers count them).
    /// </summary>
    public static TrainingData Load(BeirDataset set, string split, Action<string>? warn = null)
    {
        var ids = new List<string>(); var texts = new List<string>();
        foreach (var doc in set.Corpus())
        {
            ids.Add(doc.Id);
            texts.Add(doc.TitleAndText);
        }
        var index = new Dictionary<string, int>(ids.Count, StringComparer.Ordinal);
        for (int i = 0; i < ids.Count; i++) index[ids[i]] = i;
        var queryRecords = set.Queries().ToDictionary(q => q.Id, StringComparer.Ordinal);
        var queries = queryRecords.ToDictionary(q => q.Key, q => q.Value.Text, StringComparer.Ordinal);
        var qrels = set.Qrels(split, queries.Keys.ToHashSet(StringComparer.Ordinal), index.Keys.ToHashSet(StringComparer.Ordinal), warn).Qrels;
        var queryIds = qrels.QueryIds.Order(StringComparer.Ordinal).ToArray();
        var judgments = queryIds.Select(q => qrels.For(q).Select(kv => (Item: index[kv.Key], Grade: kv.Value)).OrderBy(x => x.Item).ToArray()).ToArray();
        return new TrainingData
        {
            ItemIds = [.. ids], ItemTexts = [.. texts],
            QueryTexts = queryIds.Select(q => queries[q]).ToArray(),
            QueryContexts = queryIds.Any(q => queryRecords[q].Context is { Count: > 0 }) ? queryIds.Select(q => History(queryRecords[q], index)).ToArray() : null,
            Judgments = judgments,
            MaxGrade = judgments.SelectMany(j => j).Select(j => j.Grade).DefaultIfEmpty(1).Max(),
        };
    }

    /// <summary>A query's context entries ("q:TEXT" earlier queries, "i:ID" clicked items; unknown items skipped) as a history.</summary>
    private static QueryHistory? History(Query query, Dictionary<string, int> index)
    {
        if (query.Context is not { Count: > 0 } context) return null;
        var texts = context.Where(e => e.StartsWith("q:", StringComparison.Ordinal)).Select(e => e[2..]).ToArray();
        var items = context.Where(e => e.StartsWith("i:", StringComparison.Ordinal) && index.ContainsKey(e[2..])).Select(e => index[e[2..]]).ToArray();
        return new QueryHistory(texts, items);
    }

    /// <summary>
    /// Pairs for training: every judgment with grade at least <paramref name="minGrade"/>, weighted
    /// by gain, then (when <paramref name="indexingWeight"/> &gt; 0) <paramref name="indexingPerItem"/>
    /// indexing pairs per item, item after item, repeated.
    /// </summary>
    public List<TrainingPair> Pairs(int minGrade, float indexingWeight, int indexingPerItem = 1)
    {
        var pairs = new List<TrainingPair>();
        double top = Math.Pow(2, MaxGrade) - 1;
        for (int q = 0; q < QueryTexts.Length; q++)
            foreach (var (item, grade) in Judgments[q])
                if (grade >= minGrade && grade > 0) pairs.Add(new TrainingPair(QueryTexts[q], item, (float)((Math.Pow(2, grade) - 1) / top), q));
        if (indexingWeight > 0)
            for (int copy = 0; copy < indexingPerItem; copy++)
                for (int i = 0; i < ItemTexts.Length; i++) pairs.Add(new TrainingPair(ItemTexts[i], i, indexingWeight, -1));
        return pairs;
    }

    /// <summary>A subword vocabulary learned from the item texts and the judged queries.</summary>
    public WordPieceTokenizer TrainTokenizer(int vocabularySize)
        => WordPieceTrainer.Train(ItemTexts.Concat(QueryTexts), new WordPieceTrainerOptions { VocabularySize = vocabularySize });
}
