using System.Text;
using GenSearch.Data;

namespace GenSearch.Data.Tests;

public sealed class ReaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("gensearch-data-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text, new UTF8Encoding(false));
        return path;
    }

    private string WriteBytes(string name, byte[] bytes)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void Reads_a_corpus_with_optional_fields_blank_lines_and_crlf()
    {
        var path = Write("corpus.jsonl",
            "{\"_id\": \"1\", \"title\": \"Angle\", \"text\": \"\"}\r\n\r\n" +
            "{\"_id\": 2, \"title\": \"Paint\", \"features\": {\"price\": 9.5, \"in_stock\": true}, \"vector\": [0.5, -1], \"extra\": {\"x\": [1]}}\n" +
            "{\"_id\": \"3\", \"text\": \"no title\", \"title\": null}");
        var docs = BeirReader.ReadCorpus(path).ToList();
        Assert.Equal(["1", "2", "3"], docs.Select(d => d.Id));
        Assert.Equal("Paint", docs[1].Title);
        Assert.Equal(9.5, docs[1].Features!["price"]);
        Assert.Equal(1, docs[1].Features!["in_stock"]);
        Assert.Equal([0.5f, -1f], docs[1].Vector!);
        Assert.Equal("", docs[2].Title);
        Assert.Equal("no title", docs[2].Text);
        Assert.Null(docs[0].Features);
    }

    [Theory]
    [InlineData("{\"_id\": \"1\", \"title\": \"a\"}\n{\"_id\": \"2\", \"title\": \"b\"\n", 2, "malformed JSON")]
    [InlineData("{\"_id\": \"1\"}\n{\"title\": \"no id\"}\n", 2, "missing \"_id\"")]
    [InlineData("{\"_id\": \"1\"}\n{\"_id\": \"2\"}\n{\"_id\": \"1\"}\n", 3, "duplicate _id '1'")]
    [InlineData("[1, 2]\n", 1, "expected a JSON object")]
    [InlineData("{\"_id\": \"1\"} {\"_id\": \"2\"}\n", 1, "malformed JSON")]
    [InlineData("{\"_id\": \"\"}\n", 1, "non-empty")]
    [InlineData("{\"_id\": [1]}\n", 1, "must be a string")]
    [InlineData("{\"_id\": \"1\", \"title\": 5, \"text\": {}}\n", 1, "\"text\" must be a string")]
    [InlineData("{\"_id\": \"1\", \"vector\": [1, \"x\"]}\n", 1, "\"vector\"[1]")]
    [InlineData("{\"_id\": \"1\", \"features\": {\"p\": \"cheap\"}}\n", 1, "\"features\".\"p\"")]
    public void Bad_corpus_lines_name_file_line_and_problem(string text, int line, string problem)
    {
        var path = Write("corpus.jsonl", text);
        var e = Assert.Throws<DataFormatException>(() => BeirReader.ReadCorpus(path).ToList());
        Assert.Equal(path, e.File);
        Assert.Equal(line, e.Line);
        Assert.Contains(problem, e.Message);
        Assert.StartsWith($"{path}:{line}: ", e.Message);
    }

    [Fact]
    public void Invalid_utf8_is_reported_with_its_line()
    {
        var bytes = Encoding.UTF8.GetBytes("{\"_id\": \"1\", \"title\": \"ok\"}\n{\"_id\": \"2\", \"title\": \"bad ")
            .Concat(new byte[] { 0xC3, 0x28 }).Concat(Encoding.UTF8.GetBytes("\"}\n")).ToArray();
        var path = WriteBytes("corpus.jsonl", bytes);
        var e = Assert.Throws<DataFormatException>(() => BeirReader.ReadCorpus(path).ToList());
        Assert.Equal(2, e.Line);
        Assert.Contains("invalid UTF-8", e.Message);
    }

    [Fact]
    public void Reading_streams_lazily_so_a_late_error_does_not_stop_early_lines()
    {
        var path = Write("corpus.jsonl", "{\"_id\": \"1\"}\n{\"_id\": \"2\"}\nnot json\n");
        Assert.Equal(["1", "2"], BeirReader.ReadCorpus(path).Take(2).Select(d => d.Id));
    }

    [Fact]
    public void Lines_longer_than_the_buffer_are_read_whole()
    {
        var title = new string('x', 300_000);
        var path = Write("corpus.jsonl", $"{{\"_id\": \"1\", \"title\": \"{title}\"}}\n{{\"_id\": \"2\", \"title\": \"short\"}}");
        var docs = BeirReader.ReadCorpus(path).ToList();
        Assert.Equal(300_000, docs[0].Title.Length);
        Assert.Equal("short", docs[1].Title);
    }

    [Fact]
    public void Queries_need_id_and_text_and_may_carry_a_user()
    {
        var path = Write("queries.jsonl", "{\"_id\": \"q1\", \"text\": \"angle bracket\", \"user\": \"u7\"}\n{\"_id\": \"q2\", \"text\": \"deck\"}\n");
        var queries = BeirReader.ReadQueries(path).ToList();
        Assert.Equal("u7", queries[0].User);
        Assert.Null(queries[1].User);
        var bad = Write("bad.jsonl", "{\"_id\": \"q1\"}\n");
        Assert.Contains("missing \"text\"", Assert.Throws<DataFormatException>(() => BeirReader.ReadQueries(bad).ToList()).Message);
    }

    [Fact]
    public void Qrels_rows_with_unknown_ids_are_warned_counted_and_skipped()
    {
        var path = Write("qrels/dev.tsv", "query-id\tcorpus-id\tscore\nq1\t1\t3\nq9\t1\t2\nq1\t77\t1\nq2\t2\t0\n");
        var warnings = new List<string>();
        var result = BeirReader.ReadQrels(path, q => q is "q1" or "q2", d => d is "1" or "2", warnings.Add);
        Assert.Equal(1, result.UnknownQueryRows);
        Assert.Equal(1, result.UnknownDocRows);
        Assert.Equal(2, result.Qrels.JudgmentCount);
        Assert.Equal(3, result.Qrels.For("q1")["1"]);
        Assert.Contains(warnings, w => w.Contains($"{path}:3: unknown query id 'q9'"));
        Assert.Contains(warnings, w => w.Contains($"{path}:4: unknown corpus id '77'"));
    }

    [Theory]
    [InlineData("query-id\tcorpus-id\tscore\nq1\t1\n", 2, "expected 3")]
    [InlineData("q1\t1\tgood\n", 1, "score 'good'")]
    public void Malformed_qrels_rows_throw_with_line(string text, int line, string problem)
    {
        var path = Write("qrels/dev.tsv", text);
        var e = Assert.Throws<DataFormatException>(() => BeirReader.ReadQrels(path));
        Assert.Equal(line, e.Line);
        Assert.Contains(problem, e.Message);
    }

    [Fact]
    public void Interactions_parse_and_check_required_fields()
    {
        var path = Write("interactions.jsonl",
            "{\"user\": \"u1\", \"query\": \"deck paint\", \"item\": \"100002\", \"ts\": 1700000000, \"signals\": {\"click\": 1, \"watch_s\": 12.5}}\n" +
            "{\"user\": \"u1\", \"query\": \"deck\", \"item\": null, \"ts\": \"2024-01-02T03:04:05Z\"}\n");
        var events = InteractionReader.Read(path).ToList();
        Assert.Equal(12.5, events[0].Signals["watch_s"]);
        Assert.Null(events[1].Item);
        Assert.Equal(1704164645, events[1].Timestamp);
        var bad = Write("bad.jsonl", "{\"query\": \"x\", \"ts\": 1}\n");
        Assert.Equal($"{bad}:1: missing \"user\"", Assert.Throws<DataFormatException>(() => InteractionReader.Read(bad).ToList()).Message);
        var badTs = Write("bad2.jsonl", "{\"user\": \"u\", \"query\": \"x\", \"ts\": \"yesterday\"}\n");
        Assert.Contains("\"ts\"", Assert.Throws<DataFormatException>(() => InteractionReader.Read(badTs).ToList()).Message);
    }

    [Fact]
    public void Opening_a_dataset_checks_the_layout()
    {
        Assert.Contains("data directory not found", Assert.Throws<DataFormatException>(() => BeirDataset.Open(Path.Combine(_dir, "nope"))).Message);
        Assert.Contains("corpus.jsonl", Assert.Throws<DataFormatException>(() => BeirDataset.Open(_dir)).Message);
        Write("corpus.jsonl", "{\"_id\": \"1\", \"title\": \"a\"}\n");
        Write("queries.jsonl", "{\"_id\": \"q1\", \"text\": \"a\"}\n");
        Write("qrels/train.tsv", "q1\t1\t1\n");
        var set = BeirDataset.Open(_dir);
        Assert.Equal(["train"], set.Splits());
        Assert.Contains("known splits: train", Assert.Throws<DataFormatException>(() => set.Qrels("dev")).Message);
        Assert.Equal(1, set.Qrels("train").Qrels.JudgmentCount);
        Assert.Empty(set.Interactions());
    }
}
