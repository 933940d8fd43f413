using System.CommandLine;
using System.Globalization;
using GenSearch.Data;
using GenSearch.Retrieval;

namespace GenSearch.Cli;

/// <summary><c>gensearch search --data DIR "query text"</c>: top results with titles and scores.</summary>
internal static class SearchCommand
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "BEIR directory (corpus.jsonl, queries.jsonl, qrels/).", Required = true };
        var query = new Argument<string>("query") { Description = "The query text." };
        var k = new Option<int>("--k", "-k") { Description = "How many results to show.", DefaultValueFactory = _ => 10 };
        var explain = new Option<bool>("--explain") { Description = "Show how BM25 scored each result, term by term." };
        var command = new Command("search", "Search the corpus with BM25 and print the top results with titles and scores.")
        {
            data, query, k, explain,
        };
        command.SetAction(parse => CliSupport.Guard(() =>
        {
            var text = parse.GetValue(query) ?? "";
            if (string.IsNullOrWhiteSpace(text)) throw new CliException("the query is empty");
            int top = parse.GetValue(k);
            if (top <= 0) throw new CliException("--k must be positive");
            var set = CliSupport.OpenData(parse.GetValue(data));
            var titles = new Dictionary<string, string>(StringComparer.Ordinal);
            var (index, _) = CliSupport.BuildBm25(set, new Bm25Options(), titles);
            var hits = index.Search([new Query("q", text)], top)[0];
            if (hits.Count == 0) { Console.WriteLine("no results (no query term occurs in the corpus)"); return 0; }
            for (int i = 0; i < hits.Count; i++)
            {
                Console.WriteLine($"{i + 1,3}  {hits[i].Score.ToString("F4", CultureInfo.InvariantCulture),9}  {hits[i].Id,-10}  {titles.GetValueOrDefault(hits[i].Id, "")}");
                if (parse.GetValue(explain)) Console.Write(Indent(index.Explain(text, hits[i].Id)!.ToString()));
            }
            return 0;
        }));
        return command;
    }

    private static string Indent(string s) => string.Concat(s.Split('\n').Where(l => l.Length > 0).Select(l => "       " + l + "\n"));
}
