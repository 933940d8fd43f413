using GenSearch.Tensors.Kernels;

namespace GenSearch.Tensors.Tests;

/// <summary>The work splitters on the kernel workers: every item exactly once, ranges on grain boundaries.</summary>
[Collection(KernelThreadsCollection.Name)]
public class KernelParallelTests
{
    [Fact]
    public void ForVisitsEveryItemOnceAtAnyThreadCount()
    {
        int saved = KernelThreads.Count;
        try
        {
            foreach (int threads in new[] { 1, 2, 3, 8 })
            {
                KernelThreads.Count = threads;
                foreach (int count in new[] { 0, 1, 2, 7, 8, 9, 64, 1001 })
                    foreach (int min in new[] { 1, 4, 100 })
                    {
                        var hits = new int[count];
                        KernelParallel.For(count, min, i => Interlocked.Increment(ref hits[i]));
                        Assert.All(hits, h => Assert.Equal(1, h));
                    }
            }
        }
        finally
        {
            KernelThreads.Count = saved;
        }
    }

    [Fact]
    public void ForRangesCoversTheLengthOnceOnGrainBoundaries()
    {
        int saved = KernelThreads.Count;
        try
        {
            foreach (int threads in new[] { 1, 2, 3, 8 })
            {
                KernelThreads.Count = threads;
                foreach (int length in new[] { 0, 1, 15, 16, 17, 63, 64, 65, 1000, 4099 })
                    foreach (int grain in new[] { 1, 4, 16 })
                    {
                        var hits = new int[length];
                        var starts = new System.Collections.Concurrent.ConcurrentBag<int>();
                        KernelParallel.ForRanges(length, grain, (start, end) =>
                        {
                            Assert.True(start < end, $"empty range [{start}, {end})");
                            starts.Add(start);
                            for (int i = start; i < end; i++) Interlocked.Increment(ref hits[i]);
                        });
                        Assert.All(hits, h => Assert.Equal(1, h));
                        Assert.All(starts, s => Assert.Equal(0, s % grain));
                    }
            }
        }
        finally
        {
            KernelThreads.Count = saved;
        }
    }

    [Fact]
    public void AFailingItemSurfacesAsAnException()
    {
        int saved = KernelThreads.Count;
        try
        {
            KernelThreads.Count = 2;
            var e = Assert.ThrowsAny<Exception>(() => KernelParallel.For(100, 1, i => { if (i == 77) throw new InvalidOperationException("item 77"); }));
            Assert.Contains("item 77", e.ToString());
        }
        finally
        {
            KernelThreads.Count = saved;
        }
    }
}
