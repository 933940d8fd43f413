using System.Collections.Concurrent;

namespace GenSearch.Server;

/// <summary>
/// Runs searches on threads of their own (one per core by default), not on the thread pool. A search
/// is CPU work that does not yield; run on the pool, 64 busy connections filled the pool's queue with
/// searches and every other request (a catalog PUT, its store commit, each await of it) waited behind
/// them, hop after hop: under generative load a new item was found 0.7 s after its PUT at the median
/// and 2.4 s at p99 (bench/RESULTS.md, ## serve). Here searches queue in their own line, the pool stays
/// free for I/O and writes, and the operating system shares the cores between the two.
/// A search whose client has gone is dropped when its turn comes.
/// </summary>
internal sealed class SearchWorkers : IDisposable
{
    private readonly BlockingCollection<Work> _queue = new();
    private readonly Thread[] _threads;

    private sealed record Work(Action Run, CancellationToken Aborted, Action Cancel);

    /// <summary>Starts <paramref name="threads"/> search threads.</summary>
    public SearchWorkers(int threads)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), $"search threads must be at least 1, got {threads}");
        _threads = new Thread[threads];
        for (int i = 0; i < threads; i++)
        {
            _threads[i] = new Thread(Loop) { IsBackground = true, Name = $"search-{i}" };
            _threads[i].Start();
        }
    }

    /// <summary>Threads searching.</summary>
    public int Threads => _threads.Length;

    /// <summary>Searches queued and not yet started.</summary>
    public int Queued => _queue.Count;

    /// <summary>Runs <paramref name="search"/> on a search thread; its exception, if any, comes back through the task.</summary>
    public Task<T> RunAsync<T>(Func<T> search, CancellationToken aborted)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _queue.Add(new Work(() =>
        {
            try { done.SetResult(search()); }
            catch (Exception e) { done.SetException(e); }
        }, aborted, () => done.TrySetCanceled(aborted)));
        return done.Task;
    }

    private void Loop()
    {
        foreach (var work in _queue.GetConsumingEnumerable())
        {
            if (work.Aborted.IsCancellationRequested) work.Cancel();
            else work.Run();
        }
    }

    /// <summary>Lets the queued searches finish, then ends the threads.</summary>
    public void Dispose()
    {
        _queue.CompleteAdding();
        foreach (var thread in _threads) thread.Join();
        _queue.Dispose();
    }
}
