using GenSearch.Retrieval;

namespace GenSearch.Retrieval.Tests;

public class StemmerTests
{
    [Theory]
    [InlineData("consign", "consign")]
    [InlineData("consigned", "consign")]
    [InlineData("consigning", "consign")]
    [InlineData("consignment", "consign")]
    [InlineData("generously", "generous")]
    [InlineData("knightly", "knight")]
    [InlineData("cries", "cri")]
    [InlineData("ties", "tie")]
    [InlineData("gaps", "gap")]
    [InlineData("gas", "gas")]
    [InlineData("hopping", "hop")]
    [InlineData("hoping", "hope")]
    [InlineData("faucets", "faucet")]
    [InlineData("lighting", "light")]
    [InlineData("men's", "men")]
    [InlineData("skies", "sky")]
    [InlineData("by", "by")]
    [InlineData("1.9", "1.9")]
    public void Known_stems(string word, string stem) => Assert.Equal(stem, EnglishStemmer.Stem(word));

    [Fact]
    public void Agrees_with_xapian_snowball_english_on_the_homedepot_vocabulary()
    {
        // stems.tsv: 8,000+ words of the homedepot corpus with Xapian's Snowball English stems (make-stems.py).
        var mismatches = new List<string>();
        int n = 0;
        foreach (var line in File.ReadLines(Path.Combine(AppContext.BaseDirectory, "Data", "stems.tsv")))
        {
            var f = line.Split('\t');
            n++;
            var ours = EnglishStemmer.Stem(f[0]);
            if (ours != f[1]) mismatches.Add($"{f[0]}: expected {f[1]}, got {ours}");
        }
        Assert.True(n > 8000);
        Assert.True(mismatches.Count == 0, $"{mismatches.Count} of {n} differ:\n" + string.Join("\n", mismatches.Take(40)));
    }
}
