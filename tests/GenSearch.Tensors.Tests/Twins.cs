using GenSearch.Tensors.Kernels;

namespace GenSearch.Tensors.Tests;

/// <summary>
/// Slow, obvious twins of the engine's ops: plain loops over multi-indices with double accumulation,
/// written without any of the engine's plans, strides or SIMD, so that a bug in the fast path cannot
/// hide in the twin too. Also the relative-tolerance comparison the forward tests share.
/// </summary>
public static class Twins
{
    /// <summary>Asserts |actual - expected| &lt;= atol + rtol |expected| element by element (NaN and infinities must match exactly).</summary>
    public static void AssertClose(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, double rtol = 1e-5, double atol = 1e-6, string context = "")
    {
        Assert.True(expected.Length == actual.Length, $"{context}: length {actual.Length}, expected {expected.Length}");
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            // The message is built only on failure: formatting it per element would dominate the run time.
            bool ok = double.IsNaN(e) || double.IsInfinity(e) ? e.Equals(a) : Math.Abs(a - e) <= atol + rtol * Math.Abs(e);
            if (!ok) Assert.Fail($"{context}: element {i} is {a:G9}, expected {e:G9}");
        }
    }

    /// <summary>Float overload of <see cref="AssertClose(ReadOnlySpan{double}, ReadOnlySpan{float}, double, double, string)"/>.</summary>
    public static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double rtol = 1e-5, double atol = 1e-6, string context = "")
    {
        var e = new double[expected.Length];
        for (int i = 0; i < e.Length; i++) e[i] = expected[i];
        AssertClose(e, actual, rtol, atol, context);
    }

    public static string Show(int[] shape) => "[" + string.Join(", ", shape) + "]";

    public static float[] RandomArray(int seed, int n, float low = -1f, float high = 1f)
    {
        var values = new float[n];
        new Rng((ulong)seed).FillUniform(values, low, high);
        return values;
    }

    public static Tensor Random(int seed, params int[] shape) => Tensor.Uniform(new Rng((ulong)seed), -1f, 1f, shape);

    public static long Size(int[] shape) { long s = 1; foreach (int d in shape) s *= d; return s; }

    /// <summary>The multi-index of flat position <paramref name="flat"/> in a row-major tensor of <paramref name="shape"/>.</summary>
    public static int[] Unravel(long flat, int[] shape)
    {
        var index = new int[shape.Length];
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            index[d] = (int)(flat % shape[d]);
            flat /= shape[d];
        }
        return index;
    }

    /// <summary>The flat position of <paramref name="index"/> in a row-major tensor of <paramref name="shape"/>.</summary>
    public static long Ravel(int[] index, int[] shape)
    {
        long flat = 0;
        for (int d = 0; d < shape.Length; d++) flat = flat * shape[d] + index[d];
        return flat;
    }

    /// <summary>NumPy broadcasting, element by element: out[i] = f(a[map(i)], b[map(i)]).</summary>
    public static (double[] Values, int[] Shape) Broadcast(float[] a, int[] sa, float[] b, int[] sb, Func<double, double, double> f)
    {
        int rank = Math.Max(sa.Length, sb.Length);
        var outShape = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i < rank - sa.Length ? 1 : sa[i - (rank - sa.Length)];
            int db = i < rank - sb.Length ? 1 : sb[i - (rank - sb.Length)];
            if (da != db && da != 1 && db != 1) throw new ArgumentException("twin: shapes do not broadcast");
            outShape[i] = da == 1 ? db : da;
        }
        var values = new double[Size(outShape)];
        for (long flat = 0; flat < values.Length; flat++)
        {
            var index = Unravel(flat, outShape);
            values[flat] = f(a[Source(index, sa)], b[Source(index, sb)]);
        }
        return (values, outShape);

        static long Source(int[] outIndex, int[] shape)
        {
            int shift = outIndex.Length - shape.Length;
            var index = new int[shape.Length];
            for (int d = 0; d < shape.Length; d++) index[d] = shape[d] == 1 ? 0 : outIndex[d + shift];
            return Ravel(index, shape);
        }
    }

    /// <summary>Sum, mean or max over one axis by looping over every output index.</summary>
    public static (double[] Values, int[] Shape) Reduce(float[] x, int[] shape, int axis, string kind)
    {
        int n = shape[axis];
        var outShape = shape.Where((_, i) => i != axis).ToArray();
        var values = new double[Size(outShape)];
        for (long flat = 0; flat < values.Length; flat++)
        {
            var outIndex = Unravel(flat, outShape);
            var index = new int[shape.Length];
            for (int d = 0, o = 0; d < shape.Length; d++) index[d] = d == axis ? 0 : outIndex[o++];
            double acc = kind == "max" ? double.NegativeInfinity : 0;
            for (int j = 0; j < n; j++)
            {
                index[axis] = j;
                double v = x[Ravel(index, shape)];
                acc = kind == "max" ? Math.Max(acc, v) : acc + v;
            }
            values[flat] = kind == "mean" ? (n == 0 ? 0 : acc / n) : acc; // the engine's mean over an empty axis is 0
        }
        return (values, outShape);
    }

    /// <summary>out[i0, i1, ...] = x[index with index[perm[d]] = i_d].</summary>
    public static float[] Permute(float[] x, int[] shape, int[] perm)
    {
        var outShape = perm.Select(p => shape[p]).ToArray();
        var result = new float[x.Length];
        for (long flat = 0; flat < result.Length; flat++)
        {
            var outIndex = Unravel(flat, outShape);
            var index = new int[shape.Length];
            for (int d = 0; d < perm.Length; d++) index[perm[d]] = outIndex[d];
            result[flat] = x[Ravel(index, shape)];
        }
        return result;
    }

    /// <summary>Softmax of one row in double; -infinity entries get 0, an all -infinity row is uniform (the engine's contract).</summary>
    public static double[] Softmax(ReadOnlySpan<float> row)
    {
        var p = new double[row.Length];
        double max = double.NegativeInfinity;
        foreach (float v in row) max = Math.Max(max, v);
        if (double.IsNegativeInfinity(max)) { Array.Fill(p, 1.0 / row.Length); return p; }
        double sum = 0;
        for (int j = 0; j < row.Length; j++) sum += p[j] = Math.Exp(row[j] - max);
        for (int j = 0; j < row.Length; j++) p[j] /= sum;
        return p;
    }

    /// <summary>Log-softmax of one row in double, x - max - log(sum exp(x - max)); an all -infinity row gives log(1/n), matching <see cref="Softmax"/>.</summary>
    public static double[] LogSoftmax(ReadOnlySpan<float> row)
    {
        var y = new double[row.Length];
        double max = double.NegativeInfinity;
        foreach (float v in row) max = Math.Max(max, v);
        if (double.IsNegativeInfinity(max)) { Array.Fill(y, -Math.Log(row.Length)); return y; }
        double sum = 0;
        foreach (float v in row) sum += Math.Exp(v - max);
        for (int j = 0; j < row.Length; j++) y[j] = row[j] - max - Math.Log(sum);
        return y;
    }

    /// <summary>Layer norm of one row in double with the biased variance.</summary>
    public static double[] LayerNorm(ReadOnlySpan<float> row, float[] gamma, float[] beta, double eps)
    {
        int n = row.Length;
        double mean = 0, variance = 0;
        foreach (float v in row) mean += v;
        mean /= n;
        foreach (float v in row) variance += (v - mean) * (v - mean);
        variance /= n;
        var y = new double[n];
        for (int j = 0; j < n; j++) y[j] = (row[j] - mean) / Math.Sqrt(variance + eps) * gamma[j] + beta[j];
        return y;
    }

    /// <summary>A row-major copy of the [rows, cols] matrix at <paramref name="offset"/>, transposed.</summary>
    public static float[] Transposed(float[] x, int offset, int rows, int cols)
    {
        var t = new float[rows * cols];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                t[j * rows + i] = x[offset + i * cols + j];
        return t;
    }

    /// <summary>
    /// The product each batch entry should have, made by transposing copies by hand and calling the
    /// reference GEMM without transposes: so MatMul's flags, strides and batching are all checked.
    /// </summary>
    public static float[] MatMul(Tensor a, Tensor b, bool transA, bool transB)
    {
        int m = transA ? a.Shape[^1] : a.Shape[^2], k = transA ? a.Shape[^2] : a.Shape[^1];
        int n = transB ? b.Shape[^2] : b.Shape[^1];
        int batchA = (int)Size(a.Shape[..^2]), batchB = (int)Size(b.Shape[..^2]);
        int batch = a.Rank > 2 ? batchA : batchB;
        var c = new float[batch * m * n];
        for (int t = 0; t < batch; t++)
        {
            int offA = a.Rank > 2 ? t * m * k : 0, offB = b.Rank > 2 ? t * k * n : 0;
            float[] opA = transA ? Transposed(a.Data, offA, k, m) : a.Data[offA..(offA + m * k)];
            float[] opB = transB ? Transposed(b.Data, offB, n, k) : b.Data[offB..(offB + k * n)];
            GemmReference.Sgemm(false, false, m, n, k, 1f, opA, k, opB, n, 0f, c.AsSpan(t * m * n), n);
        }
        return c;
    }
}
