using System.Text.Json;

namespace GenSearch.Training.Tests;

/// <summary>
/// A tiny product catalog in BEIR layout, written to a temporary directory: 48 "colour thing for
/// home" titles, one query per item ("colour thing"); a third of them are dev queries, the others
/// train queries that also judge a near miss with grade 1.
/// </summary>
internal sealed class TinyBeir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("gensearch-beir").FullName;

    public static readonly string[] Colors = ["red", "blue", "green", "black", "white", "yellow"];
    public static readonly string[] Things = ["drill", "hose", "fan", "screws", "stain", "bracket", "bulb", "pipe"];

    public TinyBeir()
    {
        var corpus = new List<string>();
        int id = 0;
        foreach (var thing in Things)
            foreach (var color in Colors)
                corpus.Add(JsonSerializer.Serialize(new Dictionary<string, string> { ["_id"] = $"d{id++}", ["title"] = $"{color} {thing} for home", ["text"] = "" }));
        File.WriteAllLines(System.IO.Path.Combine(Path, "corpus.jsonl"), corpus);
        var queries = new List<string>();
        var train = new List<string> { "query-id\tcorpus-id\tscore" };
        var dev = new List<string> { "query-id\tcorpus-id\tscore" };
        int q = 0;
        for (int t = 0; t < Things.Length; t++)
            for (int c = 0; c < Colors.Length; c++)
            {
                string qid = $"q{q++}";
                queries.Add(JsonSerializer.Serialize(new Dictionary<string, string> { ["_id"] = qid, ["text"] = $"{Colors[c]} {Things[t]}" }));
                (c % 3 == 0 ? dev : train).Add($"{qid}\td{t * Colors.Length + c}\t4");
                // Training queries also judge the same thing in a neighbouring colour, grade 1 (colours
                // 1-2 and 4-5 pair up, so no dev item is judged in training).
                if (c % 3 != 0) train.Add($"{qid}\td{t * Colors.Length + (c % 3 == 1 ? c + 1 : c - 1)}\t1");
            }
        File.WriteAllLines(System.IO.Path.Combine(Path, "queries.jsonl"), queries);
        Directory.CreateDirectory(System.IO.Path.Combine(Path, "qrels"));
        File.WriteAllLines(System.IO.Path.Combine(Path, "qrels", "train.tsv"), train);
        File.WriteAllLines(System.IO.Path.Combine(Path, "qrels", "dev.tsv"), dev);
    }

    /// <summary>How many dev queries find a judged item in <paramref name="retriever"/>'s top <paramref name="k"/>, of how many.</summary>
    public (int Found, int Queries) DevQueriesFound(GenSearch.Retrieval.IRetriever retriever, int k)
    {
        var set = GenSearch.Data.BeirDataset.Open(Path);
        var queries = set.Queries().ToDictionary(q => q.Id);
        var qrels = set.Qrels("dev").Qrels;
        var ids = qrels.QueryIds.ToArray();
        var results = retriever.Search(ids.Select(id => queries[id]).ToArray(), k);
        return (ids.Where((id, i) => results[i].Any(h => qrels.For(id).ContainsKey(h.Id))).Count(), ids.Length);
    }

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
