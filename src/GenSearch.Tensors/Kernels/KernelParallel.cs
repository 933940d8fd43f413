namespace GenSearch.Tensors.Kernels;

/// <summary>
/// Spreads independent work items over <see cref="KernelThreads.Count"/> threads in contiguous runs.
/// Elementwise and row-wise kernels use it above a size where the hand-off pays for itself. The runs
/// go to the long-lived <see cref="KernelWorkers"/> (no task allocation or thread-pool hop per call),
/// cut into a few more runs than threads so that a thread the scheduler delays leaves its share to
/// the others. Where each run starts depends only on the sizes and the thread count, never on which
/// thread ran it, so run-wise partial results (summed in run order) are reproducible.
/// </summary>
public static class KernelParallel
{
    /// <summary>Runs per thread: enough for a late thread's share to be picked up, few enough that each run stays long.</summary>
    private const int RunsPerThread = 2;

    /// <summary>
    /// Runs body(0..count-1); in parallel only when there are at least <paramref name="minItemsPerThread"/>
    /// items for each thread, so that small calls stay on the caller's thread.
    /// </summary>
    public static void For(int count, int minItemsPerThread, Action<int> body)
    {
        int perThread = Math.Max(1, minItemsPerThread);
        int threads = Math.Min(KernelThreads.Count, count / perThread);
        if (threads <= 1)
        {
            for (int i = 0; i < count; i++) body(i);
            return;
        }
        int parts = Math.Min(RunsPerThread * threads, count / perThread);
        KernelWorkers.Run(parts, threads, part =>
        {
            int start = (int)((long)count * part / parts), end = (int)((long)count * (part + 1) / parts);
            for (int i = start; i < end; i++) body(i);
        });
    }

    /// <summary>
    /// Runs body(start, end) over [0, length) cut into a few ranges per thread, each range a multiple of
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
        int parts = Math.Min(RunsPerThread * threads, blocks);
        KernelWorkers.Run(parts, threads, part =>
        {
            int start = (int)((long)blocks * part / parts) * grain;
            int end = Math.Min(length, (int)((long)blocks * (part + 1) / parts) * grain);
            if (end > start) body(start, end);
        });
    }
}
