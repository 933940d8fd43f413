namespace GenSearch.Quantization;

/// <summary>Lexicographic ordering of code rows, the basis of collision and prefix counting.</summary>
internal static class RowOrder
{
    /// <summary>
    /// Item indices sorted by their first <paramref name="prefix"/> tokens (row-major, <paramref name="width"/> per row,
    /// -1 for an absent token sorts first), ties by index. Rows pack into one 64-bit key when the token ranges
    /// allow (the common case, a fast primitive sort), else a comparison sort.
    /// </summary>
    public static int[] Sort(ReadOnlySpan<int> tokens, int count, int width, int prefix, IReadOnlyList<int> sizes)
    {
        var order = new int[count];
        for (int i = 0; i < count; i++) order[i] = i;
        int bits = 0;
        var shifts = new int[prefix];
        for (int p = prefix - 1; p >= 0; p--)
        {
            shifts[p] = bits;
            bits += BitsFor(sizes[p] + 1); // +1: the absent token is stored as 0, codes as code + 1
        }
        if (bits <= 63)
        {
            var keys = new ulong[count];
            for (int i = 0; i < count; i++)
            {
                ulong key = 0;
                for (int p = 0; p < prefix; p++) key |= (ulong)(tokens[i * width + p] + 1) << shifts[p];
                keys[i] = key;
            }
            // Array.Sort is unstable; stability comes from sorting (key, index) pairs via the index tie-break below.
            Array.Sort(keys, order);
            for (int s = 0; s < count;)
            {
                int e = s + 1;
                while (e < count && keys[e] == keys[s]) e++;
                if (e - s > 1) Array.Sort(order, s, e - s);
                s = e;
            }
            return order;
        }
        var copy = tokens.ToArray();
        Array.Sort(order, (a, b) =>
        {
            for (int p = 0; p < prefix; p++)
            {
                int c = copy[a * width + p].CompareTo(copy[b * width + p]);
                if (c != 0) return c;
            }
            return a.CompareTo(b);
        });
        return order;
    }

    /// <summary>Whether rows a and b agree on their first <paramref name="prefix"/> tokens.</summary>
    public static bool SamePrefix(ReadOnlySpan<int> tokens, int width, int a, int b, int prefix)
        => tokens.Slice(a * width, prefix).SequenceEqual(tokens.Slice(b * width, prefix));

    private static int BitsFor(int values) => values <= 1 ? 1 : 32 - int.LeadingZeroCount(values - 1);
}
