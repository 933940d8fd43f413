using System.Diagnostics;
using System.Runtime.InteropServices;
using GenSearch.Tensors.Kernels;

namespace GenSearch.Bench;

/// <summary>
/// Our packed SGEMM against OpenBLAS (Debian's pthread build, called through cblas_sgemm) on the same
/// inputs in the same run, timed alternately so that load from other processes hits both alike.
/// Square sizes, the linear-layer shapes of the reference transformer (d_model 256, FFN 1024, 4096
/// tokens) in their forward and two backward forms, and a batch of attention-sized products.
/// </summary>
public sealed unsafe class GemmBenchmark : IBenchmark
{
    private const string OpenBlasPath = "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0";
    private const int RowMajor = 101, NoTrans = 111, Trans = 112;

    public string Name => "gemm";

    public string Description => "SGEMM GFLOP/s, ours vs OpenBLAS, 1 and 2 threads: square 256..2048, model shapes, batched attention";

    private delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void> _cblasSgemm;
    private delegate* unmanaged<int, void> _setThreads;

    public IEnumerable<(string Name, double Value)> Run()
    {
        LoadOpenBlas();
        int savedThreads = KernelThreads.Count;
        try
        {
            foreach (int threads in new[] { 1, 2 })
            {
                KernelThreads.Count = threads;
                SetOpenBlasThreads(threads);
                string p = $"gemm_{threads}t";
                var ratios = new List<double>();

                foreach (int s in new[] { 256, 512, 1024, 2048 })
                {
                    // Fewer seconds at the sizes where one product already takes a good part of one.
                    foreach (var figure in Compare($"{p}_{s}", false, false, s, s, s, s <= 512 ? 0.6 : 1.2, ratios))
                        yield return figure;
                }

                // Linear layer Y[T, out] = X[T, in] * W[out, in]^T over T = 4096 tokens, and its backward:
                // dX[T, in] = dY[T, out] * W[out, in] (nn) and dW[out, in] = dY[T, out]^T * X[T, in] (tn).
                const int tokens = 4096;
                foreach (var (inDim, outDim) in new[] { (256, 1024), (1024, 256) })
                {
                    foreach (var figure in Compare($"{p}_{tokens}x{inDim}x{outDim}_nt", false, true, tokens, outDim, inDim, 0.8, ratios))
                        yield return figure;
                    foreach (var figure in Compare($"{p}_{tokens}x{outDim}x{inDim}_nn", false, false, tokens, inDim, outDim, 0.8, ratios))
                        yield return figure;
                    foreach (var figure in Compare($"{p}_{outDim}x{tokens}x{inDim}_tn", true, false, outDim, inDim, tokens, 0.8, ratios))
                        yield return figure;
                }

                foreach (var figure in CompareBatched($"{p}_batched_1024x16x64x16", 1024, 16, 16, 64, ratios))
                    yield return figure;

                yield return ($"{p}_min_vs_openblas", ratios.Min());
                yield return ($"{p}_geomean_vs_openblas", Math.Exp(ratios.Average(Math.Log)));
            }
        }
        finally
        {
            KernelThreads.Count = savedThreads;
        }
    }

    /// <summary>One product C[m, n] = op(A) op(B) with op(A) m x k: ours and OpenBLAS, alternately.</summary>
    private (string, double)[] Compare(string name, bool transA, bool transB, int m, int n, int k,
        double seconds, List<double> ratios)
    {
        float[] a = Random(m * k, 1), b = Random(k * n, 2), c = new float[m * n];
        int lda = transA ? m : k, ldb = transB ? k : n;
        int ta = transA ? Trans : NoTrans, tb = transB ? Trans : NoTrans;
        var timings = Alternate(
            () => Gemm.Sgemm(transA, transB, m, n, k, 1f, a, lda, b, ldb, 0f, c, n),
            () =>
            {
                fixed (float* pa = a, pb = b, pc = c)
                    _cblasSgemm(RowMajor, ta, tb, m, n, k, 1f, pa, lda, pb, ldb, 0f, pc, n);
            },
            seconds);
        double flops = 2.0 * m * n * k;
        return Figures(name, flops, timings, ratios);
    }

    /// <summary>
    /// Attention scores: batch products of Q[m, k] * K[n, k]^T. Ours is one batched call; OpenBLAS has no
    /// batched SGEMM, so it loops cblas_sgemm, as a framework built on it does.
    /// </summary>
    private (string, double)[] CompareBatched(string name, int batch, int m, int n, int k, List<double> ratios)
    {
        float[] a = Random(batch * m * k, 3), b = Random(batch * n * k, 4), c = new float[batch * m * n];
        var timings = Alternate(
            () => Gemm.SgemmBatched(false, true, batch, m, n, k, 1f, a, k, m * k, b, k, n * k, 0f, c, n, m * n),
            () =>
            {
                fixed (float* pa = a, pb = b, pc = c)
                {
                    for (int t = 0; t < batch; t++)
                        _cblasSgemm(RowMajor, NoTrans, Trans, m, n, k, 1f, pa + t * m * k, k, pb + t * n * k, k, 0f, pc + t * m * n, n);
                }
            },
            0.6);
        double flops = 2.0 * batch * m * n * k;
        return Figures(name, flops, timings, ratios);
    }

    /// <summary>
    /// Warms both up, then times them in turn until <paramref name="seconds"/> pass. Returns the median
    /// wall seconds of each and the median CPU seconds of the calling thread, which for one thread
    /// leaves out the time other processes held the core (both libraries then compute on the caller).
    /// </summary>
    private static Timings Alternate(Action ours, Action theirs, double seconds)
    {
        ours();
        theirs();
        List<double> a = [], b = [], aCpu = [], bCpu = [];
        var total = Stopwatch.StartNew();
        while (a.Count < 3 || (total.Elapsed.TotalSeconds < seconds && a.Count < 500))
        {
            Time(ours, a, aCpu);
            Time(theirs, b, bCpu);
        }
        return new Timings(Median(a), Median(b), Median(aCpu), Median(bCpu));
    }

    private static void Time(Action action, List<double> wall, List<double> cpu)
    {
        double cpuStart = ThreadCpuSeconds();
        long start = Stopwatch.GetTimestamp();
        action();
        wall.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
        cpu.Add(ThreadCpuSeconds() - cpuStart);
    }

    private readonly record struct Timings(double Ours, double Theirs, double OursCpu, double TheirsCpu);

    /// <summary>(name, value) figures of one comparison; single-thread runs add the CPU-time ratio.</summary>
    private static (string, double)[] Figures(string name, double flops, Timings t, List<double> ratios)
    {
        ratios.Add(t.Theirs / t.Ours);
        var figures = new List<(string, double)>
        {
            ($"{name}_gflops", flops / t.Ours / 1e9),
            ($"{name}_openblas_gflops", flops / t.Theirs / 1e9),
            ($"{name}_vs_openblas", t.Theirs / t.Ours),
        };
        if (KernelThreads.Count == 1)
        {
            figures.Add(($"{name}_cpu_gflops", flops / t.OursCpu / 1e9));
            figures.Add(($"{name}_cpu_openblas_gflops", flops / t.TheirsCpu / 1e9));
            figures.Add(($"{name}_cpu_vs_openblas", t.TheirsCpu / t.OursCpu));
        }
        return [.. figures];
    }

    private const int ClockThreadCpuTime = 3; // CLOCK_THREAD_CPUTIME_ID on Linux

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out TimeSpec time);

    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    private static double ThreadCpuSeconds() =>
        ClockGetTime(ClockThreadCpuTime, out var t) == 0 ? t.Seconds + t.Nanoseconds * 1e-9 : double.NaN;

    private static double Median(List<double> xs)
    {
        xs.Sort();
        return xs[xs.Count / 2];
    }

    private static float[] Random(int count, int seed)
    {
        var rng = new Random(seed);
        var x = new float[count];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }

    private void SetOpenBlasThreads(int threads) => _setThreads(threads);

    private void LoadOpenBlas()
    {
        if (!NativeLibrary.TryLoad(OpenBlasPath, out nint lib))
            throw new BenchmarkSkipped($"OpenBLAS not found at {OpenBlasPath} (apt-get install libopenblas0-pthread)");
        if (!NativeLibrary.TryGetExport(lib, "cblas_sgemm", out nint sgemm)
            || !NativeLibrary.TryGetExport(lib, "openblas_set_num_threads", out nint setThreads))
            throw new BenchmarkSkipped($"{OpenBlasPath} lacks cblas_sgemm or openblas_set_num_threads");
        _cblasSgemm = (delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void>)sgemm;
        _setThreads = (delegate* unmanaged<int, void>)setThreads;
    }
}
