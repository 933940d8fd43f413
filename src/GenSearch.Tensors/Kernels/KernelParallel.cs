namespace GenSearch.Tensors.Kernels;

/// <summary>
/// Spreads independent work items over <see cref="KernelThreads.Count"/> threads in contiguous runs.
/// Elementwise and row-wise kernels use it above a size where the hand-off pays for itself.
/// </summary>
public static class KernelParallel
{
    /// <summary>
    /// Runs body(0..count-1); in parallel only when there are at least <paramref name="minItemsPerThread"/>
    /// items for each thread, so that small calls stay on the caller's thread.
    /// </summary>
    public static void For(int count, int minItemsPerThread, Action<int> body)
    {
        int threads = Math.Min(KernelThreads.Count, count / Math.Max(1, minItemsPerThread));
        if (threads <= 1)
        {
            for (int i = 0; i < count; i++) body(i);
            return;
        }
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            int start = (int)((long)count * t / threads), end = (int)((long)count * (t + 1) / threads);
            for (int i = start; i < end; i++) body(i);
        });
    }

    /// <summary>
    /// Runs body(start, end) over [0, length) cut into one range per thread, each range a multiple of
    /// <paramref name="grain"/> long (but the last); serial below two grains a thread.
    /// </summary>
    public static void ForRanges(int length, int grain, Action<int, int> body)
    {
        int blocks = (length + grain - 1) / grain;
        int threads = Math.Min(KernelThreads.Count, blocks / 2);
        if (threads <= 1)
        {
            if (length > 0) body(0, length);
            return;
        }
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            int start = (int)((long)blocks * t / threads) * grain;
            int end = Math.Min(length, (int)((long)blocks * (t + 1) / threads) * grain);
            if (end > start) body(start, end);
        });
    }
}
