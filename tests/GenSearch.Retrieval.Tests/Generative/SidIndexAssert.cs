using GenSearch.Retrieval.Generative;

namespace GenSearch.Retrieval.Tests.Generative;

/// <summary>Compares two ID indexes by what they answer (state numbers may differ): walks both from the root together.</summary>
internal static class SidIndexAssert
{
    /// <summary>Same tokens allowed, same completeness, same items at and under every prefix either holds (each index's <see cref="ISidIndex.ItemsUnder"/> against the walk), and -1 for a token neither allows.</summary>
    public static void Same(ISidIndex expected, ISidIndex actual)
    {
        Assert.Equal(expected.ItemCount, actual.ItemCount);
        Walk(expected, expected.Root, actual, actual.Root, []);
    }

    private static void Walk(ISidIndex expected, int e, ISidIndex actual, int a, List<int> prefix)
    {
        string at = $"prefix [{string.Join(",", prefix)}]";
        var tokens = expected.AllowedTokens(e);
        Assert.True(tokens.SequenceEqual(actual.AllowedTokens(a)), $"{at}: allowed [{string.Join(",", tokens)}] expected, " +
                                                                   $"[{string.Join(",", actual.AllowedTokens(a))}] given");
        Assert.True(expected.IsComplete(e) == actual.IsComplete(a), $"{at}: IsComplete differs");
        Assert.True(expected.ItemsAt(e).SequenceEqual(actual.ItemsAt(a)), $"{at}: items [{string.Join(",", expected.ItemsAt(e))}] expected, " +
                                                                          $"[{string.Join(",", actual.ItemsAt(a))}] given");
        var under = new List<int>();
        expected.ItemsUnderByWalking(e, under);
        under.Sort();
        foreach (var (index, state) in new[] { (expected, e), (actual, a) })
        {
            var fast = new List<int>();
            index.ItemsUnder(state, fast); // the fast path of each index against the walk
            fast.Sort();
            Assert.True(under.SequenceEqual(fast), $"{at}: items under [{string.Join(",", under)}] expected, [{string.Join(",", fast)}] from {index.GetType().Name}");
        }
        // A token just past the allowed ones, and one between, lead nowhere in both.
        int outside = tokens.Length == 0 ? 1 : tokens[^1] + 1;
        Assert.Equal(-1, actual.Advance(a, outside));
        foreach (int t in tokens)
        {
            int ne = expected.Advance(e, t), na = actual.Advance(a, t);
            Assert.True(na >= 0, $"{at}: token {t} allowed but Advance gives -1");
            prefix.Add(t);
            Walk(expected, ne, actual, na, prefix);
            prefix.RemoveAt(prefix.Count - 1);
        }
    }
}
