namespace GenSearch.Retrieval.Generative;

/// <summary>
/// Non-negative integers below a bound, each in the narrowest of 1, 2 or 4 bytes that holds the bound:
/// a level's codes (a codebook of 256 takes one byte a code instead of four).
/// </summary>
public sealed class PackedInts
{
    private readonly byte[]? _bytes;
    private readonly ushort[]? _shorts;
    private readonly int[]? _ints;

    /// <summary><paramref name="count"/> zeros, each to hold values below <paramref name="bound"/>.</summary>
    public PackedInts(int count, int bound)
    {
        if (count < 0 || bound <= 0) throw new ArgumentOutOfRangeException(nameof(bound), $"need count >= 0 and bound > 0, got {count} and {bound}");
        Count = count;
        Bound = bound;
        if (bound <= 1 << 8) _bytes = new byte[count];
        else if (bound <= 1 << 16) _shorts = new ushort[count];
        else _ints = new int[count];
    }

    /// <summary>Number of values.</summary>
    public int Count { get; }

    /// <summary>Every value is below this.</summary>
    public int Bound { get; }

    /// <summary>Bytes of the values.</summary>
    public long Bytes => _bytes is not null ? Count : _shorts is not null ? 2L * Count : 4L * Count;

    /// <summary>Value <paramref name="i"/>; setting checks the bound.</summary>
    public int this[int i]
    {
        get => _bytes is not null ? _bytes[i] : _shorts is not null ? _shorts[i] : _ints![i];
        set
        {
            if ((uint)value >= (uint)Bound) throw new ArgumentOutOfRangeException(nameof(value), $"{value} is outside 0..{Bound - 1}");
            if (_bytes is not null) _bytes[i] = (byte)value;
            else if (_shorts is not null) _shorts[i] = (ushort)value;
            else _ints![i] = value;
        }
    }

    /// <summary>Copies values [<paramref name="start"/>, start + count) to <paramref name="to"/> from <paramref name="at"/> (same bound: a block copy).</summary>
    public void CopyTo(int start, PackedInts to, int at, int count)
    {
        if (to.Bound != Bound) throw new ArgumentException($"values below {Bound} copied to an array of values below {to.Bound}");
        if (_bytes is not null) Array.Copy(_bytes, start, to._bytes!, at, count);
        else if (_shorts is not null) Array.Copy(_shorts, start, to._shorts!, at, count);
        else Array.Copy(_ints!, start, to._ints!, at, count);
    }

    /// <summary>The first index in [<paramref name="lo"/>, <paramref name="hi"/>) whose value is at least <paramref name="value"/> (values ascending there), or hi.</summary>
    public int LowerBound(int lo, int hi, int value)
    {
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (this[mid] < value) lo = mid + 1; else hi = mid;
        }
        return lo;
    }
}

/// <summary>
/// Semantic IDs of fixed length stored by level (column l holds every item's level-l code, packed
/// to the level's codebook size): 4 bytes an item for 3 x 256 codes plus a collision level of up to
/// 256, against 16 bytes plus an array header for an int[] per item.
/// </summary>
public sealed class LevelCodes
{
    private readonly PackedInts[] _levels;

    /// <summary><paramref name="count"/> IDs of levels with codebooks of <paramref name="levelSizes"/>, all codes 0.</summary>
    public LevelCodes(int count, IReadOnlyList<int> levelSizes)
    {
        _levels = levelSizes.Select(k => new PackedInts(count, k)).ToArray();
        Count = count;
    }

    /// <summary>Number of IDs.</summary>
    public int Count { get; }

    /// <summary>Codes per ID.</summary>
    public int Levels => _levels.Length;

    /// <summary>Bytes of the codes.</summary>
    public long Bytes => _levels.Sum(l => l.Bytes);

    /// <summary>The level-<paramref name="level"/> codes of every item.</summary>
    public PackedInts Level(int level) => _levels[level];

    /// <summary>Item <paramref name="item"/>'s code at <paramref name="level"/>.</summary>
    public int this[int item, int level] => _levels[level][item];

    /// <summary>Sets item <paramref name="item"/>'s ID (checks its length and every code's range).</summary>
    public void Set(int item, ReadOnlySpan<int> codes)
    {
        if (codes.Length != _levels.Length) throw new ArgumentException($"an ID of {codes.Length} codes where the IDs have {_levels.Length} levels");
        for (int l = 0; l < codes.Length; l++) _levels[l][item] = codes[l];
    }

    /// <summary>Item <paramref name="item"/>'s ID as a new array.</summary>
    public int[] Get(int item)
    {
        var codes = new int[_levels.Length];
        for (int l = 0; l < codes.Length; l++) codes[l] = _levels[l][item];
        return codes;
    }

    /// <summary>Compares item a's ID with item b's, level by level.</summary>
    public int Compare(int a, int b)
    {
        foreach (var level in _levels)
        {
            int c = level[a].CompareTo(level[b]);
            if (c != 0) return c;
        }
        return 0;
    }
}
