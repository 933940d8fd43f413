namespace GenSearch.Tensors.Kernels;

/// <summary>
/// A few long-lived worker threads that help run the parts of one kernel call. The caller wakes the
/// workers and then claims parts itself; every part is claimed by whichever thread gets to it first.
/// So a worker that the scheduler leaves asleep (the machine is shared) costs nothing: the caller
/// runs the remaining parts and waits only for parts a worker has actually started. Parallel.For
/// behaves similarly but pays a task allocation and a pool hand-off per call. Workers keep their
/// thread-static packing buffers from call to call.
/// </summary>
internal static class KernelWorkers
{
    private static Worker[] s_workers = [];
    private static Job? s_job;
    private static int s_busy;

    /// <summary>
    /// Runs <paramref name="body"/>(0 .. parts-1), in parallel where threads are free, and returns when
    /// all are done. A call that arrives while another is running (two requests on a server, or a
    /// kernel inside a kernel) runs its parts one after another on its own thread rather than wait.
    /// </summary>
    public static void Run(int parts, int threads, Action<int> body)
    {
        if (parts <= 1 || threads <= 1 || Interlocked.CompareExchange(ref s_busy, 1, 0) != 0)
        {
            for (int i = 0; i < parts; i++) body(i);
            return;
        }
        try
        {
            int helpers = Math.Min(parts, threads) - 1;
            if (s_workers.Length < helpers) Grow(helpers);
            var job = new Job(body, parts);
            Volatile.Write(ref s_job, job);
            for (int i = 0; i < helpers; i++) s_workers[i].Wake();
            job.Work();
            job.WaitAll();
            Volatile.Write(ref s_job, null);
            if (job.Error is not null) throw new AggregateException("a kernel part failed", job.Error);
        }
        finally
        {
            Volatile.Write(ref s_busy, 0);
        }
    }

    private static void Grow(int count)
    {
        var workers = new Worker[count];
        Array.Copy(s_workers, workers, s_workers.Length);
        for (int i = s_workers.Length; i < count; i++) workers[i] = new Worker(i + 1);
        s_workers = workers;
    }

    /// <summary>One call's parts: a claim counter, a count of unfinished parts and the event the caller waits on.</summary>
    private sealed class Job(Action<int> body, int parts)
    {
        private readonly ManualResetEventSlim _done = new(false);
        private readonly int _parts = parts;
        private int _next;
        private int _pending = parts;

        public Exception? Error { get; private set; }

        /// <summary>Claims and runs parts until none is left.</summary>
        public void Work()
        {
            int part;
            while ((part = Interlocked.Increment(ref _next) - 1) < _parts)
            {
                try
                {
                    body(part);
                }
                catch (Exception e)
                {
                    Error ??= e;
                }
                if (Interlocked.Decrement(ref _pending) == 0) _done.Set();
            }
        }

        public void WaitAll()
        {
            // Not disposed: a worker may still be inside Set when the count reaches zero, and the event
            // holds no kernel handle unless a wait blocks.
            if (Volatile.Read(ref _pending) != 0) _done.Wait();
        }
    }

    private sealed class Worker
    {
        private readonly SemaphoreSlim _wake = new(0);

        public Worker(int index)
        {
            var thread = new Thread(Loop) { IsBackground = true, Name = $"GenSearch kernel worker {index}" };
            thread.Start();
        }

        public void Wake() => _wake.Release();

        private void Loop()
        {
            while (true)
            {
                _wake.Wait();
                // A late wake may find the job finished (nothing left to claim) or a newer one to help with.
                Volatile.Read(ref s_job)?.Work();
            }
        }
    }
}
