namespace GenSearch.Retrieval.Dense;

/// <summary>
/// The slow, obvious twin of <see cref="FlatIndex"/>: for each query, a loop of dot products (or
/// distances) in double precision over every item, then a full sort, best first, ties to the lower
/// row id. Tests hold the fast index against it; nothing on a hot path calls it.
/// </summary>
public static class ExactSearchReference
{
    /// <summary>
    /// Searches <paramref name="queries"/> ([n, dimension]) against <paramref name="items"/>
    /// ([count, dimension]) and returns min(k, count) hits per query. Under cosine both sides are
    /// normalised here, in double precision.
    /// </summary>
    public static VectorHit[][] Search(ReadOnlySpan<float> items, ReadOnlySpan<float> queries, int dimension, VectorMetric metric, int k)
    {
        VectorMath.CheckK(k);
        int count = VectorMath.CheckRows(items, dimension, nameof(items));
        int n = VectorMath.CheckRows(queries, dimension, nameof(queries));
        var result = new VectorHit[n][];
        var all = new (double Score, int Id)[count];
        for (int i = 0; i < n; i++)
        {
            var q = queries.Slice(i * dimension, dimension);
            for (int j = 0; j < count; j++) all[j] = (Score(metric, q, items.Slice(j * dimension, dimension)), j);
            Array.Sort(all, (a, b) => a.Score != b.Score ? b.Score.CompareTo(a.Score) : a.Id.CompareTo(b.Id));
            result[i] = all.Take(Math.Min(k, count)).Select(h => new VectorHit(h.Id, (float)h.Score)).ToArray();
        }
        return result;
    }

    /// <summary>The score of query <paramref name="q"/> against item <paramref name="x"/>, in double precision.</summary>
    public static double Score(VectorMetric metric, ReadOnlySpan<float> q, ReadOnlySpan<float> x)
    {
        double dot = 0, qq = 0, xx = 0, dist = 0;
        for (int p = 0; p < q.Length; p++)
        {
            dot += (double)q[p] * x[p];
            qq += (double)q[p] * q[p];
            xx += (double)x[p] * x[p];
            double d = (double)q[p] - x[p];
            dist += d * d;
        }
        return metric switch
        {
            VectorMetric.InnerProduct => dot,
            VectorMetric.Cosine => qq > 0 && xx > 0 ? dot / (Math.Sqrt(qq) * Math.Sqrt(xx)) : 0,
            VectorMetric.L2 => -dist,
            _ => throw new ArgumentOutOfRangeException(nameof(metric), metric, "unknown metric"),
        };
    }
}
