namespace GenSearch.Text.Tests;

public class NgramVocabularyTests
{
    [Fact]
    public void FeaturesAreWordsWordPairsAndMarkedTrigrams()
    {
        var features = NgramFeaturizer.Features("Cordless DRILL, 18 V");
        Assert.Equal(
        [
            "w:cordless", "c:#co", "c:cor", "c:ord", "c:rdl", "c:dle", "c:les", "c:ess", "c:ss#",
            "w:drill", "b:cordless drill", "c:#dr", "c:dri", "c:ril", "c:ill", "c:ll#",
            "w:18", "b:drill 18", "c:#18", "c:18#",
            "w:volt", "b:18 volt", "c:#vo", "c:vol", "c:olt", "c:lt#",
        ], features);
        Assert.Equal(["w:a", "c:#a#"], NgramFeaturizer.Features("a"));
        Assert.Empty(NgramFeaturizer.Features(" ,;& "));
    }

    [Fact]
    public void AMisspeltWordSharesMostFeaturesWithTheWordItMeans()
    {
        var vocabulary = NgramVocabulary.Build(["cordless drill"]);
        var misspelt = vocabulary.Encode("cordles dril"); // both words unknown as words, their trigrams known
        Assert.DoesNotContain(misspelt, id => vocabulary[id].StartsWith("w:", StringComparison.Ordinal));
        Assert.True(misspelt.Length >= 8, $"{misspelt.Length} known trigrams");
    }

    [Fact]
    public void BuildNumbersByFirstAppearanceAndEncodeDropsUnknownFeatures()
    {
        var vocabulary = NgramVocabulary.Build(["ab", "ab cd"]);
        Assert.Equal(["w:ab", "c:#ab", "c:ab#", "w:cd", "b:ab cd", "c:#cd", "c:cd#"], Enumerable.Range(0, vocabulary.Count).Select(i => vocabulary[i]));
        Assert.Equal([0, 1, 2, 0, 1, 2], vocabulary.Encode("ab ab"));
        Assert.Equal([0, 1, 2], vocabulary.Encode("ab zz"));
        Assert.Empty(vocabulary.Encode("zz"));
        Assert.Equal(3, NgramVocabulary.Build(["ab", "ab cd"], minCount: 2).Count);
    }

    [Fact]
    public void SavedVocabularyLoadsTheSameAndBadFilesNameTheLine()
    {
        string dir = Directory.CreateTempSubdirectory("ngrams").FullName;
        try
        {
            string path = Path.Combine(dir, "ngrams.txt");
            var vocabulary = NgramVocabulary.Build(["impact driver kit", "drill bit set"]);
            vocabulary.Save(path);
            var loaded = NgramVocabulary.Load(path);
            Assert.Equal(vocabulary.Count, loaded.Count);
            Assert.Equal(vocabulary.Encode("driver bit"), loaded.Encode("driver bit"));

            File.WriteAllLines(path, ["w:a", "c:#a#", "w:a"]);
            Assert.Contains($"{path}:3: feature 'w:a' repeats line 1", Assert.Throws<InvalidDataException>(() => NgramVocabulary.Load(path)).Message);
            File.WriteAllLines(path, ["w:a", ""]);
            Assert.Contains($"{path}:2: empty feature", Assert.Throws<InvalidDataException>(() => NgramVocabulary.Load(path)).Message);
            Assert.Throws<FileNotFoundException>(() => NgramVocabulary.Load(Path.Combine(dir, "none.txt")));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
