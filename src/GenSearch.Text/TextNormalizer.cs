using GenSearch.Text.Unicode;

namespace GenSearch.Text;

/// <summary>The normalisation every GenSearch text goes through: Unicode NFKC, then lower-casing.</summary>
public static class TextNormalizer
{
    /// <summary>NFKC (so "ﬁ", full-width "ＡＢＣ" and "½" read as "fi", "abc", "1⁄2"), then invariant lower case.</summary>
    public static string Normalize(string text)
    {
        var nfkc = Nfkc.Normalize(text);
        if (!nfkc.AsSpan().ContainsAnyInRange('A', 'Z') && System.Text.Ascii.IsValid(nfkc)) return nfkc; // nothing to lower
        return string.Create(nfkc.Length, nfkc, static (dst, src) =>
        {
            for (int i = 0; i < src.Length; i++) dst[i] = char.ToLowerInvariant(src[i]);
        });
    }
}
