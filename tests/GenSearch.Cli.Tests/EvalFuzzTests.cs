using System.Text;

namespace GenSearch.Cli.Tests;

/// <summary>
/// `gensearch eval` end to end over mutated data files: every outcome is a clean exit (0), or exit 1
/// with a one-line error that names the damaged file (with its line where the damage is in a line);
/// never an internal error (70), an exception or a stack trace. Which mutations must be detected, and
/// that harmless ones change nothing, is checked reader by reader in GenSearch.Fuzz.Tests.
/// </summary>
public class EvalFuzzTests
{
    private const int Cases = 240;

    [Fact]
    public void EveryMutationOfTheDataEndsCleanly()
    {
        string root = Directory.CreateTempSubdirectory("gensearch-evalfuzz").FullName;
        try
        {
            var rng = new Random(20261130);
            string[] files = ["corpus.jsonl", "queries.jsonl", Path.Combine("qrels", "dev.tsv"), "run.trec"];
            var outcomes = new Dictionary<int, int>();
            for (int c = 0; c < Cases; c++)
            {
                string dir = Path.Combine(root, $"case{c}");
                Write(dir);
                string file = files[rng.Next(files.Length)];
                string path = Path.Combine(dir, file);
                File.WriteAllBytes(path, Mutate(File.ReadAllBytes(path), rng));
                string[] args = file == "run.trec"
                    ? ["eval", "--data", dir, "--from-run", path, "--report", Path.Combine(dir, "r.json")]
                    : ["eval", "--data", dir, "--report", Path.Combine(dir, "r.json")];
                var (code, _, stderr) = Run(args);
                outcomes[code] = outcomes.GetValueOrDefault(code) + 1;
                Assert.True(code is 0 or 1, $"case {c} ({file}): exit {code}\n{stderr}");
                Assert.DoesNotContain("   at ", stderr);
                if (code == 1)
                {
                    string error = stderr.Split('\n').Last(l => l.StartsWith("gensearch: error: ", StringComparison.Ordinal));
                    Assert.True(error.Contains(dir), $"case {c} ({file}): the error names no file of the data: {error}");
                }
                else Assert.True(File.Exists(Path.Combine(dir, "r.json")), $"case {c}: exit 0 without a report");
                Directory.Delete(dir, recursive: true);
            }
            Assert.True(outcomes.GetValueOrDefault(1) > Cases / 10, $"too few mutations detected: {string.Join(", ", outcomes)}");
        }
        finally { Directory.Delete(root, recursive: true); }
    }

    private static void Write(string dir)
    {
        Directory.CreateDirectory(Path.Combine(dir, "qrels"));
        string[] things = ["drill", "hose", "fan", "screws", "stain", "bulb"];
        File.WriteAllLines(Path.Combine(dir, "corpus.jsonl"), things.Select((t, i) => $"{{\"_id\": \"d{i}\", \"title\": \"red {t} for home\", \"text\": \"a {t}\"}}"));
        File.WriteAllLines(Path.Combine(dir, "queries.jsonl"), things.Select((t, i) => $"{{\"_id\": \"q{i}\", \"text\": \"red {t}\"}}"));
        File.WriteAllLines(Path.Combine(dir, "qrels", "dev.tsv"), ["query-id\tcorpus-id\tscore", .. things.Select((_, i) => $"q{i}\td{i}\t1")]);
        File.WriteAllLines(Path.Combine(dir, "run.trec"), things.Select((_, i) => $"q{i} Q0 d{i} 1 1.5 t"));
    }

    private static byte[] Mutate(byte[] bytes, Random rng)
    {
        var list = new List<byte>(bytes);
        int at = rng.Next(Math.Max(1, list.Count));
        switch (rng.Next(8))
        {
            case 0: return [.. list.Take(at)];                                                     // truncated
            case 1: if (list.Count > 0) list[at] = (byte)rng.Next(256); break;                     // a byte changed
            case 2: list.InsertRange(at, new byte[] { 0xC3, 0x28 }); break;                        // invalid UTF-8
            case 3: list.InsertRange(at, Encoding.UTF8.GetBytes("\\ud800")); break;               // a lone surrogate escape
            case 4: list.InsertRange(at, Encoding.UTF8.GetBytes(new string('x', 200_000))); break; // a huge field
            case 5:                                                                                 // a line repeated, or repeated with another value
                var lines = Encoding.UTF8.GetString(bytes).Split('\n').Where(l => l.Length > 0).ToList();
                string line = lines[rng.Next(lines.Count)];
                string copy = rng.Next(2) == 0 ? line : line.Replace("1", "3");
                return Encoding.UTF8.GetBytes(string.Join('\n', lines.Append(copy)) + "\n");
            case 6: list.InsertRange(at, "\r\n\t \"{}[],:"u8.ToArray().Skip(rng.Next(10)).Take(2)); break; // stray syntax
            default: return [];                                                                    // emptied
        }
        return [.. list];
    }

    private static (int Code, string Out, string Err) Run(string[] args)
    {
        var (oldOut, oldErr) = (Console.Out, Console.Error);
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        Console.SetOut(stdout); Console.SetError(stderr);
        try { return (Commands.Run(args), stdout.ToString(), stderr.ToString()); }
        finally { Console.SetOut(oldOut); Console.SetError(oldErr); }
    }
}
