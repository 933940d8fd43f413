using System.Text;

namespace GenSearch.Text;

/// <summary>Settings for <see cref="WordPieceTrainer"/>, with defaults.</summary>
public sealed record WordPieceTrainerOptions
{
    /// <summary>Target vocabulary size, special tokens included. Default 16,000.</summary>
    public int VocabularySize { get; init; } = 16_000;
    /// <summary>A character or merge must be seen at least this often (counting word frequency) to enter. Default 2.</summary>
    public int MinFrequency { get; init; } = 2;
    /// <summary>Longer words are left out of training and encode as [unk]. Default 100.</summary>
    public int MaxWordChars { get; init; } = 100;
}

/// <summary>
/// Learns a WordPiece vocabulary the way Hugging Face's WordPiece trainer does: start from single
/// characters (word-initial "c" and word-internal "##c"), then repeatedly add the merge of the most
/// frequent adjacent pair of symbols (byte-pair-encoding merges over word counts) until the vocabulary
/// is full. Encoding then uses WordPiece's greedy longest match, which needs no merge list, is fast,
/// and is deterministic. Why WordPiece: the model's [cls]/[sep]/[mask] inputs follow BERT, product
/// titles are short word lists whose pieces ("##s", "##ing", numbers) should be shared across words,
/// and greedy longest match encodes millions of tokens a second on one thread. Ties are broken by
/// symbol id, so the same input gives the same vocabulary.
/// </summary>
public static class WordPieceTrainer
{
    /// <summary>Counts the words of <paramref name="texts"/> and learns a vocabulary from them.</summary>
    public static WordPieceTokenizer Train(IEnumerable<string> texts, WordPieceTrainerOptions? options = null)
    {
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        var words = new List<Word>();
        foreach (var text in texts)
        {
            var normalized = TextNormalizer.Normalize(text);
            words.Clear();
            WordSplitter.Split(normalized, words);
            foreach (var w in words)
            {
                var s = w.Text(normalized).ToString();
                counts[s] = counts.GetValueOrDefault(s) + 1;
            }
        }
        return Train(counts, options);
    }

    /// <summary>Learns a vocabulary from word counts (the core).</summary>
    public static WordPieceTokenizer Train(IReadOnlyDictionary<string, long> wordCounts, WordPieceTrainerOptions? options = null)
    {
        options ??= new WordPieceTrainerOptions();
        var symbols = new List<string>(WordPieceTokenizer.SpecialTokens);
        var symbolIds = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < symbols.Count; i++) symbolIds[symbols[i]] = i;

        // Word types in ordinal order, so that symbol ids (the tie-break) do not depend on input order.
        var types = wordCounts.Where(kv => kv.Key.Length <= options.MaxWordChars && kv.Value > 0)
            .OrderBy(kv => kv.Key, StringComparer.Ordinal).ToArray();

        // The alphabet: characters (runes) frequent enough, in both positions.
        var charCounts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (word, count) in types)
        {
            bool first = true;
            foreach (var rune in word.EnumerateRunes())
            {
                var s = first ? rune.ToString() : "##" + rune;
                charCounts[s] = charCounts.GetValueOrDefault(s) + count;
                first = false;
            }
        }
        foreach (var (s, _) in charCounts.Where(kv => kv.Value >= options.MinFrequency).OrderBy(kv => kv.Key, StringComparer.Ordinal))
            if (symbols.Count < options.VocabularySize && symbolIds.TryAdd(s, symbols.Count)) symbols.Add(s);

        // Each word type as a list of symbol ids (-1 for characters left out: they block merges).
        var seqs = new List<int>[types.Length];
        var freq = new long[types.Length];
        for (int w = 0; w < types.Length; w++)
        {
            freq[w] = types[w].Value;
            var seq = new List<int>();
            bool first = true;
            foreach (var rune in types[w].Key.EnumerateRunes())
            {
                seq.Add(symbolIds.GetValueOrDefault(first ? rune.ToString() : "##" + rune, -1));
                first = false;
            }
            seqs[w] = seq;
        }

        var pairCounts = new Dictionary<long, long>();
        var pairWords = new Dictionary<long, HashSet<int>>();
        for (int w = 0; w < seqs.Length; w++) AddPairs(w, +1);
        var queue = new PriorityQueue<long, (long NegCount, long Pair)>();
        foreach (var (pair, count) in pairCounts) queue.Enqueue(pair, (-count, pair));

        var changed = new HashSet<long>();
        while (symbols.Count < options.VocabularySize && queue.TryDequeue(out long best, out var priority))
        {
            long count = pairCounts.GetValueOrDefault(best);
            if (count != -priority.NegCount) continue; // stale entry: a fresher one is queued
            if (count < options.MinFrequency) break;
            int a = (int)(best >> 32), b = (int)(best & 0xFFFFFFFF);
            string merged = symbols[a] + symbols[b][2..];
            if (!symbolIds.TryGetValue(merged, out int m))
            {
                m = symbols.Count;
                symbols.Add(merged);
                symbolIds[merged] = m;
            }
            changed.Clear();
            foreach (int w in pairWords[best].ToArray())
            {
                var seq = seqs[w];
                if (!Contains(seq, a, b)) continue;
                AddPairs(w, -1, changed);
                for (int i = 0; i < seq.Count - 1; i++)
                    if (seq[i] == a && seq[i + 1] == b) { seq[i] = m; seq.RemoveAt(i + 1); }
                AddPairs(w, +1, changed);
            }
            pairCounts.Remove(best);
            foreach (long p in changed)
                if (pairCounts.TryGetValue(p, out long c) && c > 0) queue.Enqueue(p, (-c, p));
        }
        return new WordPieceTokenizer(symbols, options.MaxWordChars);

        void AddPairs(int w, int sign, HashSet<long>? touched = null)
        {
            var seq = seqs[w];
            for (int i = 0; i < seq.Count - 1; i++)
            {
                if (seq[i] < 0 || seq[i + 1] < 0) continue;
                long pair = ((long)seq[i] << 32) | (uint)seq[i + 1];
                pairCounts[pair] = pairCounts.GetValueOrDefault(pair) + sign * freq[w];
                if (sign > 0)
                {
                    if (!pairWords.TryGetValue(pair, out var set)) pairWords[pair] = set = [];
                    set.Add(w);
                }
                touched?.Add(pair);
            }
        }
    }

    private static bool Contains(List<int> seq, int a, int b)
    {
        for (int i = 0; i < seq.Count - 1; i++)
            if (seq[i] == a && seq[i + 1] == b) return true;
        return false;
    }
}
