using System.Diagnostics;

namespace GenSearch.Bench;

/// <summary>Timing helpers. Shared, noisy machines: take the median of repeated runs after a warm-up.</summary>
public static class Timing
{
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
