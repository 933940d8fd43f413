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
    public void Analyze(string text, List<string> terms) => Analyze(text, terms, null);

    /// <summary>
    /// Appends the terms of <paramref name="text"/> to <paramref name="terms"/>, remembering each
    /// word's term in <paramref name="cache"/> (word -> term; not thread-safe) so that indexing a
    /// corpus stems and allocates each distinct word once.
    /// </summary>
    public void Analyze(string text, List<string> terms, Dictionary<string, string?>? cache)
    {
        var normalized = TextNormalizer.Normalize(text);
        var words = new List<Word>(normalized.Length / 4 + 4);
        WordSplitter.Split(normalized, words);
        var lookup = cache?.GetAlternateLookup<ReadOnlySpan<char>>();
        foreach (var w in words)
        {
            if (w.Kind == WordKind.Symbol) continue;
            var span = w.Text(normalized);
            if (w.Kind is not (WordKind.Letters or WordKind.Unit)) { terms.Add(span.ToString()); continue; }
            if (lookup is { } l && l.TryGetValue(span, out var cached))
            {
                if (cached != null) terms.Add(cached);
                continue;
            }
            var word = span.ToString();
            var term = TermOf(word, w.Kind);
            if (cache != null) cache[word] = term;
            if (term != null) terms.Add(term);
        }
    }

    /// <summary>
    /// The term of a letter word or canonical unit; null for a stop word. Units are stemmed like words
    /// so that "10 sq. ft." (unit "square") meets "square feet"; no canonical unit is a stop word, so a
    /// cache keyed by the text alone stays right for both kinds.
    /// </summary>
    private string? TermOf(string word, WordKind kind)
    {
        if (kind == WordKind.Letters && _stopWords != null && _stopWords.Contains(word)) return null;
        return _stem ? EnglishStemmer.Stem(word) : word;
    }

    /// <summary>The terms of <paramref name="text"/>.</summary>
    public List<string> Analyze(string text)
    {
        var terms = new List<string>();
        Analyze(text, terms);
        return terms;
    }
}
