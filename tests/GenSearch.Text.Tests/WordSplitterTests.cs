using GenSearch.Text;

namespace GenSearch.Text.Tests;

public class WordSplitterTests
{
    [Theory]
    [InlineData("36 in. Vanity", "36|inch|vanity")]
    [InlineData("36 inch vanity", "36|inch|vanity")]
    [InlineData("36\" vanity", "36|inch|vanity")]
    [InlineData("BEHR 1-gal. #SC-141 Tugboat", "behr|1|gallon|#|sc|-|141|tugboat")]
    [InlineData("Whirlpool 1.9 cu. ft. Microwave", "whirlpool|1.9|cubic|foot|microwave")]
    [InlineData("2-in-1 tool", "2|-|in|-|1|tool")]
    [InlineData("pipe in the wall", "pipe|in|the|wall")]
    [InlineData("1/2 in. x 10 ft. Pipe", "1/2|inch|x|10|foot|pipe")]
    [InlineData("60w bulb 12v", "60|watt|bulb|12|volt")]
    [InlineData("2x4 stud", "2|x|4|stud")]
    [InlineData("3M tape", "3|m|tape")]
    [InlineData("Men's boots", "men's|boots")]
    [InlineData("1,000 sq. ft.", "1,000|square|foot")]
    [InlineData("東京タワー ok", "東|京|タ|ワ|ー|ok")]
    [InlineData("ＢＥＨＲ  Ｐａｉｎｔ", "behr|paint")]
    [InlineData("", "")]
    [InlineData("   \t\n ", "")]
    public void Splits_words_and_keeps_sizes_meaningful(string text, string expected) =>
        Assert.Equal(expected, string.Join('|', WordSplitter.Words(text)));

    [Fact]
    public void Kinds_are_reported()
    {
        var text = TextNormalizer.Normalize("6 ft. ladder, 東");
        var words = new List<Word>();
        WordSplitter.Split(text, words);
        Assert.Equal([WordKind.Number, WordKind.Unit, WordKind.Letters, WordKind.Symbol, WordKind.Cjk], words.Select(w => w.Kind));
    }
}
