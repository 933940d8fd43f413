namespace GenSearch.Data;

/// <summary>
/// An item's brand, read from its title: product catalogs such as homedepot start a title with the
/// brand ("Hampton Bay ...", "Simpson Strong-Tie 12-Gauge Angle"), but brands have one to three words
/// and nothing marks where they end. The rule: start from the title's first word and add the next
/// word while the longer prefix still begins at least <see cref="ExtendShare"/> of the titles the
/// shorter one begins (up to <see cref="MaxWords"/> words). "Hampton" -> "Hampton Bay" (nearly every
/// "Hampton" title goes on with "Bay"), but "Delta" stays "Delta": its titles go on with many product
/// lines ("Delta Vero", "Delta Leland"), none of them most. A title whose first word does not start
/// with a letter ("1/2 in. Copper Tee") has no brand.
/// </summary>
/// <remarks>
/// On homedepot the rule gives 4,275 keys; a few first words shared by several brands stay one key
/// ("Home" for Home Decorators Collection, Home Accents and others: 1,348 items; "American" 619;
/// "The" 334, together about 4% of the catalog), since no single continuation holds 80% of them.
/// A lower share split product lines off instead ("BEHR Premium Plus" from "BEHR", "Makita
/// 18-Volt LXT" from "Makita"), which is worse for a brand preference.
/// </remarks>
public static class BrandKeys
{
    /// <summary>Share of a prefix's titles that must go on with the same next word for the brand to take it.</summary>
    public const double ExtendShare = 0.8;

    /// <summary>The longest brand, in words.</summary>
    public const int MaxWords = 3;

    /// <summary>The brand of each title (null when it has none), in the order given.</summary>
    public static string?[] Of(IReadOnlyList<string> titles)
    {
        var words = titles.Select(t => t.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToArray();
        var prefixCount = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var w in words)
            for (int n = 1; n <= Math.Min(MaxWords, w.Length); n++)
                prefixCount[string.Join(' ', w, 0, n)] = prefixCount.GetValueOrDefault(string.Join(' ', w, 0, n)) + 1;

        var brands = new string?[titles.Count];
        for (int i = 0; i < words.Length; i++)
        {
            var w = words[i];
            if (w.Length == 0 || !char.IsLetter(w[0][0])) continue;
            int n = 1;
            string brand = w[0];
            while (n < Math.Min(MaxWords, w.Length))
            {
                string longer = brand + " " + w[n];
                if (prefixCount[longer] < ExtendShare * prefixCount[brand]) break;
                brand = longer;
                n++;
            }
            brands[i] = brand;
        }
        return brands;
    }

    /// <summary>
    /// True when <paramref name="queryText"/> names the brand: its first word (letters and digits,
    /// case-insensitive) is one of the query's words. "delta shower faucet" names "Delta".
    /// </summary>
    public static bool Mentions(string queryText, string brand)
    {
        string first = Normalise(brand.Split(' ', 2)[0]);
        return first.Length > 0 && Words(queryText).Contains(first);
    }

    private static HashSet<string> Words(string text) =>
        text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Select(Normalise).Where(w => w.Length > 0).ToHashSet(StringComparer.Ordinal);

    private static string Normalise(string word) => new(word.Where(char.IsLetterOrDigit).Select(char.ToLowerInvariant).ToArray());
}
