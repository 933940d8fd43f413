using System.CommandLine;
using GenSearch.Serving;

namespace GenSearch.Cli;

/// <summary>
/// <c>gensearch beam-survival --data DIR --split dev --model DIR [--beam 100]</c>: for a unified model,
/// the share of relevant items whose ID prefix survives each level of the beam, the share returned,
/// and how that compares with the same model's dense top 100.
/// </summary>
internal static class BeamSurvivalCommand
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "BEIR directory.", Required = true };
        var split = new Option<string>("--split") { Description = "Which qrels (qrels/<split>.tsv).", DefaultValueFactory = _ => "dev" };
        var model = new Option<string>("--model") { Description = "A unified model directory.", Required = true };
        var beam = new BeamOptions("Beams per level (default: the model's).");
        var command = new Command("beam-survival", "Unified model: where relevant items leave the beam, level by level, against the same model's dense top 100.")
        {
            data, split, model,
        };
        beam.AddTo(command);
        command.SetAction(parse => CliSupport.Guard(() =>
        {
            var set = CliSupport.OpenData(parse.GetValue(data));
            var open = beam.Apply(parse, new ModelOpenOptions());
            var dir = new ModelDirectory(parse.GetValue(model)!);
            if (ModelFormats.KindOf(dir) != UnifiedFormat.Name) throw new CliException($"{dir.ConfigPath}: a {ModelFormats.KindOf(dir)} model; beam survival is measured on {UnifiedFormat.Name} models");
            var retriever = UnifiedFormat.OpenGenerative(dir, open);
            var queries = set.Queries().ToDictionary(q => q.Id, StringComparer.Ordinal);
            var qrels = set.Qrels(parse.GetValue(split)!, queries.Keys.ToHashSet(StringComparer.Ordinal), null, CliSupport.Note).Qrels;
            int threshold = set.RelevanceThreshold;
            var judged = qrels.QueryIds.Order(StringComparer.Ordinal)
                .Select(id => (Query: queries[id], Relevant: (IReadOnlyCollection<string>)qrels.For(id).Where(kv => kv.Value >= threshold).Select(kv => kv.Key).ToArray()))
                .Where(x => x.Relevant.Count > 0).ToArray();
            if (judged.Length == 0) throw new CliException($"{set.QrelsPath(parse.GetValue(split)!)}: no query has an item graded {threshold} or more");
            CliSupport.Note($"measuring {judged.Length:N0} queries");
            var report = BeamSurvivalReport.Measure(retriever, judged.Select(x => x.Query).ToArray(), judged.Select(x => x.Relevant).ToArray(),
                open.BeamSize ?? retriever.BeamSize);
            Console.WriteLine(report.ToTable());
            return 0;
        }));
        return command;
    }
}
