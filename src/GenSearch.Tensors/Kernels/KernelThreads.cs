namespace GenSearch.Tensors.Kernels;

/// <summary>
/// How many threads the kernels may use. One process-wide setting, so that a benchmark can pin
/// the engine to one or two cores and a server can leave cores to request handling.
/// </summary>
public static class KernelThreads
{
    private static int s_count = Environment.ProcessorCount;

    /// <summary>Threads the kernels may use (at least 1). Defaults to the processor count.</summary>
    public static int Count
    {
        get => s_count;
        set => s_count = Math.Max(1, value);
    }
}
