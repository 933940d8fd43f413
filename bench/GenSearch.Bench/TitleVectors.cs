using System.Numerics.Tensors;
using System.Text.Json;
using System.Text.RegularExpressions;
using GenSearch.Tensors.Kernels;

namespace GenSearch.Bench;

/// <summary>
/// Item vectors for a BEIR corpus without a learned item tower: TF-IDF over lower-cased word tokens,
/// reduced by a randomized truncated SVD (Halko, Martinsson and Tropp 2011) to <c>dim</c> dimensions,
/// rows L2-normalised (latent semantic analysis). A stand-in until the item encoder exists.
/// </summary>
public static partial class TitleVectors
{
    [GeneratedRegex("[a-z0-9]+")] private static partial Regex Word();

    /// <summary>Reads <c>corpus.jsonl</c> and returns (ids, vectors n x dim).</summary>
    public static (string[] Ids, float[] Vectors) Build(string corpusPath, int dim, int seed, int powerIterations = 3)
    {
        var ids = new List<string>();
        var docs = new List<string[]>();
        foreach (var line in File.ReadLines(corpusPath))
        {
            if (line.Length == 0) continue;
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            ids.Add(root.GetProperty("_id").GetString()!);
            string text = root.GetProperty("title").GetString() + " " + (root.TryGetProperty("text", out var t) ? t.GetString() : "");
            docs.Add(Word().Matches(text.ToLowerInvariant()).Select(m => m.Value).ToArray());
        }
        int n = docs.Count;
        // Vocabulary: terms in at least two titles (a term in one title cannot relate two items).
        var df = new Dictionary<string, int>();
        foreach (var d in docs) foreach (var w in d.Distinct()) df[w] = df.GetValueOrDefault(w) + 1;
        var vocab = df.Where(kv => kv.Value >= 2).Select(kv => kv.Key).Order(StringComparer.Ordinal)
            .Select((w, i) => (w, i)).ToDictionary(p => p.w, p => p.i);
        int v = vocab.Count;
        var idf = new float[v];
        foreach (var (w, i) in vocab) idf[i] = (float)(Math.Log((1.0 + n) / (1.0 + df[w])) + 1);

        // CSR rows: sublinear tf x idf, L2-normalised.
        var rowStart = new int[n + 1];
        var cols = new List<int>();
        var vals = new List<float>();
        for (int r = 0; r < n; r++)
        {
            var counts = docs[r].Where(vocab.ContainsKey).GroupBy(w => vocab[w]).OrderBy(g => g.Key).ToList();
            double norm = 0;
            int start = vals.Count;
            foreach (var g in counts)
            {
                float x = (float)(1 + Math.Log(g.Count())) * idf[g.Key];
                cols.Add(g.Key); vals.Add(x); norm += x * x;
            }
            for (int j = start; j < vals.Count; j++) vals[j] /= (float)Math.Sqrt(Math.Max(norm, 1e-12));
            rowStart[r + 1] = vals.Count;
        }
        var a = new Csr(n, v, rowStart, [.. cols], [.. vals]);
        return ([.. ids], RandomizedSvd(a, dim, seed, powerIterations));
    }

    private sealed record Csr(int Rows, int Cols, int[] RowStart, int[] Col, float[] Val);

    /// <summary>Y = A X (A sparse n x v, X dense v x l).</summary>
    private static float[] Times(Csr a, float[] x, int l)
    {
        var y = new float[a.Rows * l];
        Parallel.For(0, a.Rows, r =>
        {
            var yr = y.AsSpan(r * l, l);
            for (int p = a.RowStart[r]; p < a.RowStart[r + 1]; p++)
                TensorPrimitives.MultiplyAdd(x.AsSpan(a.Col[p] * l, l), a.Val[p], yr, yr);
        });
        return y;
    }

    /// <summary>Z = A^T Y (Y dense n x l): per-thread accumulators, then summed.</summary>
    private static float[] TransposeTimes(Csr a, float[] y, int l)
    {
        int threads = KernelThreads.Count;
        var parts = new float[threads][];
        Parallel.For(0, threads, t =>
        {
            var z = parts[t] = new float[a.Cols * l];
            int lo = (int)((long)a.Rows * t / threads), hi = (int)((long)a.Rows * (t + 1) / threads);
            for (int r = lo; r < hi; r++)
                for (int p = a.RowStart[r]; p < a.RowStart[r + 1]; p++)
                {
                    var zc = z.AsSpan(a.Col[p] * l, l);
                    TensorPrimitives.MultiplyAdd(y.AsSpan(r * l, l), a.Val[p], zc, zc);
                }
        });
        for (int t = 1; t < threads; t++) TensorPrimitives.Add(parts[0], parts[t], parts[0]);
        return parts[0];
    }

    private static float[] RandomizedSvd(Csr a, int k, int seed, int powerIterations)
    {
        int l = k + 16; // oversampling
        var rng = new Random(seed);
        var omega = new float[a.Cols * l];
        for (int i = 0; i < omega.Length; i++) omega[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
        var q = Orthonormalise(Times(a, omega, l), a.Rows, l);
        for (int it = 0; it < powerIterations; it++)
        {
            var z = Orthonormalise(TransposeTimes(a, q, l), a.Cols, l);
            q = Orthonormalise(Times(a, z, l), a.Rows, l);
        }
        // B = Q^T A (l x v); B B^T = Z^T Z with Z = A^T Q. Its eigenvectors U_B and eigenvalues S^2 give A V = Q U_B S.
        var zt = TransposeTimes(a, q, l);
        var gram = new float[l * l];
        Gemm.Sgemm(true, false, l, l, a.Cols, 1f, zt, l, zt, l, 0f, gram, l);
        var (values, vectors) = Jacobi(gram, l);
        var order = Enumerable.Range(0, l).OrderByDescending(i => values[i]).Take(k).ToArray();
        var us = new float[l * k];
        for (int c = 0; c < k; c++)
        {
            double s = Math.Sqrt(Math.Max(0, values[order[c]]));
            for (int r = 0; r < l; r++) us[r * k + c] = (float)(vectors[r * l + order[c]] * s);
        }
        var result = new float[a.Rows * k];
        Gemm.Sgemm(false, false, a.Rows, k, l, 1f, q, l, us, k, 0f, result, k);
        for (int r = 0; r < a.Rows; r++)
        {
            var row = result.AsSpan(r * k, k);
            float norm = TensorPrimitives.Norm(row);
            if (norm > 0) TensorPrimitives.Divide(row, norm, row);
        }
        return result;
    }

    /// <summary>Orthonormal columns spanning Y's (n x l) by Cholesky QR, done twice for accuracy (CholeskyQR2).</summary>
    private static float[] Orthonormalise(float[] y, int n, int l)
    {
        for (int pass = 0; pass < 2; pass++)
        {
            var g = new float[l * l];
            Gemm.Sgemm(true, false, l, l, n, 1f, y, l, y, l, 0f, g, l);
            // Cholesky G = R^T R (upper R), in double; a tiny ridge keeps rank-deficient columns finite.
            var r = new double[l * l];
            for (int i = 0; i < l; i++)
                for (int j = i; j < l; j++)
                {
                    double s = g[i * l + j] + (i == j ? 1e-6 * Math.Max(1, g[i * l + i]) : 0);
                    for (int p = 0; p < i; p++) s -= r[p * l + i] * r[p * l + j];
                    r[i * l + j] = i == j ? Math.Sqrt(Math.Max(s, 1e-12)) : s / r[i * l + i];
                }
            // Y <- Y R^-1: invert the upper-triangular R, then one GEMM.
            var inv = new double[l * l];
            for (int c = 0; c < l; c++)
            {
                inv[c * l + c] = 1 / r[c * l + c];
                for (int i = c - 1; i >= 0; i--)
                {
                    double s = 0;
                    for (int p = i + 1; p <= c; p++) s += r[i * l + p] * inv[p * l + c];
                    inv[i * l + c] = -s / r[i * l + i];
                }
            }
            var invF = inv.Select(x => (float)x).ToArray();
            var q = new float[n * l];
            Gemm.Sgemm(false, false, n, l, l, 1f, y, l, invF, l, 0f, q, l);
            y = q;
        }
        return y;
    }

    /// <summary>Eigen-decomposition of a symmetric matrix by cyclic Jacobi rotations (values, column eigenvectors).</summary>
    private static (double[] Values, double[] Vectors) Jacobi(float[] m, int n)
    {
        var a = m.Select(x => (double)x).ToArray();
        var v = new double[n * n];
        for (int i = 0; i < n; i++) v[i * n + i] = 1;
        for (int sweep = 0; sweep < 60; sweep++)
        {
            double off = 0;
            for (int i = 0; i < n; i++) for (int j = i + 1; j < n; j++) off += a[i * n + j] * a[i * n + j];
            if (off < 1e-22) break;
            for (int p = 0; p < n; p++)
                for (int q = p + 1; q < n; q++)
                {
                    double apq = a[p * n + q];
                    if (Math.Abs(apq) < 1e-300) continue;
                    double theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
                    double t = Math.Sign(theta == 0 ? 1 : theta) / (Math.Abs(theta) + Math.Sqrt(theta * theta + 1));
                    double c = 1 / Math.Sqrt(t * t + 1), s = t * c;
                    for (int k = 0; k < n; k++)
                    {
                        double akp = a[k * n + p], akq = a[k * n + q];
                        a[k * n + p] = c * akp - s * akq; a[k * n + q] = s * akp + c * akq;
                    }
                    for (int k = 0; k < n; k++)
                    {
                        double apk = a[p * n + k], aqk = a[q * n + k];
                        a[p * n + k] = c * apk - s * aqk; a[q * n + k] = s * apk + c * aqk;
                    }
                    for (int k = 0; k < n; k++)
                    {
                        double vkp = v[k * n + p], vkq = v[k * n + q];
                        v[k * n + p] = c * vkp - s * vkq; v[k * n + q] = s * vkp + c * vkq;
                    }
                }
        }
        return (Enumerable.Range(0, n).Select(i => a[i * n + i]).ToArray(), v);
    }
}
