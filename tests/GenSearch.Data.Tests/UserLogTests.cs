using System.Text;
using System.Text.Json;
using GenSearch.Data;

namespace GenSearch.Data.Tests;

/// <summary>
/// The user-context generator and <see cref="UserContexts"/>, on a made-up catalog: four brands of 20
/// items each; every train and dev query has one relevant item of each brand, so each is ambiguous.
/// </summary>
public sealed class UserLogTests : IDisposable
{
    private static readonly string[] Brands = ["Acme", "Borex", "Calder Works", "Dunmore"];
    private static readonly string[] Words = ["zorbel", "quint", "farrow", "mellish", "tarn", "glimm", "pordle", "vesk", "ombry", "lask",
        "thrum", "kibble", "sorrel", "wicket", "brume", "caddle", "fennick", "harl", "jessant", "nubb"];
    private readonly string _dir = Directory.CreateTempSubdirectory("gensearch-userlog-").FullName;
    private string Source => Path.Combine(_dir, "source");

    public UserLogTests()
    {
        Directory.CreateDirectory(Path.Combine(Source, "qrels"));
        var corpus = new List<string>();
        for (int b = 0; b < Brands.Length; b++)
            for (int k = 0; k < Words.Length; k++)
                corpus.Add(Json(new() { ["_id"] = Item(b, k), ["title"] = $"{Brands[b]} {Words[(k + b) % Words.Length]} gadget {k}", ["text"] = "" }));
        corpus.Add(Json(new() { ["_id"] = "plain", ["title"] = "1/2 in. plain gadget", ["text"] = "" }));
        File.WriteAllLines(Path.Combine(Source, "corpus.jsonl"), corpus);
        var queries = new List<string>();
        foreach (var (split, count) in new[] { ("train", 100), ("dev", 20) })
        {
            var rows = new List<string> { "query-id\tcorpus-id\tscore" };
            for (int q = 0; q < count; q++)
            {
                string id = $"{split[0]}{q:D3}";
                queries.Add(Json(new() { ["_id"] = id, ["text"] = $"gadget {Words[q % Words.Length]} {q}" }));
                for (int b = 0; b < Brands.Length; b++) rows.Add($"{id}\t{Item(b, (q * 7 + b) % Words.Length)}\t{3 + (q + b) % 2}");
                rows.Add($"{id}\tplain\t1");
            }
            File.WriteAllLines(Path.Combine(Source, "qrels", split + ".tsv"), rows);
        }
        File.WriteAllLines(Path.Combine(Source, "queries.jsonl"), queries);
        File.WriteAllText(Path.Combine(Source, "dataset.json"), "{\"relevance_threshold\": 3, \"grades\": [0, 4]}");
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Item(int brand, int k) => $"{brand}{k:D2}";

    private static string Json(Dictionary<string, object> fields) => JsonSerializer.Serialize(fields);

    private static readonly UserLogOptions Small = new() { TrainUsers = 60, HeldOutUsers = 8, DevUsers = 30 };

    private string Generate(string name, UserLogOptions? options = null)
    {
        string outDir = Path.Combine(_dir, name);
        UserLogGenerator.Generate(BeirDataset.Open(Source), outDir, options ?? Small);
        return outDir;
    }

    private static readonly string[] Files =
        ["queries.jsonl", "interactions.jsonl", "qrels/train.tsv", "qrels/heldout.tsv", "qrels/dev.tsv", "dataset.json", "README.md"];

    [Fact]
    public void The_same_seed_gives_the_same_files_and_another_seed_other_users()
    {
        string a = Generate("a"), b = Generate("b"), c = Generate("c", Small with { Seed = 7 });
        foreach (var file in Files)
            Assert.Equal(File.ReadAllBytes(Path.Combine(a, file)), File.ReadAllBytes(Path.Combine(b, file)));
        Assert.NotEqual(File.ReadAllBytes(Path.Combine(a, "interactions.jsonl")), File.ReadAllBytes(Path.Combine(c, "interactions.jsonl")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(Source, "corpus.jsonl")), File.ReadAllBytes(Path.Combine(a, "corpus.jsonl")));
        Assert.Contains("GENERATED", File.ReadAllText(Path.Combine(a, "README.md")));
    }

    [Fact]
    public void A_splits_users_do_not_change_when_another_split_grows()
    {
        string a = Generate("a"), b = Generate("b", Small with { TrainUsers = 90 });
        Assert.Equal(File.ReadAllBytes(Path.Combine(a, "qrels/dev.tsv")), File.ReadAllBytes(Path.Combine(b, "qrels/dev.tsv")));
    }

    [Fact]
    public void Every_relevant_item_is_of_the_users_brand_and_the_others_brands_are_judged_below_relevance()
    {
        var set = BeirDataset.Open(Generate("out"));
        var brandOf = BrandOf(set);
        var queries = set.Queries().ToDictionary(q => q.Id);
        foreach (var split in new[] { "train", "heldout", "dev" })
        {
            var qrels = set.Qrels(split).Qrels;
            Assert.Equal(split == "train" ? 60 : split == "dev" ? 30 : 8, qrels.QueryCount);
            foreach (var id in qrels.QueryIds)
            {
                var q = queries[id];
                Assert.StartsWith(split + "-", q.User);
                Assert.StartsWith(q.User + "-", q.Id);
                // The user's brand: the one every clicked item of their history has.
                var historyBrands = q.Context!.Where(c => c.StartsWith("i:")).Select(c => brandOf[c[2..]]).Distinct().ToList();
                Assert.Single(historyBrands);
                var judged = qrels.For(id);
                var relevant = judged.Where(kv => kv.Value >= 3).Select(kv => kv.Key).ToList();
                Assert.NotEmpty(relevant);
                Assert.All(relevant, item => Assert.Equal(historyBrands[0], brandOf[item]));
                // Without the history the query is ambiguous: items of every brand are judged, only one brand relevant.
                Assert.Equal(Brands.Length, judged.Keys.Where(k => k != "plain").Select(k => brandOf[k]).Distinct().Count());
                Assert.All(judged.Where(kv => brandOf[kv.Key] != historyBrands[0]), kv => Assert.True(kv.Value <= 1));
                Assert.DoesNotContain(q.Context!, c => c.StartsWith("i:") && judged.ContainsKey(c[2..]));
            }
        }
    }

    [Fact]
    public void History_is_strictly_earlier_than_the_query_and_held_out_and_dev_targets_are_not_in_the_log()
    {
        var set = BeirDataset.Open(Generate("out"));
        var queries = set.Queries().ToList();
        var log = set.Interactions().ToList();
        foreach (var q in queries)
        {
            var events = log.Where(e => e.User == q.User).ToList();
            var earlier = events.Where(e => e.Timestamp < q.Timestamp).ToList();
            Assert.InRange(earlier.Count, Small.MinHistory, Small.MaxHistory);
            Assert.Equal(earlier.Count, q.Context!.Count(c => c.StartsWith("i:")));
            var later = events.Where(e => e.Timestamp >= q.Timestamp).ToList();
            if (q.User!.StartsWith("train-"))
            {
                // The train user's own target click, at the query's time: never part of its context.
                var click = Assert.Single(later);
                Assert.Equal(q.Text, click.Query);
                Assert.Equal(q.Timestamp, click.Timestamp);
                Assert.DoesNotContain("i:" + click.Item, q.Context!);
            }
            else Assert.Empty(later);
        }
    }

    [Fact]
    public void Brand_keys_extend_a_prefix_only_while_most_titles_go_on_with_the_same_word()
    {
        string[] titles = ["Hampton Bay Fan", "Hampton Bay Lamp", "Hampton Bay Shade", "Hampton Bay Rug", "Hampton Bay Fan Kit",
            "Delta Vero Faucet", "Delta Leland Faucet", "Delta Arzo Trim", "1/2 in. Tee", ""];
        Assert.Equal(["Hampton Bay", "Hampton Bay", "Hampton Bay", "Hampton Bay", "Hampton Bay", "Delta", "Delta", "Delta", "-", "-"],
            BrandKeys.Of(titles).Select(b => b ?? "-"));
        Assert.True(BrandKeys.Mentions("DELTA shower faucet", "Delta"));
        Assert.True(BrandKeys.Mentions("hampton ceiling fan", "Hampton Bay"));
        Assert.False(BrandKeys.Mentions("deltas", "Delta"));
    }

    [Fact]
    public void Refuses_a_non_empty_output_and_the_source_itself_and_leaves_no_partial_directory()
    {
        string outDir = Path.Combine(_dir, "full");
        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(outDir, "keep.txt"), "x");
        Assert.Throws<IOException>(() => UserLogGenerator.Generate(BeirDataset.Open(Source), outDir, Small));
        Assert.Equal("x", File.ReadAllText(Path.Combine(outDir, "keep.txt")));
        Assert.Throws<IOException>(() => UserLogGenerator.Generate(BeirDataset.Open(Source), Source, Small));
        string none = Path.Combine(_dir, "none");
        var e = Assert.Throws<InvalidDataException>(() => UserLogGenerator.Generate(BeirDataset.Open(Source), none, Small with { MinBrands = 5 }));
        Assert.Contains("no train target queries", e.Message);
        Assert.Empty(Directory.GetFileSystemEntries(_dir, "none*"));
    }

    private static Dictionary<string, string?> BrandOf(BeirDataset set)
    {
        var docs = set.Corpus().ToList();
        var brands = BrandKeys.Of(docs.Select(d => d.Title).ToList());
        return docs.Select((d, i) => (d.Id, Brand: brands[i])).ToDictionary(x => x.Id, x => x.Brand);
    }

    // ---- UserContexts on hand-made logs ----

    private static Interaction Event(string user, string query, string? item, double ts) => new(user, query, item, ts, new Dictionary<string, double>());

    [Fact]
    public void Context_is_the_users_earlier_events_oldest_first_tagged_and_cut_to_the_latest()
    {
        Interaction[] log =
        [
            Event("u1", "drill", "d1", 30), Event("u2", "saw", "s1", 5), Event("u1", "hose", "h1", 10),
            Event("u1", "hose", "h2", 10), Event("u1", "hose", null, 20), Event("u1", "fan", "f1", 50), Event("u1", "lamp", "l1", 40),
        ];
        Query[] queries =
        [
            new("a", "x") { User = "u1", Timestamp = 40 },   // strictly before 40: hose h1, hose h2, hose (no click), drill d1
            new("b", "x") { User = "u1", Timestamp = 10 },   // nothing is strictly before 10
            new("c", "x") { User = "u1" },                   // no time: now, every event
            new("d", "x"),                                   // no user: unchanged
            new("e", "x") { User = "u3", Timestamp = 99 },   // a user without events: known to have none
        ];
        var result = UserContexts.Attach(queries, log);
        Assert.Equal(["q:hose", "i:h1", "i:h2", "q:drill", "i:d1"], result[0].Context!);
        Assert.Empty(result[1].Context!);
        Assert.Equal(["q:hose", "i:h1", "i:h2", "q:drill", "i:d1", "q:lamp", "i:l1", "q:fan", "i:f1"], result[2].Context!);
        Assert.Null(result[3].Context);
        Assert.Same(queries[3], result[3]);
        Assert.Empty(result[4].Context!);

        var latestTwo = UserContexts.Attach(queries, log, maxEvents: 2);
        Assert.Equal(["q:hose", "q:drill", "i:d1"], latestTwo[0].Context!); // the third hose event, then drill
        Assert.Throws<ArgumentOutOfRangeException>(() => UserContexts.Attach(queries, log, maxEvents: 0));
    }

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text, new UTF8Encoding(false));
        return path;
    }

    [Fact]
    public void A_data_set_without_a_log_reads_as_before_and_one_with_a_log_gets_contexts()
    {
        Write("set/corpus.jsonl", "{\"_id\": \"d1\", \"title\": \"drill\"}\n");
        Write("set/queries.jsonl", "{\"_id\": \"q1\", \"text\": \"drill\", \"user\": \"u1\", \"ts\": \"2026-01-02T00:00:00Z\"}\n{\"_id\": \"q2\", \"text\": \"saw\"}\n");
        var set = BeirDataset.Open(Path.Combine(_dir, "set"));
        var plain = set.Queries().ToList();
        Assert.All(plain, q => Assert.Null(q.Context));
        Assert.Equal(1_767_312_000, plain[0].Timestamp);

        Write("set/interactions.jsonl",
            "{\"user\": \"u1\", \"query\": \"bit\", \"item\": \"d1\", \"ts\": \"2026-01-01T00:00:00Z\", \"signals\": {\"click\": 1}}\n" +
            "{\"user\": \"u1\", \"query\": \"later\", \"item\": \"d1\", \"ts\": 1767312000}\n");
        var withLog = set.Queries().ToList();
        Assert.Equal(["q:bit", "i:d1"], withLog[0].Context!);
        Assert.Null(withLog[1].Context);
    }

    [Theory]
    [InlineData("{\"user\": \"u1\", \"query\": \"a\", \"ts\": 1}\n{\"user\": \"u1\", \"query\": \"b\"}\n", 2, "missing \"ts\"")]
    [InlineData("{\"user\": \"u1\", \"query\": \"a\", \"ts\": 1}\n\n{\"user\": \"u1\", \"query\": \"b\", \"ts\": \"soon\"}\n", 3, "\"ts\" must be epoch seconds")]
    [InlineData("{\"query\": \"a\", \"ts\": 1}\n", 1, "missing \"user\"")]
    [InlineData("{\"user\": \"u1\", \"query\": \"a\", \"ts\": 1, \"signals\": {\"click\": \"yes\"}}\n", 1, "\"signals\".\"click\"")]
    [InlineData("{\"user\": \"u1\", \"query\": \"a\", \"ts\": 1\n", 1, "malformed JSON")]
    public void A_malformed_log_fails_reading_the_queries_with_file_and_line(string log, int line, string problem)
    {
        Write("set/corpus.jsonl", "{\"_id\": \"d1\", \"title\": \"drill\"}\n");
        Write("set/queries.jsonl", "{\"_id\": \"q1\", \"text\": \"drill\", \"user\": \"u1\", \"ts\": 5}\n");
        string path = Write("set/interactions.jsonl", log);
        var e = Assert.Throws<DataFormatException>(() => BeirDataset.Open(Path.Combine(_dir, "set")).Queries().ToList());
        Assert.Equal(path, e.File);
        Assert.Equal(line, e.Line);
        Assert.Contains(problem, e.Problem);
    }

    [Fact]
    public void A_bad_query_time_names_file_and_line()
    {
        string path = Write("queries.jsonl", "{\"_id\": \"q1\", \"text\": \"a\", \"ts\": 1}\n{\"_id\": \"q2\", \"text\": \"b\", \"ts\": [1]}\n");
        var e = Assert.Throws<DataFormatException>(() => BeirReader.ReadQueries(path).ToList());
        Assert.Equal((path, 2L), (e.File, e.Line));
        Assert.Contains("\"ts\"", e.Problem);
    }
}
