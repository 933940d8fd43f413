using GenSearch.Tensors;

namespace GenSearch.Retrieval.Dense;

/// <summary>
/// Seeded, clustered test vectors for index tests and benchmarks: real embeddings bunch into topics,
/// and an approximate index is harder to get right on such data than on uniform noise, where every
/// point is about equally far from every other.
/// </summary>
public static class SyntheticVectors
{
    /// <summary>
    /// <paramref name="count"/> rows of <paramref name="dimension"/> floats, row-major: each row picks one
    /// of <paramref name="clusters"/> centres (standard normal) uniformly and adds normal noise of
    /// standard deviation <paramref name="spread"/>; with <paramref name="normalise"/> rows are scaled to
    /// unit length. The same arguments give the same rows.
    /// </summary>
    public static float[] Clustered(int count, int dimension, int clusters, float spread, ulong seed, bool normalise = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(clusters, 1);
        var rng = new Rng(seed);
        var centres = new float[clusters * dimension];
        rng.FillNormal(centres, 0f, 1f);
        var rows = new float[checked(count * dimension)];
        for (int i = 0; i < count; i++)
        {
            int c = rng.NextInt(clusters);
            for (int j = 0; j < dimension; j++) rows[i * dimension + j] = centres[c * dimension + j] + spread * rng.NextNormal();
        }
        if (normalise) VectorMath.NormalizeRows(rows, dimension);
        return rows;
    }
}
