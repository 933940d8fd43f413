using System.CommandLine;
using System.Diagnostics;
using GenSearch.Data;

namespace GenSearch.Cli;

/// <summary>
/// <c>gensearch make-user-log --data DIR --out OUTDIR</c>: writes a generated BEIR directory with users
/// whose right item depends on their history (<see cref="UserLogGenerator"/>) and prints its splits.
/// </summary>
internal static class MakeUserLogCommand
{
    public static Command Create()
    {
        var defaults = new UserLogOptions();
        var data = new Option<string>("--data") { Description = "Source BEIR directory: its catalog, queries and judgments (train and dev splits).", Required = true };
        var output = new Option<string>("--out") { Description = "New BEIR directory to write (must not exist or be empty).", Required = true };
        var users = new Option<int>("--users") { Description = "Train users (one target query each).", DefaultValueFactory = _ => defaults.TrainUsers };
        var devUsers = new Option<int>("--dev-users") { Description = "Dev users, on the source's dev queries.", DefaultValueFactory = _ => defaults.DevUsers };
        var heldOutUsers = new Option<int>("--heldout-users") { Description = "Held-out users, on a tenth of the source's train queries no train user gets.", DefaultValueFactory = _ => defaults.HeldOutUsers };
        var minBrands = new Option<int>("--min-brands") { Description = "Brands a target query's relevant items must span.", DefaultValueFactory = _ => defaults.MinBrands };
        var minHistory = new Option<int>("--min-history") { Description = "Fewest earlier sessions per user.", DefaultValueFactory = _ => defaults.MinHistory };
        var maxHistory = new Option<int>("--max-history") { Description = "Most earlier sessions per user.", DefaultValueFactory = _ => defaults.MaxHistory };
        var seed = new Option<int>("--seed") { Description = "Seed of every draw (same seed and source, same files).", DefaultValueFactory = _ => defaults.Seed };
        var command = new Command("make-user-log", "Generate users with a brand preference over a real catalog: a BEIR directory with interactions.jsonl where the right item depends on the user's history.")
        {
            data, output, users, devUsers, heldOutUsers, minBrands, minHistory, maxHistory, seed,
        };
        command.SetAction(parse => CliSupport.Guard(() =>
        {
            var set = CliSupport.OpenData(parse.GetValue(data));
            CliSupport.Range("--users", parse.GetValue(users), 0, 1_000_000);
            CliSupport.Range("--dev-users", parse.GetValue(devUsers), 0, 1_000_000);
            CliSupport.Range("--heldout-users", parse.GetValue(heldOutUsers), 0, 1_000_000);
            CliSupport.Range("--min-brands", parse.GetValue(minBrands), 2, 100);
            CliSupport.Range("--min-history", parse.GetValue(minHistory), 1, 1_000);
            CliSupport.Range("--max-history", parse.GetValue(maxHistory), parse.GetValue(minHistory), 1_000);
            var options = new UserLogOptions
            {
                TrainUsers = parse.GetValue(users), DevUsers = parse.GetValue(devUsers), HeldOutUsers = parse.GetValue(heldOutUsers),
                MinBrands = parse.GetValue(minBrands), MinHistory = parse.GetValue(minHistory), MaxHistory = parse.GetValue(maxHistory),
                Seed = parse.GetValue(seed),
            };
            if (options.TrainUsers + options.DevUsers + options.HeldOutUsers == 0) throw new CliException("--users, --dev-users and --heldout-users are all 0: nothing to generate");
            string outDir = parse.GetValue(output)!;
            var sw = Stopwatch.StartNew();
            var summary = UserLogGenerator.Generate(set, outDir, options);
            Console.WriteLine($"{summary.BrandedItems:N0} of {summary.Items:N0} items have one of {summary.Brands:N0} brands; {summary.Events:N0} events in interactions.jsonl");
            Console.WriteLine();
            Console.WriteLine("| split | users | target pool | brands per target | oracle HitRate@1 without history | oracle MRR without history | history clicks |");
            Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
            foreach (var s in summary.Splits)
                Console.WriteLine($"| {s.Split} | {s.Users:N0} | {s.Pool:N0} | {s.MeanBrands:F2} | {s.OracleHitAt1:F3} | {s.OracleMrr:F3} | {s.HistoryEvents:N0} |");
            CliSupport.Note($"written to {outDir} in {sw.Elapsed.TotalSeconds:F1} s (generated data: see its README.md)");
            return 0;
        }));
        return command;
    }
}
