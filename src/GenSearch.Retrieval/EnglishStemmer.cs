namespace GenSearch.Retrieval;

/// <summary>
/// The Porter2 ("Snowball English") stemmer, written from the algorithm's published description
/// (snowballstem.org/algorithms/english/stemmer.html): "consigned", "consigning" and "consignment"
/// all become "consign". Input is one lower-case word; words of two letters or fewer, and words
/// without letters a-z, come back unchanged. Thread-safe.
/// </summary>
public static class EnglishStemmer
{
    private static readonly Dictionary<string, string> Exceptions1 = new(StringComparer.Ordinal)
    {
        ["skis"] = "ski", ["skies"] = "sky", ["dying"] = "die", ["lying"] = "lie", ["tying"] = "tie",
        ["idly"] = "idl", ["gently"] = "gentl", ["ugly"] = "ugli", ["early"] = "earli", ["only"] = "onli",
        ["singly"] = "singl", ["sky"] = "sky", ["news"] = "news", ["howe"] = "howe", ["atlas"] = "atlas",
        ["cosmos"] = "cosmos", ["bias"] = "bias", ["andes"] = "andes",
    };
    private static readonly HashSet<string> Exceptions2 = new(StringComparer.Ordinal)
        { "inning", "outing", "canning", "herring", "earring", "proceed", "exceed", "succeed" };

    private static readonly (string Suffix, string Replacement)[] Step2Rules =
    [
        ("ization", "ize"), ("ational", "ate"), ("fulness", "ful"), ("ousness", "ous"), ("iveness", "ive"),
        ("tional", "tion"), ("biliti", "ble"), ("lessli", "less"), ("entli", "ent"), ("ation", "ate"),
        ("alism", "al"), ("aliti", "al"), ("ousli", "ous"), ("iviti", "ive"), ("fulli", "ful"),
        ("enci", "ence"), ("anci", "ance"), ("abli", "able"), ("izer", "ize"), ("ator", "ate"),
        ("alli", "al"), ("bli", "ble"), ("ogi", "og"), ("li", ""),
    ];
    private static readonly (string Suffix, string Replacement)[] Step3Rules =
    [
        ("ational", "ate"), ("tional", "tion"), ("alize", "al"), ("icate", "ic"), ("iciti", "ic"),
        ("ative", ""), ("ical", "ic"), ("ness", ""), ("ful", ""),
    ];
    private static readonly string[] Step4Suffixes =
    [
        "ement", "ance", "ence", "able", "ible", "ment", "ant", "ent", "ism", "ate", "iti", "ous", "ive", "ize",
        "ion", "al", "er", "ic",
    ];

    /// <summary>The stem of <paramref name="word"/> (lower case expected).</summary>
    public static string Stem(string word)
    {
        if (word.Length <= 2) return word;
        if (Exceptions1.TryGetValue(word, out var exception)) return exception;
        foreach (char ch in word) if (ch is < 'a' or > 'z') { if (ch != '\'') return word; }

        var w = new System.Text.StringBuilder(word);
        if (w[0] == '\'') w.Remove(0, 1);
        if (w.Length == 0) return word;
        // Y marks a consonant y: initial, or after a vowel.
        if (w[0] == 'y') w[0] = 'Y';
        for (int i = 1; i < w.Length; i++) if (w[i] == 'y' && IsVowel(w[i - 1])) w[i] = 'Y';

        int r1 = R1(w), r2 = NextRegion(w, r1);

        // Step 0: possessive apostrophes.
        if (EndsWith(w, "'s'")) w.Length -= 3;
        else if (EndsWith(w, "'s")) w.Length -= 2;
        else if (EndsWith(w, "'")) w.Length -= 1;

        // Step 1a
        if (EndsWith(w, "sses")) w.Length -= 2;
        else if (EndsWith(w, "ied") || EndsWith(w, "ies")) { w.Length -= w.Length > 4 ? 2 : 1; }
        else if (EndsWith(w, "us") || EndsWith(w, "ss")) { }
        else if (EndsWith(w, "s") && HasVowel(w, 0, w.Length - 2)) w.Length -= 1;

        if (Exceptions2.Contains(w.ToString())) return w.ToString();

        Step1b(w, r1);

        // Step 1c: y -> i after a consonant that is not the first letter.
        if (w.Length > 2 && (w[^1] == 'y' || w[^1] == 'Y') && !IsVowel(w[^2])) w[^1] = 'i';

        // Step 2
        foreach (var (suffix, replacement) in Step2Rules)
        {
            if (!EndsWith(w, suffix)) continue;
            int start = w.Length - suffix.Length;
            if (start >= r1)
            {
                if (suffix == "ogi") { if (start > 0 && w[start - 1] == 'l') Replace(w, suffix, replacement); }
                else if (suffix == "li") { if (start > 0 && "cdeghkmnrt".Contains(w[start - 1])) Replace(w, suffix, replacement); }
                else Replace(w, suffix, replacement);
            }
            break;
        }

        // Step 3
        foreach (var (suffix, replacement) in Step3Rules)
        {
            if (!EndsWith(w, suffix)) continue;
            int start = w.Length - suffix.Length;
            if (start >= r1 && (suffix != "ative" || start >= r2)) Replace(w, suffix, replacement);
            break;
        }

        // Step 4
        foreach (var suffix in Step4Suffixes)
        {
            if (!EndsWith(w, suffix)) continue;
            int start = w.Length - suffix.Length;
            if (start >= r2 && (suffix != "ion" || (start > 0 && w[start - 1] is 's' or 't'))) w.Length = start;
            break;
        }

        // Step 5
        if (EndsWith(w, "e"))
        {
            int start = w.Length - 1;
            if (start >= r2 || (start >= r1 && !EndsInShortSyllable(w, start))) w.Length = start;
        }
        else if (EndsWith(w, "l") && w.Length - 1 >= r2 && w.Length >= 2 && w[^2] == 'l') w.Length -= 1;

        for (int i = 0; i < w.Length; i++) if (w[i] == 'Y') w[i] = 'y';
        return w.ToString();
    }

    private static void Step1b(System.Text.StringBuilder w, int r1)
    {
        string[] order = ["eedly", "ingly", "edly", "eed", "ing", "ed"];
        foreach (var suffix in order)
        {
            if (!EndsWith(w, suffix)) continue;
            int start = w.Length - suffix.Length;
            if (suffix is "eed" or "eedly")
            {
                if (start >= r1) { w.Length = start; w.Append("ee"); }
                return;
            }
            if (!HasVowel(w, 0, start)) return;
            w.Length = start;
            if (EndsWith(w, "at") || EndsWith(w, "bl") || EndsWith(w, "iz")) w.Append('e');
            else if (EndsWithDouble(w)) w.Length -= 1;
            else if (IsShortWord(w, r1)) w.Append('e');
            return;
        }
    }

    private static bool IsVowel(char c) => c is 'a' or 'e' or 'i' or 'o' or 'u' or 'y';

    private static bool HasVowel(System.Text.StringBuilder w, int from, int to)
    {
        for (int i = from; i < to; i++) if (IsVowel(w[i])) return true;
        return false;
    }

    private static int R1(System.Text.StringBuilder w)
    {
        var s = w.ToString();
        foreach (var prefix in (string[])["gener", "commun", "arsen"])
            if (s.StartsWith(prefix, StringComparison.Ordinal)) return prefix.Length;
        return NextRegion(w, 0);
    }

    /// <summary>The start of the region after the first non-vowel that follows a vowel, at or after <paramref name="from"/>.</summary>
    private static int NextRegion(System.Text.StringBuilder w, int from)
    {
        for (int i = from + 1; i < w.Length; i++)
            if (!IsVowel(w[i]) && IsVowel(w[i - 1])) return i + 1;
        return w.Length;
    }

    /// <summary>
    /// A short syllable ending at <paramref name="end"/> (exclusive): non-vowel, vowel, non-vowel other
    /// than w, x or Y; or, at the start of the word, vowel then non-vowel.
    /// </summary>
    private static bool EndsInShortSyllable(System.Text.StringBuilder w, int end)
    {
        if (end == 2) return IsVowel(w[0]) && !IsVowel(w[1]);
        if (end < 3) return false;
        char a = w[end - 3], b = w[end - 2], c = w[end - 1];
        return !IsVowel(a) && IsVowel(b) && !IsVowel(c) && c is not ('w' or 'x' or 'Y');
    }

    private static bool IsShortWord(System.Text.StringBuilder w, int r1) => r1 >= w.Length && EndsInShortSyllable(w, w.Length);

    private static bool EndsWithDouble(System.Text.StringBuilder w) =>
        w.Length >= 2 && w[^1] == w[^2] && w[^1] is 'b' or 'd' or 'f' or 'g' or 'm' or 'n' or 'p' or 'r' or 't';

    private static bool EndsWith(System.Text.StringBuilder w, string suffix)
    {
        if (w.Length < suffix.Length) return false;
        for (int i = 0; i < suffix.Length; i++)
            if (w[w.Length - suffix.Length + i] != suffix[i]) return false;
        return true;
    }

    private static void Replace(System.Text.StringBuilder w, string suffix, string replacement)
    {
        w.Length -= suffix.Length;
        w.Append(replacement);
    }
}
