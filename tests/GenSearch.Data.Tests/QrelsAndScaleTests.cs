using System.Text;
using GenSearch.Data;
using GenSearch.Evaluation;

namespace GenSearch.Data.Tests;

/// <summary>
/// The checks that keep a wrong answer from passing silently: lone surrogate escapes, empty files,
/// grades outside the data set's scale, duplicate and conflicting judgments, and where the scale
/// (relevance threshold and grade range) of a data set comes from.
/// </summary>
public sealed class QrelsAndScaleTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("gensearch-scale-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Write(string name, string text)
    {
        var path = Path.Combine(_root, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text, new UTF8Encoding(false));
        return path;
    }

    /// <summary>A BEIR directory called <paramref name="name"/> with two documents, two queries and the given dev qrels.</summary>
    private string Beir(string name, string devQrels, string? datasetJson = null)
    {
        Write($"{name}/corpus.jsonl", "{\"_id\": \"d1\", \"title\": \"a\"}\n{\"_id\": \"d2\", \"title\": \"b\"}\n");
        Write($"{name}/queries.jsonl", "{\"_id\": \"q1\", \"text\": \"a\"}\n{\"_id\": \"q2\", \"text\": \"b\"}\n");
        Write($"{name}/qrels/dev.tsv", devQrels);
        if (datasetJson != null) Write($"{name}/dataset.json", datasetJson);
        return Path.Combine(_root, name);
    }

    [Theory]
    [InlineData("corpus.jsonl", "{\"_id\": \"1\", \"title\": \"ok\"}\n{\"_id\": \"2\", \"title\": \"\\ud800\"}\n", 2, "\"title\"")]
    [InlineData("corpus.jsonl", "{\"_id\": \"1\", \"title\": \"ok\"}\n{\"_id\": \"2\", \"text\": \"a\\udfffb\"}\n", 2, "\"text\"")]
    [InlineData("corpus.jsonl", "{\"_id\": \"x\\ud83d\", \"title\": \"ok\"}\n", 1, "\"_id\"")]
    [InlineData("corpus.jsonl", "{\"_id\": \"1\", \"features\": {\"\\ud800\": 1}}\n", 1, "\"features\"")]
    [InlineData("queries.jsonl", "{\"_id\": \"q1\", \"text\": \"\\ude00\\ud83d\"}\n", 1, "\"text\"")]
    [InlineData("queries.jsonl", "{\"_id\": \"q1\", \"text\": \"a\", \"user\": \"\\uD800\\u0041\"}\n", 1, "\"user\"")]
    [InlineData("interactions.jsonl", "{\"user\": \"u\", \"query\": \"\\ud800\", \"ts\": 1}\n", 1, "\"query\"")]
    [InlineData("interactions.jsonl", "{\"user\": \"u\", \"query\": \"q\", \"item\": \"\\udbff\", \"ts\": 1}\n", 1, "\"item\"")]
    public void A_lone_surrogate_escape_is_an_error_with_file_and_line(string file, string text, int line, string field)
    {
        var path = Write(file, text);
        Action read = file switch
        {
            "corpus.jsonl" => () => BeirReader.ReadCorpus(path).ToList(),
            "queries.jsonl" => () => BeirReader.ReadQueries(path).ToList(),
            _ => () => InteractionReader.Read(path).ToList(),
        };
        var e = Assert.Throws<DataFormatException>(read);
        Assert.StartsWith($"{path}:{line}: {field}: invalid string", e.Message);
        Assert.Contains("surrogate", e.Message);
    }

    [Fact]
    public void A_surrogate_pair_escape_reads_as_its_character()
    {
        var path = Write("corpus.jsonl", "{\"_id\": \"1\", \"title\": \"smile \\ud83d\\ude00\"}\n");
        Assert.Equal("smile \U0001F600", BeirReader.ReadCorpus(path).Single().Title);
    }

    [Theory]
    [InlineData("corpus.jsonl", "", "the file is empty (no documents)")]
    [InlineData("corpus.jsonl", "\n  \n", "no documents in the file")]
    [InlineData("queries.jsonl", "", "the file is empty (no queries)")]
    [InlineData("qrels.tsv", "query-id\tcorpus-id\tscore\n", "no judgments in the file")]
    [InlineData("interactions.jsonl", "\r\n", "no events in the file")]
    public void A_file_without_a_record_is_an_error_at_line_1(string file, string text, string problem)
    {
        var path = Write(file, text);
        Action read = file switch
        {
            "corpus.jsonl" => () => BeirReader.ReadCorpus(path).ToList(),
            "queries.jsonl" => () => BeirReader.ReadQueries(path).ToList(),
            "qrels.tsv" => () => BeirReader.ReadQrels(path),
            _ => () => InteractionReader.Read(path).ToList(),
        };
        Assert.Equal($"{path}:1: {problem}", Assert.Throws<DataFormatException>(read).Message);
    }

    [Fact]
    public void Conflicting_judgments_of_one_pair_are_an_error_naming_both_lines()
    {
        var path = Write("qrels/dev.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t3\nq1\td2\t0\nq1\td1\t1\n");
        var e = Assert.Throws<DataFormatException>(() => BeirReader.ReadQrels(path));
        Assert.Equal($"{path}:4: conflicting judgments of query 'q1', item 'd1': grade 1 here, grade 3 at line 2", e.Message);
    }

    [Fact]
    public void Exact_duplicate_judgments_warn_naming_both_lines_and_count_once()
    {
        var path = Write("qrels/dev.tsv", "q1\td1\t3\nq1\td2\t0\nq1\td1\t3\n");
        var warnings = new List<string>();
        var result = BeirReader.ReadQrels(path, warn: warnings.Add);
        Assert.Equal(2, result.Qrels.JudgmentCount);
        Assert.Equal(1, result.DuplicateRows);
        Assert.Equal($"{path}:3: duplicate judgment of query 'q1', item 'd1' (grade 3, as at line 1); counted once", Assert.Single(warnings));
    }

    [Theory]
    [InlineData("q1\td1\t3\nq2\td2\t40\n", 2, "grade 40 is outside the data set's grades 0..4")]
    [InlineData("q1\td1\t-1\n", 1, "grade -1 is outside")]
    [InlineData("q1\td1\t99999999999\n", 1, "score '99999999999' is not an integer")]
    [InlineData("q1\td1\t 3\n", 1, "score ' 3' is not an integer")]
    [InlineData("q1\td 1\t3\n", 1, "corpus id 'd 1' must be non-empty without whitespace")]
    [InlineData("q1\t\t3\n", 1, "corpus id '' must be non-empty")]
    [InlineData("q1\td1\t3\textra\n", 1, "expected 3 tab-separated fields")]
    public void Bad_qrels_rows_of_a_data_set_are_errors_with_file_and_line(string qrels, int line, string problem)
    {
        var set = BeirDataset.Open(Beir("plain", qrels));
        var e = Assert.Throws<DataFormatException>(() => set.Qrels("dev"));
        Assert.StartsWith($"{set.QrelsPath("dev")}:{line}: {problem}", e.Message);
    }

    [Fact]
    public void Without_dataset_json_the_BEIR_default_applies()
    {
        var set = BeirDataset.Open(Beir("plain", "q1\td1\t1\n"));
        Assert.Equal(1, set.RelevanceThreshold);
        Assert.Equal(new GradeRange(0, 4), set.Grades);
        Assert.StartsWith("default", set.Manifest.Source);
        var options = set.EvaluationOptions();
        Assert.Equal(1, options.RelevanceThreshold);
        Assert.Equal(new GradeRange(0, 4), options.Grades);
    }

    [Fact]
    public void Dataset_json_states_threshold_and_grades_and_the_qrels_are_checked_against_them()
    {
        var dir = Beir("graded", "q1\td1\t10\nq2\td2\t-2\n", "{\"relevance_threshold\": 7, \"grades\": [-2, 10], \"description\": \"a test\"}\n");
        var set = BeirDataset.Open(dir);
        Assert.Equal(7, set.RelevanceThreshold);
        Assert.Equal(new GradeRange(-2, 10), set.Grades);
        Assert.Equal(Path.Combine(dir, "dataset.json"), set.Manifest.Source);
        Assert.Equal(10, set.Qrels("dev").Qrels.For("q1")["d1"]);
        Assert.Equal(7, set.EvaluationOptions().RelevanceThreshold);
        Assert.Equal(5, set.EvaluationOptions(5).RelevanceThreshold);
        Assert.Contains("outside the grades -2..10", Assert.Throws<InvalidDataException>(() => set.EvaluationOptions(11)).Message);
    }

    [Fact]
    public void Homedepot_has_its_readme_scale_without_a_dataset_json()
    {
        var set = BeirDataset.Open(Beir("homedepot", "q1\td1\t4\n"));
        Assert.Equal(3, set.RelevanceThreshold);
        Assert.Equal(new GradeRange(0, 4), set.Grades);
        Assert.Contains("homedepot", set.Manifest.Source);
        // The real data set, where this machine has it.
        const string real = "/work/shared/data/homedepot";
        if (Directory.Exists(real) && !File.Exists(Path.Combine(real, "dataset.json")))
            Assert.Equal(3, BeirDataset.Open(real).RelevanceThreshold);
    }

    [Theory]
    [InlineData("{\"relevance_threshold\": 3,\n \"grades\": [0]}\n", 2, "\"grades\" must be [lowest, highest]")]
    [InlineData("{\"relevance_threshold\": 3, \"grades\": [4, 0]}", 1, "\"grades\" must be")]
    [InlineData("{\"relevance_threshold\": 3, \"grades\": [0, 1000]}", 1, "\"grades\" must be")]
    [InlineData("{\"relevance_threshold\": \"3\"}", 1, "\"relevance_threshold\" must be an integer")]
    [InlineData("{\"relevance_threshold\": 3.5}", 1, "\"relevance_threshold\" must be an integer")]
    [InlineData("{\"relevance_threshold\": 7}", 1, "relevance_threshold 7 is outside the grades 0..4")]
    [InlineData("{\n\"relevance_treshold\": 3}", 2, "unknown key \"relevance_treshold\"")]
    [InlineData("{\"relevance_threshold\": 3,}", 1, "malformed JSON")]
    [InlineData("[3]", 1, "expected a JSON object")]
    [InlineData("", 1, "")]
    public void A_bad_dataset_json_is_an_error_with_file_and_line(string json, int line, string problem)
    {
        var dir = Beir("bad", "q1\td1\t1\n", json);
        var e = Assert.Throws<DataFormatException>(() => BeirDataset.Open(dir));
        Assert.StartsWith($"{Path.Combine(dir, "dataset.json")}:{line}: {problem}", e.Message);
    }
}
