using System.Text.Json;
using GenSearch.Text;
using GenSearch.Text.Unicode;

namespace GenSearch.Text.Tests;

public class NormalizationTests
{
    [Theory]
    [InlineData("\uFB01ne", "fine")]                 // ligature
    [InlineData("\uFF21\uFF22\uFF23", "ABC")]        // full-width
    [InlineData("e\u0301", "\u00E9")]                // combining acute composes
    [InlineData("\u2460", "1")]                      // circled digit
    [InlineData("\u00BD", "1\u20442")]               // vulgar fraction: 1 fraction-slash 2
    [InlineData("\u1100\u1161\u11A8", "\uAC01")]     // Hangul jamo compose algorithmically
    [InlineData("\uAC01", "\uAC01")]
    [InlineData("a\u0323\u0307", "\u1EA1\u0307")]    // dot below before dot above: canonical order then compose
    [InlineData("a\u0307\u0323", "\u1EA1\u0307")]
    [InlineData("\u212B", "\u00C5")]                 // angstrom sign is a singleton: decomposes, recomposes to A-ring
    [InlineData("\u0958", "\u0915\u093C")]           // composition exclusion stays decomposed
    [InlineData("plain ascii 36 in.", "plain ascii 36 in.")]
    [InlineData("", "")]
    public void Nfkc_matches_known_cases(string input, string expected) => Assert.Equal(expected, Nfkc.Normalize(input));

    [Fact]
    public void Nfkc_matches_python_unicodedata_on_generated_cases()
    {
        int n = 0;
        foreach (var line in File.ReadLines(Path.Combine(AppContext.BaseDirectory, "Data", "nfkc-cases.jsonl")))
        {
            var pair = JsonSerializer.Deserialize<string[]>(line)!;
            Assert.True(pair[1] == Nfkc.Normalize(pair[0]), $"NFKC of {Escape(pair[0])}: expected {Escape(pair[1])}, got {Escape(Nfkc.Normalize(pair[0]))}");
            n++;
        }
        Assert.Equal(3000, n);
    }

    [Fact]
    public void Normalizer_lowercases_after_nfkc() => Assert.Equal("abc fine", TextNormalizer.Normalize("\uFF21\uFF22\uFF23 \uFB01NE"));

    private static string Escape(string s) => string.Concat(s.Select(c => c < 128 ? c.ToString() : $"\\u{(int)c:X4}"));
}
