using GenSearch.Data;
using GenSearch.Retrieval;

namespace GenSearch.Training.Tests;

/// <summary>k1 and b come from the data at hand: its own file, else tuned on its train split, else Lucene's; never another data set's.</summary>
public class Bm25ParametersTests
{
    [Fact]
    public void DataWithATrainSplitIsTunedOnItAndCached()
    {
        using var beir = new TinyBeir();
        string cache = Path.Combine(beir.Path, "cache");
        Environment.SetEnvironmentVariable("GENSEARCH_CACHE", cache);
        try
        {
            var choice = Bm25Parameters.Choose(BeirDataset.Open(beir.Path), new Bm25Options());
            Assert.StartsWith("tuned on 32 train queries", choice.Source);
            Assert.Contains(choice.K1, Bm25Parameters.K1Grid);
            Assert.Contains(choice.B, Bm25Parameters.BGrid);
            var again = Bm25Parameters.Choose(BeirDataset.Open(beir.Path), new Bm25Options());
            Assert.Equal((choice.K1, choice.B), (again.K1, again.B));
            Assert.EndsWith("(cached)", again.Source);
            // Other judgments are other data: the cache is keyed by the files' contents.
            File.AppendAllText(Path.Combine(beir.Path, "qrels", "train.tsv"), "q0\td1\t1\n");
            Assert.DoesNotContain("cached", Bm25Parameters.Choose(BeirDataset.Open(beir.Path), new Bm25Options()).Source);
        }
        finally { Environment.SetEnvironmentVariable("GENSEARCH_CACHE", null); }
    }

    [Fact]
    public void TheDataSetsOwnValuesWinAndDataWithoutTrainGetsLucenes()
    {
        using var beir = new TinyBeir();
        File.WriteAllText(Path.Combine(beir.Path, "dataset.json"), """{"bm25": {"k1": 0.9, "b": 0.4}}""");
        var own = Bm25Parameters.Choose(BeirDataset.Open(beir.Path), new Bm25Options());
        Assert.Equal((0.9f, 0.4f), (own.K1, own.B));
        Assert.EndsWith("dataset.json", own.Source);

        File.Delete(Path.Combine(beir.Path, "dataset.json"));
        File.Delete(Path.Combine(beir.Path, "qrels", "train.tsv"));
        var lucene = Bm25Parameters.Choose(BeirDataset.Open(beir.Path), new Bm25Options());
        Assert.Equal((1.2f, 0.75f), (lucene.K1, lucene.B));
        Assert.Contains("Lucene", lucene.Source);
    }

    [Theory]
    [InlineData("""{"bm25": {"k1": -1, "b": 0.5}}""", "\"bm25.k1\" must be a number in [0, 100]")]
    [InlineData("""{"bm25": {"k1": 1, "b": 1.5}}""", "\"bm25.b\" must be a number in [0, 1]")]
    [InlineData("""{"bm25": {"k1": 1}}""", "needs both k1 and b")]
    [InlineData("""{"bm25": {"k": 1}}""", "unknown key \"bm25.k\"")]
    public void BadBm25SettingsInDatasetJsonAreErrorsWithFileAndLine(string json, string message)
    {
        using var beir = new TinyBeir();
        string path = Path.Combine(beir.Path, "dataset.json");
        File.WriteAllText(path, json);
        var error = Assert.Throws<DataFormatException>(() => BeirDataset.Open(beir.Path));
        Assert.Contains(message, error.Message);
        Assert.StartsWith(path + ":1", error.Message);
    }

    [Fact]
    public void HomedepotKeepsTheValuesTunedOnItsTrainSplit()
    {
        var known = DatasetManifest.Known["homedepot"];
        Assert.Equal((0.3f, 0.85f), (known.Bm25K1, known.Bm25B));
    }
}
