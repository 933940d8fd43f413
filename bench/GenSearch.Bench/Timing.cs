using System.Diagnostics;
using System.Runtime.InteropServices;

namespace GenSearch.Bench;

/// <summary>Timing helpers. Shared, noisy machines: take the median of repeated runs after a warm-up.</summary>
public static partial class Timing
{
    /// <summary>
    /// CPU seconds the calling thread has run (Linux clock_gettime CLOCK_THREAD_CPUTIME_ID), or NaN
    /// elsewhere. On a shared machine it leaves out the time other processes held the core, so it
    /// stays readable when wall-clock latency is mostly waiting (it still includes their cache misses).
    /// </summary>
    public static double ThreadCpuSeconds()
    {
        if (!OperatingSystem.IsLinux()) return double.NaN;
        return ClockGetTime(3, out var ts) == 0 ? ts.Seconds + ts.Nanoseconds * 1e-9 : double.NaN;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out TimeSpec time);

    /// <summary>
    /// Runs <paramref name="action"/> once to warm up, then repeatedly until <paramref name="minSeconds"/>
    /// have passed and at least <paramref name="minRuns"/> runs are done; returns the median seconds per run.
    /// </summary>
    public static double MedianSeconds(Action action, double minSeconds = 1.0, int minRuns = 3, int maxRuns = 1000)
    {
        action();
        var times = new List<double>();
        var total = Stopwatch.StartNew();
        while (times.Count < maxRuns && (times.Count < minRuns || total.Elapsed.TotalSeconds < minSeconds))
        {
            long start = Stopwatch.GetTimestamp();
            action();
            times.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
        times.Sort();
        return times[times.Count / 2];
    }
}
