using GenSearch.Tensors;

namespace GenSearch.Training.Tests;

public class PseudoQueriesTests
{
    private const string Title = "Glacier Bay 36 in. Vanity in White with Marble Top";

    [Fact]
    public void CutsAreShortOrderedSelectionsOfTheTitlesWords()
    {
        var options = new PseudoQueryOptions { MaxWords = 4, WholeTitleShare = 0.2f, ContiguousShare = 0.5f };
        var words = Title.Split(' ');
        var rng = new Rng(3);
        int whole = 0, contiguous = 0, scattered = 0;
        for (int i = 0; i < 2000; i++)
        {
            string cut = PseudoQueries.Cut(Title, rng, options);
            if (cut == Title) { whole++; continue; }
            var picked = cut.Split(' ');
            Assert.InRange(picked.Length, 1, 4);
            // Every word comes from the title, in the title's order.
            int at = -1;
            foreach (var word in picked)
            {
                int next = Array.IndexOf(words, word, at + 1);
                Assert.True(next > at, $"'{cut}' is not an ordered selection of the title's words");
                at = next;
            }
            if (Title.Contains(cut, StringComparison.Ordinal)) contiguous++; else scattered++;
        }
        Assert.InRange(whole, 300, 500);          // 20% of 2000
        Assert.True(contiguous > 500, $"{contiguous} contiguous cuts");
        Assert.True(scattered > 300, $"{scattered} scattered cuts");
    }

    [Fact]
    public void SameGeneratorStateSameCutAndShortTitlesStayWhole()
    {
        var options = new PseudoQueryOptions();
        var a = new Rng(7); var b = new Rng(7);
        for (int i = 0; i < 50; i++) Assert.Equal(PseudoQueries.Cut(Title, a, options), PseudoQueries.Cut(Title, b, options));
        Assert.Equal("hammer", PseudoQueries.Cut("hammer", a, options));
        Assert.Equal("", PseudoQueries.Cut("", a, options));
    }
}
