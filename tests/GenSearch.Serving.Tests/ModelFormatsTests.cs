namespace GenSearch.Serving.Tests;

public class ModelFormatsTests
{
    private static string Directory(string config)
    {
        string dir = GenSearch.Tests.TestTemp.Directory("model");
        File.WriteAllText(Path.Combine(dir, "config.json"), config);
        return dir;
    }

    [Fact]
    public void KindComesFromConfigAndLegacyTransformerTowersAreRecognised()
    {
        Assert.Equal("two-tower", ModelFormats.KindOf(new ModelDirectory(Directory("""{"kind": "two-tower", "tower": "ngram"}"""))));
        Assert.Equal("two-tower-transformer", ModelFormats.KindOf(new ModelDirectory(Directory("""{"kind": "two-tower"}"""))));
        Assert.Equal("two-stage", ModelFormats.KindOf(new ModelDirectory(Directory("""{"kind": "two-stage"}"""))));
    }

    [Fact]
    public void UnknownKindOrModeIsAnErrorNamingTheConfig()
    {
        string dir = Directory("""{"kind": "tiger"}""");
        var error = Assert.Throws<InvalidDataException>(() => ModelFormats.Open(dir));
        Assert.Contains($"{Path.Combine(dir, "config.json")}: unknown model kind 'tiger' (known: two-stage, two-tower, two-tower-transformer, unified)", error.Message);

        dir = Directory("""{"kind": "two-stage"}""");
        error = Assert.Throws<InvalidDataException>(() => ModelFormats.Open(dir, new ModelOpenOptions { Mode = "dense" }));
        Assert.Contains("a two-stage model serves generative retrieval, not dense", error.Message);
    }

    [Fact]
    public void MissingOrMalformedConfigIsNamed()
    {
        string empty = GenSearch.Tests.TestTemp.Directory("model");
        Assert.Contains("config.json is missing", Assert.Throws<FileNotFoundException>(() => ModelFormats.Open(empty)).Message);
        string bad = Directory("{\n  \"kind\": \n}");
        Assert.Contains("config.json: line 3", Assert.Throws<InvalidDataException>(() => ModelFormats.Open(bad)).Message);
    }
}

public class CatalogCheckTests
{
    [Fact]
    public void AModelFromAnotherCatalogIsRefusedAndAPartialOverlapWarned()
    {
        string[] catalog = ["a", "b", "c", "d"];
        Assert.Null(CatalogCheck.Verify("m", ["a", "b", "c", "d"], "corpus.jsonl", catalog));
        var error = Assert.Throws<InvalidDataException>(() => CatalogCheck.Verify("m", ["x", "y", "a"], "corpus.jsonl", catalog));
        Assert.Contains("m: only 1 of the model's 3 items are in corpus.jsonl", error.Message);
        var warning = CatalogCheck.Verify("m", ["a", "b", "c", "z"], "corpus.jsonl", catalog);
        Assert.Contains("1 of the model's items are not in the catalog", warning);
        Assert.Contains("1 catalog items are not in the model", warning);
        Assert.Throws<InvalidDataException>(() => CatalogCheck.Verify("m", [], "corpus.jsonl", catalog));
    }
}
