using System.Diagnostics;
using System.Numerics.Tensors;
using GenSearch.Tensors.Kernels;

namespace GenSearch.Quantization;

/// <summary>
/// k-means with k-means++ initialisation, Lloyd or mini-batch updates, an optional cap on bucket
/// sizes (balanced k-means) and re-seeding of empty clusters. Seeded: the same options and data give
/// the same centroids. Points are row-major float32 rows of width <see cref="Dimension"/>.
/// </summary>
public sealed class KMeans
{
    private float[] _centroids;
    private float[] _norms;

    /// <summary>An untrained k-means over <paramref name="dimension"/>-wide points.</summary>
    public KMeans(int dimension, KMeansOptions? options = null)
    {
        Options = options ?? new KMeansOptions();
        Options.Validate();
        if (dimension < 1) throw new ArgumentException($"dimension must be at least 1 (got {dimension})", nameof(dimension));
        Dimension = dimension;
        _centroids = new float[Options.Clusters * dimension];
        _norms = new float[Options.Clusters];
    }

    /// <summary>A trained k-means from existing centroids (K x dimension, row-major).</summary>
    public static KMeans FromCentroids(float[] centroids, int k, int dimension, KMeansOptions? options = null)
    {
        if (centroids.Length != k * dimension) throw new ArgumentException($"centroids hold {centroids.Length} floats, not {k} x {dimension}");
        var km = new KMeans(dimension, (options ?? new KMeansOptions()) with { Clusters = k });
        km._centroids = (float[])centroids.Clone();
        km._norms = NearestCentroid.RowNorms(km._centroids, k, dimension);
        km.IsTrained = true;
        return km;
    }

    /// <summary>The parameters.</summary>
    public KMeansOptions Options { get; }
    /// <summary>Point width.</summary>
    public int Dimension { get; }
    /// <summary>Number of clusters K.</summary>
    public int K => Options.Clusters;
    /// <summary>Whether the centroids are trained or loaded.</summary>
    public bool IsTrained { get; private set; }
    /// <summary>The centroids, K x <see cref="Dimension"/>, row-major. Read-only by convention.</summary>
    public float[] Centroids => _centroids;

    /// <summary>
    /// Trains on <paramref name="count"/> points (a uniform sample of at most K x <see cref="KMeansOptions.MaxPointsPerCluster"/>
    /// of them). Returns one <see cref="TrainingStep"/> per iteration, tagged with <paramref name="level"/>.
    /// </summary>
    public IReadOnlyList<TrainingStep> Train(float[] points, int count, int level = 0)
    {
        int d = Dimension;
        if (points.Length < (long)count * d) throw new ArgumentException($"points hold {points.Length} floats, fewer than {count} x {d}");
        if (count < K) throw new ArgumentException($"k-means with {K} clusters needs at least {K} training points, got {count}");
        var rng = new Random(Options.Seed);
        var (x, n) = Sample(points, count, rng);
        InitCentroids(x, n, rng);
        bool miniBatch = Options.Mode == KMeansMode.MiniBatch || (Options.Mode == KMeansMode.Auto && n > Options.MiniBatchAbove);
        var steps = miniBatch ? TrainMiniBatch(x, n, rng, level) : TrainLloyd(x, n, level);
        IsTrained = true;
        return steps;
    }

    /// <summary>Nearest centroid of each point (and squared distance when <paramref name="distances"/> is not empty).</summary>
    public void Assign(float[] points, int count, Span<int> codes, Span<float> distances = default)
        => NearestCentroid.Assign(points, count, Dimension, _centroids, K, _norms, codes, distances);

    /// <summary>
    /// Capped assignment: each point goes to its nearest centroid that holds fewer than <paramref name="cap"/>
    /// points; points with most to lose from a detour are placed first. See <see cref="BalancedAssignment"/>.
    /// </summary>
    public void AssignBalanced(float[] points, int count, int cap, Span<int> codes, Span<float> distances = default)
        => BalancedAssignment.Assign(points, count, Dimension, _centroids, K, _norms, cap, codes, distances);

    private (float[] X, int N) Sample(float[] points, int count, Random rng)
    {
        long limit = Options.MaxPointsPerCluster == 0 ? long.MaxValue : (long)K * Options.MaxPointsPerCluster;
        if (count <= limit) return (points, count);
        return SampleRows(points, count, (int)limit, rng);
    }

    /// <summary>A uniform sample of <paramref name="n"/> of the <paramref name="count"/> rows, without replacement, in row order.</summary>
    private (float[] X, int N) SampleRows(float[] points, int count, int n, Random rng)
    {
        int d = Dimension;
        // Partial Fisher-Yates: the first n slots become a uniform sample; sorted to read memory in order.
        var index = new int[count];
        for (int i = 0; i < count; i++) index[i] = i;
        for (int i = 0; i < n; i++) { int j = rng.Next(i, count); (index[i], index[j]) = (index[j], index[i]); }
        Array.Sort(index, 0, n);
        var x = new float[(long)n * d];
        for (int i = 0; i < n; i++) points.AsSpan(index[i] * d, d).CopyTo(x.AsSpan(i * d, d));
        return (x, n);
    }

    private void InitCentroids(float[] x, int n, Random rng)
    {
        int d = Dimension;
        if (Options.Init == KMeansInit.Random)
        {
            var pick = new HashSet<int>();
            while (pick.Count < K) pick.Add(rng.Next(n));
            int c = 0;
            foreach (int i in pick.Order()) x.AsSpan(i * d, d).CopyTo(_centroids.AsSpan(c++ * d, d));
        }
        else
        {
            long limit = Options.PlusPlusPointsPerCluster == 0 ? long.MaxValue : (long)K * Options.PlusPlusPointsPerCluster;
            if (n > limit) { var (sub, m) = SampleRows(x, n, (int)limit, rng); KMeansPlusPlus(sub, m, rng); }
            else KMeansPlusPlus(x, n, rng);
        }
        _norms = NearestCentroid.RowNorms(_centroids, K, d);
    }

    /// <summary>
    /// Greedy k-means++ (as scikit-learn): each next centroid is the best, by the potential it leaves
    /// (sum of squared distances to the nearest centroid), of <see cref="KMeansOptions.PlusPlusTrials"/> points
    /// drawn with probability proportional to <c>nearest[i]</c>, point i's squared distance to the closest
    /// centroid chosen so far. Candidate distances come from one GEMM per centroid.
    /// </summary>
    private void KMeansPlusPlus(float[] x, int n, Random rng)
    {
        int d = Dimension;
        int trials = Options.PlusPlusTrials > 0 ? Options.PlusPlusTrials : 2 + (int)Math.Log(K);
        var xnorm = NearestCentroid.RowNorms(x, n, d);
        var nearest = new float[n];
        Array.Fill(nearest, float.PositiveInfinity);
        var cumulative = new double[n];
        var scores = new float[(long)n * trials];
        var candidates = new float[trials * d];
        var picks = new int[trials];
        var potential = new double[trials];
        int threads = Math.Max(1, Math.Min(KernelThreads.Count, n / 1024));
        for (int c = 0; c < K; c++)
        {
            int t = c == 0 ? 1 : trials;
            if (c == 0) picks[0] = rng.Next(n);
            else
            {
                double total = 0;
                for (int i = 0; i < n; i++) cumulative[i] = total += nearest[i];
                for (int j = 0; j < t; j++)
                {
                    // All points already coincide with centroids: any point will do.
                    if (total <= 0) { picks[j] = rng.Next(n); continue; }
                    int at = Array.BinarySearch(cumulative, rng.NextDouble() * total);
                    at = at < 0 ? ~at : at + 1;
                    picks[j] = Math.Min(at, n - 1);
                }
            }
            for (int j = 0; j < t; j++) x.AsSpan(picks[j] * d, d).CopyTo(candidates.AsSpan(j * d, d));
            Array.Clear(potential);
            var partial = new double[threads * t];
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, th =>
            {
                int lo = (int)((long)n * th / threads), hi = (int)((long)n * (th + 1) / threads);
                if (hi == lo) return;
                var s = scores.AsSpan(lo * t, (hi - lo) * t);
                Gemm.Sgemm(false, true, hi - lo, t, d, -2f, x.AsSpan(lo * d, (hi - lo) * d), d, candidates, d, 0f, s, t);
                for (int i = lo; i < hi; i++)
                    for (int j = 0; j < t; j++)
                    {
                        ref float v = ref scores[(long)i * t + j];
                        v = Math.Max(0f, v + xnorm[i] + xnorm[picks[j]]);
                        partial[th * t + j] += Math.Min(v, nearest[i]);
                    }
            });
            for (int th = 0; th < threads; th++) for (int j = 0; j < t; j++) potential[j] += partial[th * t + j];
            int best = 0;
            for (int j = 1; j < t; j++) if (potential[j] < potential[best]) best = j;
            candidates.AsSpan(best * d, d).CopyTo(_centroids.AsSpan(c * d, d));
            for (int i = 0; i < n; i++) nearest[i] = Math.Min(nearest[i], scores[(long)i * t + best]);
            nearest[picks[best]] = 0;
        }
    }

    private List<TrainingStep> TrainLloyd(float[] x, int n, int level)
    {
        int d = Dimension, cap = Options.CapFor(n);
        var codes = new int[n];
        var previous = new int[n];
        Array.Fill(previous, -1);
        var dist = new float[n];
        var steps = new List<TrainingStep>();
        double lastInertia = double.PositiveInfinity;
        for (int it = 0; it < Options.Iterations; it++)
        {
            long start = Stopwatch.GetTimestamp();
            if (cap == int.MaxValue) Assign(x, n, codes, dist);
            else AssignBalanced(x, n, cap, codes, dist);
            double inertia = 0;
            long changed = 0;
            for (int i = 0; i < n; i++)
            {
                inertia += dist[i];
                if (codes[i] != previous[i]) changed++;
            }
            int empty = UpdateMeans(x, n, codes, dist);
            (previous, codes) = (codes, previous);
            steps.Add(new TrainingStep(level, it, inertia, changed, empty, Stopwatch.GetElapsedTime(start).TotalSeconds));
            if (changed == 0 && empty == 0) break;
            if (Options.Tolerance > 0 && lastInertia - inertia < Options.Tolerance * lastInertia && empty == 0) break;
            lastInertia = inertia;
        }
        return steps;
    }

    /// <summary>Moves each centroid to its points' mean; re-seeds empty ones. Returns how many were empty.</summary>
    private int UpdateMeans(float[] x, int n, int[] codes, float[] dist)
    {
        int d = Dimension, threads = KernelThreads.Count;
        var sums = new float[threads][];
        var counts = new int[threads][];
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            var s = sums[t] = new float[K * d];
            var c = counts[t] = new int[K];
            int lo = (int)((long)n * t / threads), hi = (int)((long)n * (t + 1) / threads);
            for (int i = lo; i < hi; i++)
            {
                int code = codes[i];
                c[code]++;
                var row = s.AsSpan(code * d, d);
                TensorPrimitives.Add(row, x.AsSpan(i * d, d), row);
            }
        });
        for (int t = 1; t < threads; t++)
        {
            TensorPrimitives.Add(sums[0], sums[t], sums[0]);
            for (int k = 0; k < K; k++) counts[0][k] += counts[t][k];
        }
        var total = counts[0];
        int empty = ReseedEmpty(x, n, codes, dist, total, sums[0]);
        for (int k = 0; k < K; k++)
            if (total[k] > 0) TensorPrimitives.Multiply(sums[0].AsSpan(k * d, d), 1f / total[k], _centroids.AsSpan(k * d, d));
        _norms = NearestCentroid.RowNorms(_centroids, K, d);
        return empty;
    }

    /// <summary>
    /// An empty cluster takes over the point farthest from its centroid (among clusters with more than one
    /// point), as scikit-learn does: it splits the worst-fitted region instead of leaving a dead code.
    /// The point's contribution moves from its old cluster's sum to the new one.
    /// </summary>
    private int ReseedEmpty(float[] x, int n, int[] codes, float[] dist, int[] counts, float[] sums)
    {
        int d = Dimension, empty = 0;
        List<int>? far = null;
        int next = 0;
        for (int k = 0; k < K; k++)
        {
            if (counts[k] > 0) continue;
            empty++;
            far ??= Enumerable.Range(0, n).OrderByDescending(i => dist[i]).ThenBy(i => i).ToList();
            while (next < far.Count && counts[codes[far[next]]] <= 1) next++;
            if (next == far.Count) continue; // fewer distinct points than clusters: leave it empty
            int p = far[next++];
            int old = codes[p];
            var row = x.AsSpan(p * d, d);
            TensorPrimitives.Subtract(sums.AsSpan(old * d, d), row, sums.AsSpan(old * d, d));
            counts[old]--;
            row.CopyTo(sums.AsSpan(k * d, d));
            counts[k] = 1;
            codes[p] = k;
            dist[p] = 0;
        }
        return empty;
    }

    private List<TrainingStep> TrainMiniBatch(float[] x, int n, Random rng, int level)
    {
        int d = Dimension, batch = Math.Min(Options.MiniBatchSize, n);
        int cap = Options.BalanceFactor == 0 ? int.MaxValue : Options.CapFor(batch);
        var seen = new long[K];          // points each centroid has absorbed: its learning rate is 1/seen
        var previous = new int[n];
        Array.Fill(previous, -1);
        var order = Enumerable.Range(0, n).ToArray();
        var bx = new float[batch * d];
        var bcodes = new int[batch];
        var bdist = new float[batch];
        var bsum = new float[K * d];
        var bcount = new int[K];
        var steps = new List<TrainingStep>();
        double lastInertia = double.PositiveInfinity;
        for (int epoch = 0; epoch < Options.Iterations; epoch++)
        {
            long start = Stopwatch.GetTimestamp();
            rng.Shuffle(order);
            var hit = new bool[K];
            double inertia = 0;
            long changed = 0;
            for (int b0 = 0; b0 < n; b0 += batch)
            {
                int m = Math.Min(batch, n - b0);
                for (int i = 0; i < m; i++) x.AsSpan(order[b0 + i] * d, d).CopyTo(bx.AsSpan(i * d, d));
                if (cap == int.MaxValue || m < batch) Assign(bx, m, bcodes, bdist);
                else AssignBalanced(bx, m, cap, bcodes, bdist);
                Array.Clear(bsum);
                Array.Clear(bcount);
                for (int i = 0; i < m; i++)
                {
                    int c = bcodes[i];
                    inertia += bdist[i];
                    if (previous[order[b0 + i]] != c) { changed++; previous[order[b0 + i]] = c; }
                    hit[c] = true;
                    bcount[c]++;
                    TensorPrimitives.Add(bsum.AsSpan(c * d, d), bx.AsSpan(i * d, d), bsum.AsSpan(c * d, d));
                }
                for (int c = 0; c < K; c++)
                {
                    if (bcount[c] == 0) continue;
                    seen[c] += bcount[c];
                    // c += (sum - count * c) / seen: the running mean of every point it has absorbed.
                    var cen = _centroids.AsSpan(c * d, d);
                    float rate = 1f / seen[c];
                    TensorPrimitives.MultiplyAdd(cen, -bcount[c] * rate, cen, cen);
                    TensorPrimitives.MultiplyAdd(bsum.AsSpan(c * d, d), rate, cen, cen);
                }
                _norms = NearestCentroid.RowNorms(_centroids, K, d);
            }
            int empty = 0;
            for (int c = 0; c < K; c++)
            {
                if (hit[c]) continue;
                // A dead centroid restarts at the last batch's worst-fitted point, with a fresh learning rate.
                empty++;
                int worst = TensorPrimitives.IndexOfMax(bdist.AsSpan(0, Math.Min(batch, n)));
                bx.AsSpan(worst * d, d).CopyTo(_centroids.AsSpan(c * d, d));
                bdist[worst] = 0;
                seen[c] = 1;
            }
            if (empty > 0) _norms = NearestCentroid.RowNorms(_centroids, K, d);
            steps.Add(new TrainingStep(level, epoch, inertia, changed, empty, Stopwatch.GetElapsedTime(start).TotalSeconds));
            if (changed == 0 && empty == 0) break;
            if (Options.Tolerance > 0 && lastInertia - inertia < Options.Tolerance * lastInertia && empty == 0) break;
            lastInertia = inertia;
        }
        return steps;
    }
}
