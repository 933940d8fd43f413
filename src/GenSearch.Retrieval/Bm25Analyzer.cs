using GenSearch.Text;

namespace GenSearch.Retrieval;

/// <summary>
/// Turns text into BM25 terms: normalise (NFKC, lower case), split into words (<see cref="WordSplitter"/>,
/// which keeps numbers and canonical units), drop punctuation, optionally drop stop words, and stem
/// letter words with <see cref="EnglishStemmer"/>. Numbers, units and CJK characters are kept as they are.
/// </summary>
public sealed class Bm25Analyzer
{
    /// <summary>Lucene's English stop words (EnglishAnalyzer.ENGLISH_STOP_WORDS_SET).</summary>
    public static readonly IReadOnlySet<string> EnglishStopWords = new HashSet<string>(StringComparer.Ordinal)
    {
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no", "not",
        "of", "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was", "will", "with",
    };

    private readonly bool _stem;
    private readonly IReadOnlySet<string>? _stopWords;

    /// <summary>Creates an analyzer; stemming on by default, stop words off.</summary>
    public Bm25Analyzer(bool stem = true, bool removeStopWords = false)
    {
        _stem = stem;
        _stopWords = removeStopWords ? EnglishStopWords : null;
    }

    /// <summary>Appends the terms of <paramref name="text"/> to <paramref name="terms"/>.</summary>
    public void Analyze(string text, List<string> terms)
    {
        var normalized = TextNormalizer.Normalize(text);
        var words = new List<Word>(normalized.Length / 4 + 4);
        WordSplitter.Split(normalized, words);
        foreach (var w in words)
        {
            if (w.Kind == WordKind.Symbol) continue;
            var s = w.Text(normalized).ToString();
            if (w.Kind == WordKind.Letters)
            {
                if (_stopWords != null && _stopWords.Contains(s)) continue;
                if (_stem) s = EnglishStemmer.Stem(s);
            }
            terms.Add(s);
        }
    }

    /// <summary>The terms of <paramref name="text"/>.</summary>
    public List<string> Analyze(string text)
    {
        var terms = new List<string>();
        Analyze(text, terms);
        return terms;
    }
}
