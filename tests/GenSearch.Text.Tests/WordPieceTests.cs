using GenSearch.Text;

namespace GenSearch.Text.Tests;

public class WordPieceTests
{
    private static readonly string[] Corpus =
    [
        "Simpson Strong-Tie 12-Gauge Angle", "BEHR Premium Textured DeckOver 1-gal. Tugboat Wood and Concrete Coating",
        "Delta Vero 1-Handle Shower Only Faucet Trim Kit in Chrome", "Whirlpool 1.9 cu. ft. Over the Range Convection Microwave",
        "Lithonia Lighting Quantum 2-Light Black LED Emergency Fixture Unit", "shower faucet", "angle bracket", "deck over",
        "Chrome shower faucets and showers", "lighting fixtures and light fixture units", "angles and brackets",
    ];

    private static WordPieceTokenizer Train(IEnumerable<string> texts, int size = 120) =>
        WordPieceTrainer.Train(texts, new WordPieceTrainerOptions { VocabularySize = size, MinFrequency = 1 });

    [Fact]
    public void Special_tokens_come_first_with_fixed_ids()
    {
        var t = Train(Corpus);
        Assert.Equal(["[pad]", "[unk]", "[cls]", "[sep]", "[mask]"], t.Vocabulary.Take(5));
        Assert.Equal(WordPieceTokenizer.MaskId, t.Vocabulary.ToList().IndexOf("[mask]"));
        var ids = t.EncodeWithSpecials("shower faucet");
        Assert.Equal(WordPieceTokenizer.ClsId, ids[0]);
        Assert.Equal(WordPieceTokenizer.SepId, ids[^1]);
    }

    [Fact]
    public void Training_is_deterministic_and_independent_of_input_order()
    {
        var a = Train(Corpus);
        var b = Train(Corpus.Reverse());
        Assert.Equal(a.Vocabulary, b.Vocabulary);
        Assert.Equal(120, a.VocabularySize);
    }

    [Fact]
    public void Frequent_words_become_single_pieces_and_decode_back()
    {
        var t = Train(Corpus, 200);
        var ids = t.Encode("Shower faucet");
        Assert.Equal(["shower", "faucet"], ids.Select(t.TokenOf));
        Assert.Equal("shower faucet", t.Decode(ids));
        var units = t.Encode("12 in. shower 1-gal.").Select(t.TokenOf).ToArray();
        Assert.Equal("12 inch shower 1 gallon", t.Decode(t.Encode("12 in. shower 1-gal.")));
        Assert.DoesNotContain(".", units);
    }

    [Fact]
    public void Unknown_characters_become_unk_alone()
    {
        var t = Train(Corpus);
        var ids = t.Encode("shower\u00DF faucet");
        Assert.Contains(WordPieceTokenizer.UnkId, ids);
        Assert.Equal(1, ids.Count(i => i == WordPieceTokenizer.UnkId));
        Assert.Equal("shower [unk] faucet", t.Decode(ids));
    }

    [Fact]
    public void Greedy_longest_match_agrees_with_the_slow_definition()
    {
        var t = Train(Corpus, 150);
        var vocab = t.Vocabulary.Select((s, i) => (s, i)).ToDictionary(x => x.s, x => x.i);
        foreach (var text in Corpus.Append("Unseen wording: convectionless showerhead 12-gauge"))
        {
            var expected = new List<int>();
            foreach (var word in WordSplitter.Words(text))
            {
                int pos = 0;
                while (pos < word.Length)
                {
                    int len = word.Length - pos;
                    for (; len > 0; len--)
                        if (vocab.TryGetValue((pos == 0 ? "" : "##") + word.Substring(pos, len), out int id)) { expected.Add(id); break; }
                    if (len == 0) { expected.Add(WordPieceTokenizer.UnkId); len = 1; }
                    pos += len;
                }
            }
            Assert.Equal(expected, t.Encode(text));
            Assert.Equal(expected, t.Encode(text)); // again, from the word cache
            Assert.Equal(expected, new WordPieceTokenizer(t.Vocabulary, cacheWords: false).Encode(text));
        }
    }

    [Fact]
    public void Save_and_load_round_trip_in_one_file()
    {
        var t = Train(Corpus);
        var path = Path.Combine(Path.GetTempPath(), $"wp-{Guid.NewGuid():N}.txt");
        try
        {
            t.Save(path);
            var loaded = WordPieceTokenizer.Load(path);
            Assert.Equal(t.Vocabulary, loaded.Vocabulary);
            foreach (var text in Corpus) Assert.Equal(t.Encode(text), loaded.Encode(text));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Loading_a_bad_file_names_it()
    {
        var path = Path.Combine(Path.GetTempPath(), $"wp-{Guid.NewGuid():N}.txt");
        try
        {
            File.WriteAllText(path, "not a tokenizer\n");
            var e = Assert.Throws<FormatException>(() => WordPieceTokenizer.Load(path));
            Assert.Contains(path, e.Message);
            File.WriteAllText(path, "#gensearch-wordpiece 1\n#max_word_chars 100\n[pad]\n[unk]\n[cls]\n[sep]\n[mask]\nab\nab\n");
            Assert.Contains("twice", Assert.Throws<FormatException>(() => WordPieceTokenizer.Load(path)).Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Overlong_words_and_huge_inputs_are_bounded()
    {
        var t = Train(Corpus);
        Assert.Equal([WordPieceTokenizer.UnkId], t.Encode(new string('a', 101)));
        var big = string.Join(' ', Enumerable.Repeat("shower faucet", 8000)); // ~100 KB
        Assert.True(t.Encode(big).Length >= 16000);
        var truncated = t.EncodeWithSpecials(big, 16);
        Assert.Equal(16, truncated.Length);
        Assert.Equal(WordPieceTokenizer.SepId, truncated[^1]);
    }
}
