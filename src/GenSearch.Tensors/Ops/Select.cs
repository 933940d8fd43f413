namespace GenSearch.Tensors;

public sealed partial class Tensor
{
    /// <summary>Index of the largest value in each row of the last axis (no gradient). Ties go to the lowest index.</summary>
    public int[] ArgMax() => ArgExtreme(largest: true);

    /// <summary>Index of the smallest value in each row of the last axis (no gradient). Ties go to the lowest index.</summary>
    public int[] ArgMin() => ArgExtreme(largest: false);

    private int[] ArgExtreme(bool largest)
    {
        if (Rank == 0) return [0];
        int n = Shape[^1];
        if (n == 0) Throw.Argument("ArgMax/ArgMin over an empty axis");
        int rows = Size / n;
        var result = new int[rows];
        for (int r = 0; r < rows; r++)
        {
            var row = Data.AsSpan(r * n, n);
            int best = 0;
            for (int j = 1; j < n; j++)
                if (largest ? row[j] > row[best] : row[j] < row[best]) best = j;
            result[r] = best;
        }
        return result;
    }

    /// <summary>
    /// The <paramref name="k"/> largest values of each row of the last axis, best first (no gradient).
    /// Ties keep the lower index first. Returns [rows * k] values and indices; k is capped at the row length.
    /// </summary>
    public (float[] Values, int[] Indices) TopK(int k)
    {
        if (k < 0) Throw.Argument("TopK needs k >= 0");
        int n = Rank == 0 ? 1 : Shape[^1];
        int rows = n == 0 ? 0 : Size / n;
        k = Math.Min(k, n);
        var values = new float[rows * k];
        var indices = new int[rows * k];
        for (int r = 0; r < rows; r++)
            TopKRow(Data.AsSpan(r * n, n), values.AsSpan(r * k, k), indices.AsSpan(r * k, k));
        return (values, indices);
    }

    /// <summary>Keeps a sorted list of the best k seen so far: k is small in practice (beams, top results).</summary>
    internal static void TopKRow(ReadOnlySpan<float> row, Span<float> values, Span<int> indices)
    {
        int k = values.Length, count = 0;
        if (k == 0) return; // nothing to keep (and values[k - 1] below would not exist)
        for (int j = 0; j < row.Length; j++)
        {
            float v = row[j];
            if (count == k && !(v > values[k - 1])) continue;
            int pos = count < k ? count++ : k - 1;
            while (pos > 0 && v > values[pos - 1])
            {
                values[pos] = values[pos - 1];
                indices[pos] = indices[pos - 1];
                pos--;
            }
            values[pos] = v;
            indices[pos] = j;
        }
    }
}
