using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using GenSearch.Data;
using GenSearch.Evaluation;
using GenSearch.Retrieval;
using GenSearch.Text;
using GenSearch.Serving;

namespace GenSearch.Cli;

/// <summary>
/// <c>gensearch eval --data DIR --split dev --retriever bm25 [--run out.trec] [--report out.md|out.json]</c>:
/// retrieves for every judged query of the split, scores the run and prints the metrics table.
/// </summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "BEIR directory (corpus.jsonl, queries.jsonl, qrels/<split>.tsv).", Required = true };
        var split = new Option<string>("--split") { Description = "Which qrels to evaluate on (qrels/<split>.tsv).", DefaultValueFactory = _ => "dev" };
        var retriever = CliSupport.RetrieverOption();
        var model = CliSupport.ModelOption();
        var beam = new BeamOptions();
        var hnsw = new Option<bool>("--hnsw") { Description = "Dense retrieval: search an HNSW graph instead of the exact index." };
        var fromRun = new Option<string?>("--from-run") { Description = "Score this TREC run file (from any tool) instead of retrieving." };
        var run = new Option<string?>("--run") { Description = "Write the run here in TREC format (qid Q0 docid rank score tag)." };
        var report = new Option<string?>("--report") { Description = "Write a report here: Markdown for .md, JSON for .json." };
        var k = new Option<int>("--k", "-k") { Description = "Results retrieved per query (at least the largest cut-off).", DefaultValueFactory = _ => 100 };
        var threshold = new Option<int?>("--threshold") { Description = "Lowest grade that counts as relevant (default: 1 when grades go up to 2, else the top grade minus 1; homedepot: 3)." };
        var k1 = new Option<float?>("--k1") { Description = "BM25 k1 (term-frequency saturation; default: the data set's, see the README)." };
        var b = new Option<float?>("--b") { Description = "BM25 b (length normalisation, 0..1; default: the data set's)." };
        var stop = new Option<bool>("--stopwords") { Description = "BM25: drop English stop words." };
        var noStem = new Option<bool>("--no-stem") { Description = "BM25: do not stem." };
        var addItems = new Option<string?>("--add-items") { Description = "Add these items (corpus.jsonl lines) to the retriever's catalog before searching, as a live catalog would: e.g. items a model never saw in training. The breakdowns then split queries by whether their relevant items were added." };
        var seenSplit = new Option<string>("--seen-split") { Description = "The breakdown 'relevant items seen in training' counts items judged relevant in this split (a ranker trained on another split than train: name it).", DefaultValueFactory = _ => "train" };
        var rerank = CliSupport.RerankOption();
        var rerankDepth = CliSupport.RerankDepthOption();
        var fusion = CliSupport.FusionOption();
        var excludeJudged = CliSupport.ExcludeJudgedOption();
        var command = new Command("eval", "Evaluate a retriever on a split: Recall, MRR, NDCG and hit rate at 10 and 100, with breakdowns; also Judged (share of the top K with a judgment) and CondensedNDCG (NDCG with the unjudged items removed).")
        {
            data, split, retriever, model, hnsw, fromRun, run, report, k, threshold, k1, b, stop, noStem, addItems, rerank, rerankDepth, seenSplit, fusion, excludeJudged,
        };
        beam.AddTo(command);
        CliSupport.RerankDepthNeedsRerank(command, rerank, rerankDepth);
        command.SetAction(parse => CliSupport.Guard(() =>
        {
            var set = CliSupport.OpenData(parse.GetValue(data));
            string splitName = parse.GetValue(split)!;
            int topK = parse.GetValue(k);
            CliSupport.Range("--k", topK, 1);
            if (parse.GetValue(k1) is { } k1Value) CliSupport.Range("--k1", k1Value, 0, 100);
            if (parse.GetValue(b) is { } bValue) CliSupport.Range("--b", bValue, 0, 1);
            beam.Read(parse);
            string? reportPath = parse.GetValue(report);
            if (reportPath != null && !reportPath.EndsWith(".md", StringComparison.OrdinalIgnoreCase) && !reportPath.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
                throw new CliException($"--report '{reportPath}': the extension picks the format, .md or .json");

            CliSupport.CheckOutputPath("--run", parse.GetValue(run));
            CliSupport.CheckOutputPath("--report", reportPath);
            var queries = set.Queries().ToDictionary(q => q.Id, StringComparer.Ordinal);
            if (set.HasInteractions)
                CliSupport.Note($"user context: {queries.Values.Count(q => q.Context is { Count: > 0 }):N0} of {queries.Count:N0} queries have earlier events in interactions.jsonl " +
                                $"(at most {UserContexts.DefaultMaxEvents} each, attached as their context; BM25 reads the text only)");
            Bm25? index = null;
            IRetriever? searcher = null;
            GenSearch.Training.Bm25Choice? bm25Parameters = null;
            HashSet<string> docIds;
            HashSet<string>? added = null;
            string tag;
            if (parse.GetValue(fromRun) is { } runIn)
            {
                // A run file is scored as it is: options that shape a search would be silently ignored.
                Option[] searchOnly = [retriever, model, hnsw, beam.Beam, beam.SteeredLevels, beam.SketchDirections, fusion, rerank, addItems, k1, b, stop, noStem];
                var given = searchOnly.Where(option => parse.GetResult(option) is { Implicit: false }).Select(option => option.Name).ToArray();
                if (given.Length > 0) throw new CliException($"--from-run scores the run file as it is; {string.Join(", ", given)} shape{(given.Length == 1 ? "s" : "")} a search and cannot apply to it");
                docIds = set.Corpus().Select(d => d.Id).ToHashSet(StringComparer.Ordinal);
                tag = TrecRun.Tag(Path.GetFileNameWithoutExtension(runIn));
            }
            else
            {
                var bm25Options = new Bm25Options { RemoveStopWords = parse.GetValue(stop), Stem = !parse.GetValue(noStem) };
                (searcher, index, bm25Parameters) = CliSupport.OpenRetriever(set, parse.GetValue(retriever), parse.GetValue(model), bm25Options,
                    beam.Apply(parse, new ModelOpenOptions { Hnsw = parse.GetValue(hnsw) }), parse.GetValue(k1), parse.GetValue(b),
                    parse.GetValue(rerank), parse.GetValue(rerankDepth), parse.GetValue(fusion));
                docIds = set.Corpus().Select(d => d.Id).ToHashSet(StringComparer.Ordinal);
                tag = searcher.Name;
                if (parse.GetValue(addItems) is { } itemsPath)
                {
                    if (searcher is not IUpdatableRetriever live) throw new CliException($"--add-items: the {searcher.Name} retriever cannot take catalog changes");
                    var items = BeirReader.ReadCorpus(itemsPath).ToArray();
                    var sw = Stopwatch.StartNew();
                    var change = live.Upsert(items);
                    CliSupport.Note($"added {change.Added:N0} items and replaced {change.Replaced:N0} from {itemsPath} in {sw.Elapsed.TotalSeconds:F1} s");
                    added = items.Select(d => d.Id).ToHashSet(StringComparer.Ordinal);
                    docIds.UnionWith(added);
                }
            }

            string? excludeSplit = parse.GetValue(excludeJudged);
            var excluded = CliSupport.JudgedIn(set, excludeSplit, splitName);
            var qrels = set.Qrels(splitName, queries.Keys.ToHashSet(StringComparer.Ordinal), docIds, CliSupport.Note).Qrels;
            var searched = qrels.QueryIds.ToArray(); // every judged query is searched, so the run written is whole
            if (excluded is not null) qrels = qrels.Without(excluded);
            if (qrels.QueryCount == 0) throw new CliException($"{set.QrelsPath(splitName)}: no judgments left to evaluate");
            var blank = qrels.QueryIds.Where(id => string.IsNullOrWhiteSpace(queries[id].Text)).ToArray();
            if (blank.Length > 0)
                CliSupport.Note($"warning: {blank.Length:N0} judged quer{(blank.Length == 1 ? "y has" : "ies have")} no text in {set.QueriesPath} (first: '{blank[0]}'); " +
                                "scored as given: BM25 finds nothing for them, a model answers from its context alone (search refuses an empty query)");
            var evalOptions = set.EvaluationOptions(parse.GetValue(threshold));
            int minGrade = evalOptions.RelevanceThreshold;
            CliSupport.Note($"relevant: grade >= {minGrade} of {set.Grades} ({set.Manifest.Source})");
            if (topK < evalOptions.Cutoffs.Max()) CliSupport.Note($"note: --k {topK} is below the largest cut-off {evalOptions.Cutoffs.Max()}");

            Run result;
            if (searcher == null) result = TrecRun.Read(parse.GetValue(fromRun)!);
            else
            {
                var batch = searched.Select(id => queries[id]).ToArray();
                var sw = Stopwatch.StartNew();
                result = CliSupport.WithProgress($"searching {batch.Length:N0} queries", batch.Length,
                    progress => RetrieverRuns.Search(searcher, batch, topK, progress: done => progress(done)));
                CliSupport.Note($"searched {batch.Length:N0} queries in {sw.Elapsed.TotalSeconds:F2} s ({batch.Length / sw.Elapsed.TotalSeconds:N0} queries/s)");
            }

            var segmentations = Segmentations(set, splitName, qrels, queries, minGrade, parse.GetValue(seenSplit)!);
            if (added is not null)
                segmentations.Insert(0, new QuerySegmentation("relevant items added after training (--add-items)", qid =>
                {
                    var relevant = qrels.For(qid).Where(kv => kv.Value >= minGrade).Select(kv => kv.Key).ToArray();
                    int n = relevant.Count(added.Contains);
                    return n == relevant.Length ? "all added" : n == 0 ? "none added" : "some added";
                }));
            foreach (var warning in RunCheck.Check(qrels, result, docIds.Contains).Warnings) CliSupport.Note("warning: " + warning);
            // The run written (--run) is the search as it came; only the scoring leaves the excluded items out.
            var scored = excluded is null ? result : result.Without(excluded);
            if (excluded is not null && scored.MeanDepth < evalOptions.Cutoffs.Max())
                CliSupport.Note($"note: after the exclusion the run keeps {scored.MeanDepth:F1} results a query on average, fewer than the cut-off " +
                                $"{evalOptions.Cutoffs.Max()}: deep metrics read shorter lists; search deeper (--k), and compare runs with compare --exclude-judged-in (equal depths)");
            if (excluded is not null && qrels.QueryIds.Count(id => result.For(id).Count > 0 && scored.For(id).Count == 0) is var emptied and > 0)
                CliSupport.Note($"note: {emptied:N0} queries had only excluded results; they count among those with no results");
            var evaluation = Evaluator.Evaluate(qrels, scored, evalOptions, segmentations);
            if (evaluation.Queries == 0)
                throw new CliException($"{set.QrelsPath(splitName)}: no judged query has an item graded {minGrade} or more ({set.Manifest.Source}): nothing to score");
            string title = $"{tag} on {Path.GetFileName(Path.GetFullPath(set.Directory).TrimEnd('/'))} {splitName}" +
                           (excludeSplit is null ? "" : $", items judged in {excludeSplit} excluded");
            var markdown = Report.Markdown(evaluation, title);
            Console.Write(markdown);

            if (parse.GetValue(run) is { } runOut) { TrecRun.Write(result, runOut, tag); CliSupport.Note($"run written to {runOut}"); }
            if (reportPath != null)
            {
                var meta = new Dictionary<string, string> { ["retriever"] = tag, ["data"] = set.Directory, ["split"] = splitName };
                if (excludeSplit is not null) meta["excluded_judged_in"] = excludeSplit;
                if (index != null) { meta["k1"] = index.Options.K1.ToString(CultureInfo.InvariantCulture); meta["b"] = index.Options.B.ToString(CultureInfo.InvariantCulture); meta["bm25_parameters"] = bm25Parameters?.Source ?? ""; }
                Report.Write(evaluation, reportPath, title, meta);
                CliSupport.Note($"report written to {reportPath}");
            }
            return 0;
        }));
        return command;
    }

    /// <summary>
    /// The breakdowns: whether a query's relevant items are relevant to some training query (seen),
    /// how often the query text occurs in the training log (interactions, else the train split's
    /// queries), and the query's length in words.
    /// </summary>
    private static List<QuerySegmentation> Segmentations(BeirDataset set, string split, Qrels qrels, Dictionary<string, Query> queries, int threshold, string seenSplit = "train")
    {
        var result = new List<QuerySegmentation>();
        if (seenSplit != "train" && split != seenSplit)
        {
            if (!File.Exists(set.QrelsPath(seenSplit))) throw new CliException($"--seen-split {seenSplit}: {set.QrelsPath(seenSplit)} does not exist");
            var seenQrels = set.Qrels(seenSplit).Qrels;
            var seenHere = seenQrels.QueryIds.SelectMany(q => seenQrels.For(q).Where(kv => kv.Value >= threshold).Select(kv => kv.Key)).ToHashSet(StringComparer.Ordinal);
            result.Add(new QuerySegmentation($"relevant items seen in {seenSplit}", qid =>
            {
                var relevant = qrels.For(qid).Where(kv => kv.Value >= threshold).Select(kv => kv.Key).ToArray();
                int n = relevant.Count(seenHere.Contains);
                return n == relevant.Length ? "all seen" : n == 0 ? "none seen" : "some seen";
            }));
        }
        if (split != "train" && File.Exists(set.QrelsPath("train")))
        {
            var train = set.Qrels("train").Qrels;
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var q in train.QueryIds)
                foreach (var (doc, grade) in train.For(q))
                    if (grade >= threshold) seen.Add(doc);
            result.Add(new QuerySegmentation("relevant items seen in training", qid =>
            {
                var relevant = qrels.For(qid).Where(kv => kv.Value >= threshold).Select(kv => kv.Key).ToArray();
                int n = relevant.Count(seen.Contains);
                return n == relevant.Length ? "all seen" : n == 0 ? "none seen" : "some seen";
            }));

            var frequency = new Dictionary<string, int>(StringComparer.Ordinal);
            IEnumerable<string> log = set.HasInteractions
                ? set.Interactions().Select(i => i.Query)
                : train.QueryIds.Where(queries.ContainsKey).Select(q => queries[q].Text);
            foreach (var text in log) { var key = Key(text); frequency[key] = frequency.GetValueOrDefault(key) + 1; }
            string source = set.HasInteractions ? "interactions" : "train queries";
            result.Add(new QuerySegmentation($"query frequency in {source}", qid =>
                frequency.GetValueOrDefault(Key(queries[qid].Text)) switch { >= 10 => "head (10+)", >= 2 => "torso (2-9)", 1 => "seen once", _ => "unseen" }));
        }
        result.Add(new QuerySegmentation("query length in words", qid =>
            WordSplitter.Words(queries[qid].Text).Count switch { <= 1 => "1", 2 => "2", 3 => "3", _ => "4+" }));
        return result;

        static string Key(string text) => string.Join(' ', WordSplitter.Words(text));
    }
}
