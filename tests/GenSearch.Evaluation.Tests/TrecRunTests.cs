using GenSearch.Evaluation;

namespace GenSearch.Evaluation.Tests;

public class TrecRunTests
{
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
    [InlineData("q Q0 a 1 1 t\nq Q0 a 2 0.5 t\n", 2, "listed twice")]
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
}
