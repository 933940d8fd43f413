using System.Text;
using GenSearch.Evaluation;

namespace GenSearch.Evaluation.Tests;

public sealed class TrecRunTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("gensearch run ").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Run Sample()
    {
        var run = new Run();
        run.Set("q1", [new("d1", 2.5), new("d2", 1.25)]);
        return run;
    }

    [Fact]
    public void Write_then_read_round_trips()
    {
        var run = new Run();
        run.Set("q1", [new("d1", 2.5), new("d2", 1.25)]);
        run.Set("q2", [new("d3", -0.5)]);
        var writer = new StringWriter();
        TrecRun.Write(run, writer, "bm25");
        Assert.Equal("q1 Q0 d1 1 2.5 bm25\nq1 Q0 d2 2 1.25 bm25\nq2 Q0 d3 1 -0.5 bm25\n", writer.ToString().Replace("\r\n", "\n"));
        var back = TrecRun.Read(new StringReader(writer.ToString()), "mem");
        Assert.Equal(run.For("q1"), back.For("q1"));
        Assert.Equal(run.For("q2"), back.For("q2"));
    }

    [Fact]
    public void Reading_orders_by_score_then_rank()
    {
        var run = TrecRun.Read(new StringReader("q Q0 a 3 1.0 t\nq Q0 b 1 2.0 t\n\nq Q0 c 2 1.0 t\n"), "mem");
        Assert.Equal(["b", "c", "a"], run.For("q").Select(d => d.DocId));
    }

    [Theory]
    [InlineData("q Q0 a 1 1.0\n", 1, "expected 6 fields")]
    [InlineData("q Q0 a 1 1.0 t\nq Q0 b x 1.0 t\n", 2, "rank 'x'")]
    [InlineData("q Q0 a 1 nan t\n", 1, "score 'nan'")]
    [InlineData("q Q0 a 1 1 t\nq Q0 a 2 0.5 t\n", 2, "listed twice for query 'q' (first at line 1)")]
    [InlineData("q Q0 a 1 1.0 my tag\n", 1, "expected 6 fields")]
    [InlineData("q Q0 a 1 1e999 t\n", 1, "score '1e999' is not a finite number")]
    [InlineData("q Q0 a\u0001 1 1.0 t\n", 1, "control character")]
    [InlineData("", 1, "no results: the run is empty")]
    [InlineData("\n \n", 1, "no results: the run is empty")]
    public void Malformed_lines_name_file_and_line(string text, int line, string problem)
    {
        var e = Assert.Throws<EvaluationFormatException>(() => TrecRun.Read(new StringReader(text), "run.trec"));
        Assert.Equal(line, e.Line);
        Assert.StartsWith($"run.trec:{line}: ", e.Message);
        Assert.Contains(problem, e.Message);
    }

    [Fact]
    public void Tags_must_be_one_word() =>
        Assert.Throws<ArgumentException>(() => TrecRun.Write(new Run(), new StringWriter(), "two words"));

    [Fact]
    public void Run_files_whose_names_have_spaces_write_and_read_back()
    {
        var path = Path.Combine(_dir, "my run.trec");
        string tag = TrecRun.Tag(Path.GetFileNameWithoutExtension(path));
        Assert.Equal("my_run", tag);
        TrecRun.Write(Sample(), path, tag);
        Assert.Equal("q1 Q0 d1 1 2.5 my_run", File.ReadLines(path).First());
        Assert.Equal(Sample().For("q1"), TrecRun.Read(path).For("q1"));
        Assert.Equal("run", TrecRun.Tag(""));
        Assert.Equal("a_b_c", TrecRun.Tag("a\tb\nc"));
    }

    [Fact]
    public void A_failed_write_leaves_no_file()
    {
        var path = Path.Combine(_dir, "out.trec");
        Assert.Throws<ArgumentException>(() => TrecRun.Write(Sample(), path, "two words"));
        Assert.False(File.Exists(path));
        var bad = new Run();
        bad.Set("q1", [new("d 1", 1)]);
        Assert.Contains("document id 'd 1'", Assert.Throws<ArgumentException>(() => TrecRun.Write(bad, path, "t")).Message);
        Assert.False(File.Exists(path));
        bad.Set("q1", [new("d1", double.NaN)]);
        Assert.Throws<ArgumentException>(() => TrecRun.Write(bad, path, "t"));
        Assert.False(File.Exists(path));
        Assert.Empty(Directory.GetFiles(_dir));
    }

    [Fact]
    public void A_failed_write_keeps_the_run_that_was_there()
    {
        var path = Path.Combine(_dir, "out.trec");
        TrecRun.Write(Sample(), path, "first");
        var bad = new Run();
        bad.Set("q 1", [new("d1", 1)]);
        Assert.Throws<ArgumentException>(() => TrecRun.Write(bad, path, "second"));
        Assert.EndsWith(" first", File.ReadLines(path).First());
        Assert.Equal([path], Directory.GetFiles(_dir));
    }

    [Fact]
    public void Invalid_utf8_is_reported_at_its_own_line_after_long_lines()
    {
        var path = Path.Combine(_dir, "run.trec");
        var ok = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(0, 200).Select(i => $"q1 Q0 doc{i:D5}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx {i + 1} {1000 - i} tag\n")));
        File.WriteAllBytes(path, [.. ok, .. "q1 Q0 bad"u8.ToArray(), 0xFF, .. " 201 1 tag\n"u8.ToArray()]);
        var e = Assert.Throws<EvaluationFormatException>(() => TrecRun.Read(path));
        Assert.Equal($"{path}:201: invalid UTF-8", e.Message);
    }

    [Fact]
    public void A_missing_run_file_is_a_format_error_naming_it()
    {
        var path = Path.Combine(_dir, "none.trec");
        Assert.Equal($"{path}: file not found", Assert.Throws<EvaluationFormatException>(() => TrecRun.Read(path)).Message);
    }
}
