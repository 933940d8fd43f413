using System.Globalization;

namespace GenSearch.Text;

/// <summary>What a <see cref="Word"/> is, so that later stages can treat numbers and units differently.</summary>
public enum WordKind : byte
{
    /// <summary>A run of letters (and marks), with inner apostrophes: "men's".</summary>
    Letters,
    /// <summary>A number with its inner decimal point, thousands comma or fraction slash: "1.9", "1/2", "1,000".</summary>
    Number,
    /// <summary>A unit that follows a number, in canonical form: "36 in." and "36-inch" both give "inch".</summary>
    Unit,
    /// <summary>One CJK ideograph or kana: these scripts write no spaces, so each character is a word.</summary>
    Cjk,
    /// <summary>One punctuation or symbol character.</summary>
    Symbol,
}

/// <summary>One word of a normalised text: its characters (a span of the text, or a canonical unit) and kind.</summary>
public readonly record struct Word(int Start, int Length, WordKind Kind, string? Canonical)
{
    /// <summary>The word's text within <paramref name="normalized"/>.</summary>
    public ReadOnlySpan<char> Text(ReadOnlySpan<char> normalized) =>
        Canonical is null ? normalized.Slice(Start, Length) : Canonical.AsSpan();
}

/// <summary>
/// Splits normalised text (see <see cref="TextNormalizer"/>) into words: letter runs, numbers,
/// units, single CJK characters and single symbols; whitespace separates and is dropped. Sizes keep
/// their meaning: a number keeps its decimal point or fraction ("1.9", "3/4"), letters and digits
/// split apart ("60w" is "60" "watt"), and a unit abbreviation after a number becomes a canonical
/// unit word ("36 in." and "36 inches" are both "36" "inch"; "1-gal." is "1" "gallon"), so that
/// "in." is not read as the preposition and queries meet titles however either writes the unit.
/// </summary>
public static class WordSplitter
{
    /// <summary>Unit spellings (lower case, without a trailing period) -> canonical unit word.</summary>
    private static readonly Dictionary<string, string> Units = BuildUnits();
    private static readonly Dictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> UnitLookup = Units.GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>Appends the words of <paramref name="text"/> (already normalised) to <paramref name="words"/>.</summary>
    public static void Split(ReadOnlySpan<char> text, List<Word> words)
    {
        int i = 0;
        while (i < text.Length)
        {
            char c = text[i];
            if (char.IsWhiteSpace(c) || char.IsControl(c)) { i++; continue; }
            if (char.IsAsciiDigit(c) || (char.IsDigit(c)))
            {
                int end = NumberEnd(text, i);
                words.Add(new Word(i, end - i, WordKind.Number, null));
                i = UnitsAfterNumber(text, end, words);
                continue;
            }
            if (IsCjk(c)) { words.Add(new Word(i, 1, WordKind.Cjk, null)); i++; continue; }
            if (IsLetter(text, i))
            {
                int end = i + (char.IsSurrogate(c) ? 2 : 1);
                while (end < text.Length)
                {
                    if (IsLetter(text, end) && !IsCjk(text[end])) end += char.IsSurrogate(text[end]) ? 2 : 1;
                    else if (text[end] == '\'' && end + 1 < text.Length && IsLetter(text, end + 1) && !IsCjk(text[end + 1])) end++;
                    else break;
                }
                words.Add(new Word(i, end - i, WordKind.Letters, null));
                i = end;
                continue;
            }
            int len = char.IsHighSurrogate(c) && i + 1 < text.Length ? 2 : 1;
            words.Add(new Word(i, len, WordKind.Symbol, null));
            i += len;
        }
    }

    /// <summary>The words of <paramref name="text"/> (normalised first) as strings; convenient, not the fast path.</summary>
    public static List<string> Words(string text)
    {
        var normalized = TextNormalizer.Normalize(text);
        var words = new List<Word>();
        Split(normalized, words);
        return words.Select(w => w.Text(normalized).ToString()).ToList();
    }

    private static int NumberEnd(ReadOnlySpan<char> text, int i)
    {
        while (i < text.Length)
        {
            if (char.IsDigit(text[i])) i++;
            else if ((text[i] == '.' || text[i] == ',' || text[i] == '/' || text[i] == '\u2044') && i + 1 < text.Length && char.IsDigit(text[i + 1])) i += 2;
            else break;
        }
        return i;
    }

    /// <summary>
    /// After a number: skips one optional space or hyphen, and reads a unit if one follows, taking a
    /// trailing period with it. "cu." and "sq." may be followed by a second unit ("cu. ft."). Returns
    /// where splitting resumes (just after the number when no unit follows).
    /// </summary>
    private static int UnitsAfterNumber(ReadOnlySpan<char> text, int i, List<Word> words)
    {
        for (int units = 0; units < 2; units++)
        {
            int j = i;
            if (j < text.Length && (text[j] == ' ' || text[j] == '-')) j++;
            if (j >= text.Length) return i;
            if (units == 0 && (text[j] == '"' || text[j] == '\'' || text[j] == '\u201D' || text[j] == '\u2032' || text[j] == '\u2033') && j == i)
            {
                words.Add(new Word(j, 1, WordKind.Unit, text[j] is '\'' or '\u2032' ? "foot" : "inch"));
                return j + 1;
            }
            int end = j;
            while (end < text.Length && char.IsAsciiLetterLower(text[end])) end++;
            if (end == j || (end < text.Length && char.IsLetterOrDigit(text[end]) && !char.IsAsciiDigit(text[end]))) return i;
            if (!UnitLookup.TryGetValue(text[j..end], out var canonical)) return i;
            // "2-in-1" and "3 in 1" are not inches.
            if (canonical == "inch" && text[j..end] is "in" && end + 1 < text.Length && (text[end] == '-' || text[end] == ' ') && char.IsDigit(text[end + 1])) return i;
            if (end < text.Length && text[end] == '.' && !(end + 1 < text.Length && char.IsDigit(text[end + 1]))) end++;
            words.Add(new Word(j, end - j, WordKind.Unit, canonical));
            i = end;
            if (canonical is not ("cubic" or "square")) return i;
        }
        return i;
    }

    private static bool IsLetter(ReadOnlySpan<char> text, int i)
    {
        char c = text[i];
        if (char.IsHighSurrogate(c) && i + 1 < text.Length)
            return char.IsLetter(char.ConvertToUtf32(c, text[i + 1]).ToString(), 0);
        if (char.IsLetter(c)) return true;
        var cat = char.GetUnicodeCategory(c);
        return cat is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark;
    }

    /// <summary>CJK ideographs, kana and CJK compatibility ideographs (BMP): written without spaces.</summary>
    internal static bool IsCjk(char c) =>
        c is >= '\u4E00' and <= '\u9FFF' or >= '\u3400' and <= '\u4DBF' or >= '\uF900' and <= '\uFAFF'
            or >= '\u3040' and <= '\u30FF' or >= '\u31F0' and <= '\u31FF';

    private static Dictionary<string, string> BuildUnits()
    {
        var table = new (string Canonical, string[] Spellings)[]
        {
            ("inch", ["in", "inch", "inches", "inchs"]),
            ("foot", ["ft", "foot", "feet"]),
            ("yard", ["yd", "yds", "yard", "yards"]),
            ("gallon", ["gal", "gals", "gallon", "gallons"]),
            ("quart", ["qt", "qts", "quart", "quarts"]),
            ("pint", ["pt", "pint", "pints"]),
            ("ounce", ["oz", "ounce", "ounces"]),
            ("pound", ["lb", "lbs", "pound", "pounds"]),
            ("cubic", ["cu", "cubic"]),
            ("square", ["sq", "square"]),
            ("mm", ["mm", "millimeter", "millimeters"]),
            ("cm", ["cm", "centimeter", "centimeters"]),
            ("watt", ["w", "watt", "watts"]),
            ("volt", ["v", "volt", "volts", "vac", "vdc"]),
            ("amp", ["amp", "amps", "ampere", "amperes"]),
            ("btu", ["btu", "btus"]),
            ("gpm", ["gpm"]),
            ("psi", ["psi"]),
            ("hp", ["hp"]),
            ("mil", ["mil", "mils"]),
            ("lumen", ["lumen", "lumens"]),
        };
        var units = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (canonical, spellings) in table)
            foreach (var s in spellings) units[s] = canonical;
        return units;
    }
}
