using System.Text.Unicode;

namespace GenSearch.Server;

/// <summary>
/// Checks of query text. ASP.NET Core decodes a query string's percent escapes leniently (bytes that
/// are not UTF-8 become U+FFFD), so invalid UTF-8 is found in the raw string, before decoding.
/// </summary>
internal static class QueryText
{
    /// <summary>Whether the raw query string (<c>?a=b%20c</c>) decodes to valid UTF-8.</summary>
    public static bool IsValidUtf8(string? rawQuery)
    {
        if (string.IsNullOrEmpty(rawQuery) || !rawQuery.Contains('%')) return true; // nothing escaped: ASCII as Kestrel took it
        var bytes = new List<byte>(rawQuery.Length);
        for (int i = 0; i < rawQuery.Length; i++)
        {
            char c = rawQuery[i];
            if (c == '%' && i + 2 < rawQuery.Length && Uri.IsHexDigit(rawQuery[i + 1]) && Uri.IsHexDigit(rawQuery[i + 2]))
            {
                bytes.Add((byte)Convert.ToInt32(rawQuery.Substring(i + 1, 2), 16));
                i += 2;
            }
            else if (c < 0x80) bytes.Add((byte)c);
            else return true; // already decoded text (Kestrel refuses raw non-ASCII bytes in a request target)
        }
        return Utf8.IsValid(bytes.ToArray());
    }

    /// <summary>The query text, checked: present, not blank, not over the limit, and no U+FFFD from a bad UTF-8 body.</summary>
    public static string Check(string? text, int maxChars)
    {
        if (text is null) throw new ApiException(400, "q (the query text) is required");
        if (string.IsNullOrWhiteSpace(text)) throw new ApiException(400, "q (the query text) is empty");
        if (text.Length > maxChars) throw new ApiException(400, $"q is {text.Length:N0} characters long; the limit is {maxChars:N0}");
        return text;
    }
}
