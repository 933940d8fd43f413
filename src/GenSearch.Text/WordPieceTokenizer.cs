using System.Text;

namespace GenSearch.Text;

/// <summary>
/// Subword tokenizer: text is normalised (<see cref="TextNormalizer"/>), split into words
/// (<see cref="WordSplitter"/>), and each word is cut into vocabulary pieces by WordPiece's greedy
/// longest-match-first rule; pieces after the first carry the "##" prefix. A character the vocabulary
/// lacks becomes [unk] alone, so one rare character does not erase its word. The vocabulary is learned
/// by <see cref="WordPieceTrainer"/>. Encoding is deterministic and thread-safe.
/// </summary>
public sealed class WordPieceTokenizer
{
    /// <summary>Padding, id 0.</summary>
    public const string Pad = "[pad]";
    /// <summary>Unknown character, id 1.</summary>
    public const string Unk = "[unk]";
    /// <summary>Start of a sequence; its final state summarises the query. Id 2.</summary>
    public const string Cls = "[cls]";
    /// <summary>Separator between segments. Id 3.</summary>
    public const string Sep = "[sep]";
    /// <summary>Masked position for masked-token training. Id 4.</summary>
    public const string Mask = "[mask]";
    /// <summary>The special tokens in id order.</summary>
    public static readonly IReadOnlyList<string> SpecialTokens = [Pad, Unk, Cls, Sep, Mask];
    /// <summary>Id of [pad].</summary>
    public const int PadId = 0;
    /// <summary>Id of [unk].</summary>
    public const int UnkId = 1;
    /// <summary>Id of [cls].</summary>
    public const int ClsId = 2;
    /// <summary>Id of [sep].</summary>
    public const int SepId = 3;
    /// <summary>Id of [mask].</summary>
    public const int MaskId = 4;

    private const string FileHeader = "#gensearch-wordpiece 1";
    private readonly string[] _vocab;
    private readonly bool _cacheWords;
    private readonly PieceTrie _starts = new(), _continuations = new();

    /// <summary>Number of tokens in the vocabulary, special tokens included.</summary>
    public int VocabularySize => _vocab.Length;

    /// <summary>Words longer than this many characters become a single [unk] (bounds the work a pathological input costs).</summary>
    public int MaxWordChars { get; }

    /// <summary>
    /// Creates a tokenizer over <paramref name="vocabulary"/>, which must begin with <see cref="SpecialTokens"/>.
    /// <paramref name="cacheWords"/> keeps a per-thread word -> pieces cache (same output, faster).
    /// </summary>
    public WordPieceTokenizer(IReadOnlyList<string> vocabulary, int maxWordChars = 100, bool cacheWords = true)
    {
        _cacheWords = cacheWords;
        for (int i = 0; i < SpecialTokens.Count; i++)
            if (vocabulary.Count <= i || vocabulary[i] != SpecialTokens[i])
                throw new ArgumentException($"the vocabulary must begin with {string.Join(" ", SpecialTokens)}", nameof(vocabulary));
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int id = 0; id < vocabulary.Count; id++)
        {
            var token = vocabulary[id];
            if (token.Length == 0 || token.Any(char.IsWhiteSpace)) throw new ArgumentException($"vocabulary token {id} is empty or holds whitespace", nameof(vocabulary));
            if (!seen.Add(token)) throw new ArgumentException($"vocabulary token '{token}' appears twice", nameof(vocabulary));
            if (id < SpecialTokens.Count) continue;
            if (token.StartsWith("##", StringComparison.Ordinal) && token.Length > 2) _continuations.Add(token.AsSpan(2), id);
            else _starts.Add(token, id);
        }
        _vocab = vocabulary.ToArray();
        MaxWordChars = maxWordChars;
    }

    /// <summary>The token text of an id.</summary>
    public string TokenOf(int id) => _vocab[id];

    /// <summary>The vocabulary in id order.</summary>
    public IReadOnlyList<string> Vocabulary => _vocab;

    /// <summary>Token ids of <paramref name="text"/>, without special tokens.</summary>
    public int[] Encode(string text)
    {
        var ids = new List<int>();
        Encode(text, ids);
        return ids.ToArray();
    }

    /// <summary>Appends the token ids of <paramref name="text"/> to <paramref name="ids"/>; the core every overload funnels into.</summary>
    public void Encode(string text, List<int> ids)
    {
        var normalized = TextNormalizer.Normalize(text);
        var cache = ThreadCache();
        var words = cache.Words;
        words.Clear();
        WordSplitter.Split(normalized, words);
        var lookup = cache.Pieces.GetAlternateLookup<ReadOnlySpan<char>>();
        foreach (var w in words)
        {
            var word = w.Text(normalized);
            if (!_cacheWords) { EncodeWord(word, ids); continue; }
            if (lookup.TryGetValue(word, out var known)) { ids.AddRange(known); continue; }
            int start = ids.Count;
            EncodeWord(word, ids);
            if (cache.Pieces.Count >= WordCacheSize) cache.Pieces.Clear();
            cache.Pieces[word.ToString()] = ids.GetRange(start, ids.Count - start).ToArray();
        }
    }

    /// <summary>
    /// Words repeat (a few thousand cover most text), so each thread remembers the pieces of up to
    /// this many words; a hit costs one hash lookup and no allocation. The cache never changes output.
    /// </summary>
    private const int WordCacheSize = 1 << 16;

    private sealed class EncodeCache(WordPieceTokenizer owner)
    {
        public readonly WordPieceTokenizer Owner = owner;
        public readonly Dictionary<string, int[]> Pieces = new(StringComparer.Ordinal);
        public readonly List<Word> Words = new(64);
    }

    [ThreadStatic] private static EncodeCache? _cache;

    private EncodeCache ThreadCache()
    {
        var cache = _cache;
        if (cache == null || cache.Owner != this) _cache = cache = new EncodeCache(this);
        return cache;
    }

    /// <summary>[cls] + tokens + [sep], cut to at most <paramref name="maxLength"/> ids (the [sep] is kept).</summary>
    public int[] EncodeWithSpecials(string text, int maxLength = 512)
    {
        if (maxLength < 2) throw new ArgumentOutOfRangeException(nameof(maxLength), "room is needed for [cls] and [sep]");
        var ids = new List<int> { ClsId };
        Encode(text, ids);
        if (ids.Count > maxLength - 1) ids.RemoveRange(maxLength - 1, ids.Count - (maxLength - 1));
        ids.Add(SepId);
        return ids.ToArray();
    }

    /// <summary>The text of <paramref name="ids"/>: pieces joined, "##" pieces glued to the one before, words spaced.</summary>
    public string Decode(IEnumerable<int> ids)
    {
        var sb = new StringBuilder();
        foreach (int id in ids)
        {
            var t = _vocab[id];
            if (t.StartsWith("##", StringComparison.Ordinal) && t.Length > 2) sb.Append(t, 2, t.Length - 2);
            else { if (sb.Length > 0) sb.Append(' '); sb.Append(t); }
        }
        return sb.ToString();
    }

    private void EncodeWord(ReadOnlySpan<char> word, List<int> ids)
    {
        if (word.Length > MaxWordChars) { ids.Add(UnkId); return; }
        int pos = 0;
        while (pos < word.Length)
        {
            var trie = pos == 0 ? _starts : _continuations;
            int len = trie.LongestMatch(word[pos..], out int id);
            if (len == 0)
            {
                ids.Add(UnkId);
                len = char.IsHighSurrogate(word[pos]) && pos + 1 < word.Length ? 2 : 1;
            }
            else ids.Add(id);
            pos += len;
        }
    }

    /// <summary>Saves the tokenizer as one UTF-8 text file: a header line, then one token per line in id order.</summary>
    public void Save(string path)
    {
        using var w = new StreamWriter(path, false, new UTF8Encoding(false)) { NewLine = "\n" };
        w.WriteLine(FileHeader);
        w.WriteLine($"#max_word_chars {MaxWordChars}");
        foreach (var t in _vocab) w.WriteLine(t);
    }

    /// <summary>Loads a tokenizer saved by <see cref="Save"/>; a bad file throws <see cref="FormatException"/> naming it.</summary>
    public static WordPieceTokenizer Load(string path)
    {
        var lines = File.ReadAllLines(path, new UTF8Encoding(false, throwOnInvalidBytes: true));
        if (lines.Length < 2 || lines[0] != FileHeader || !lines[1].StartsWith("#max_word_chars ", StringComparison.Ordinal)
            || !int.TryParse(lines[1].AsSpan(16), out int maxWordChars))
            throw new FormatException($"{path}:1: not a GenSearch WordPiece tokenizer file (expected '{FileHeader}')");
        try { return new WordPieceTokenizer(lines[2..], maxWordChars); }
        catch (ArgumentException e) { throw new FormatException($"{path}: {e.Message}"); }
    }

    /// <summary>
    /// A character trie in flat arrays: node n's children are found through one hash map keyed by
    /// (node, char), so a lookup costs no allocation and one probe per character.
    /// </summary>
    private sealed class PieceTrie
    {
        private readonly Dictionary<long, int> _children = new();
        private readonly List<int> _tokenAt = [-1];

        public void Add(ReadOnlySpan<char> piece, int id)
        {
            int node = 0;
            foreach (char c in piece)
            {
                long key = ((long)node << 16) | c;
                if (!_children.TryGetValue(key, out int child))
                {
                    child = _tokenAt.Count;
                    _tokenAt.Add(-1);
                    _children[key] = child;
                }
                node = child;
            }
            _tokenAt[node] = id;
        }

        /// <summary>Length of the longest vocabulary piece that starts <paramref name="text"/> (0 when none), and its id.</summary>
        public int LongestMatch(ReadOnlySpan<char> text, out int id)
        {
            id = -1;
            int node = 0, best = 0;
            for (int i = 0; i < text.Length; i++)
            {
                if (!_children.TryGetValue(((long)node << 16) | text[i], out node)) break;
                if (_tokenAt[node] >= 0) { best = i + 1; id = _tokenAt[node]; }
            }
            return best;
        }
    }
}
