using System.CommandLine;
using System.Globalization;
using GenSearch.Retrieval;
using GenSearch.Serving;

namespace GenSearch.Cli;

/// <summary><c>gensearch search --data DIR [--model DIR] [--retriever EXPR] "query text"</c>: top results with titles and scores.</summary>
internal static class SearchCommand
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "BEIR directory (corpus.jsonl, queries.jsonl, qrels/).", Required = true };
        var query = new Argument<string>("query") { Description = "The query text." };
        var k = new Option<int>("--k", "-k") { Description = "How many results to show.", DefaultValueFactory = _ => 10 };
        var retriever = CliSupport.RetrieverOption();
        var model = CliSupport.ModelOption();
        var beam = new BeamOptions();
        var hnsw = new Option<bool>("--hnsw") { Description = "Dense retrieval: search an HNSW graph instead of the exact index." };
        var explain = new Option<bool>("--explain") { Description = "Show how BM25 scored each result, term by term (when BM25 is one of the retrievers)." };
        var rerank = CliSupport.RerankOption();
        var rerankDepth = CliSupport.RerankDepthOption();
        var fusion = CliSupport.FusionOption();
        var command = new Command("search", "Search the catalog with BM25, any trained model, or a fusion of them; print the top results with titles and scores.")
        {
            data, query, k, retriever, model, hnsw, explain, rerank, rerankDepth, fusion,
        };
        beam.AddTo(command);
        CliSupport.RerankDepthNeedsRerank(command, rerank, rerankDepth);
        command.SetAction(parse => CliSupport.Guard(() =>
        {
            var text = parse.GetValue(query) ?? "";
            if (string.IsNullOrWhiteSpace(text)) throw new CliException("the query is empty");
            int top = parse.GetValue(k);
            CliSupport.Range("--k", top, 1);
            beam.Read(parse);
            var set = CliSupport.OpenData(parse.GetValue(data));
            var (searcher, index, _) = CliSupport.OpenRetriever(set, parse.GetValue(retriever), parse.GetValue(model), new Bm25Options(),
                beam.Apply(parse, new ModelOpenOptions { Hnsw = parse.GetValue(hnsw) }), rerank: parse.GetValue(rerank), rerankDepth: parse.GetValue(rerankDepth), fusion: parse.GetValue(fusion));
            if (parse.GetValue(explain) && index is null) throw new CliException("--explain shows BM25's scoring: add bm25 to --retriever");
            var titles = set.Corpus().ToDictionary(d => d.Id, d => d.Title, StringComparer.Ordinal);
            var hits = searcher.Search([new Query("q", text)], top)[0];
            if (hits.Count == 0) { Console.WriteLine($"no results from {searcher.Name}"); return 0; }
            for (int i = 0; i < hits.Count; i++)
            {
                Console.WriteLine($"{i + 1,3}  {hits[i].Score.ToString("F4", CultureInfo.InvariantCulture),9}  {hits[i].Id,-10}  {titles.GetValueOrDefault(hits[i].Id, "")}");
                if (parse.GetValue(explain) && index?.Explain(text, hits[i].Id) is { } why) Console.Write(Indent(why.ToString()));
            }
            return 0;
        }));
        return command;
    }

    private static string Indent(string s) => string.Concat(s.Split('\n').Where(l => l.Length > 0).Select(l => "       " + l + "\n"));
}
