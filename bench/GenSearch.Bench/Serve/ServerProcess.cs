using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace GenSearch.Bench.Serve;

/// <summary>
/// A <c>gensearch serve</c> child process (the published CLI, artifacts/cli/gensearch.dll, which
/// bench/run builds) on a free loopback port, its log in a file; ready once /health/ready answers 200.
/// </summary>
internal sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;

    private ServerProcess(Process process, StreamWriter log, string url, string logPath)
    {
        _process = process; _log = log; Url = url; LogPath = logPath;
    }

    /// <summary>http://127.0.0.1:PORT</summary>
    public string Url { get; }

    /// <summary>The server's stdout and stderr.</summary>
    public string LogPath { get; }

    public int Pid => _process.Id;

    /// <summary>
    /// CPU seconds the server process has used (user + system, /proc/PID/stat at 100 ticks a second).
    /// Per request, it says what a search costs whatever else the machine runs.
    /// </summary>
    public double CpuSeconds()
    {
        string stat = File.ReadAllText($"/proc/{_process.Id}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' '); // after "pid (comm) ": field 3 (state) is index 0
        return (long.Parse(fields[11]) + long.Parse(fields[12])) / 100.0; // utime, stime: fields 14 and 15
    }

    public static string Cli => Path.GetFullPath("artifacts/cli/gensearch.dll");

    /// <summary>Starts <c>gensearch serve ARGS --urls http://127.0.0.1:PORT</c> and waits until it is ready (the catalog built and replayed).</summary>
    public static async Task<ServerProcess> StartAsync(IReadOnlyList<string> args, string logPath, TimeSpan readyWithin)
    {
        if (!File.Exists(Cli)) throw new BenchmarkSkipped($"{Cli} is missing: bench/run builds it (./gensearch --help)");
        string url = $"http://127.0.0.1:{FreePort()}";
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Cli);
        start.ArgumentList.Add("serve");
        foreach (var a in args) start.ArgumentList.Add(a);
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add(url);
        var log = new StreamWriter(logPath, append: true) { AutoFlush = true };
        var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new ServerProcess(process, log, url, logPath);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited)
            {
                await Task.Delay(200);
                throw new InvalidOperationException($"gensearch serve {string.Join(' ', args)} exited ({process.ExitCode}) before it was ready:\n{Tail(logPath)}");
            }
            try
            {
                if ((await http.GetAsync(url + "/health/ready")).StatusCode == HttpStatusCode.OK) return server;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { }
            if (clock.Elapsed > readyWithin)
            {
                server.Kill();
                throw new TimeoutException($"gensearch serve was not ready within {readyWithin.TotalSeconds:F0} s:\n{Tail(logPath)}");
            }
            await Task.Delay(250);
        }
    }

    /// <summary>SIGKILL: no shutdown, no flushing; what was committed is all that is left.</summary>
    public void Kill()
    {
        if (!_process.HasExited) _process.Kill();
        _process.WaitForExit();
    }

    /// <summary>SIGTERM (a graceful stop), then SIGKILL after 60 s.</summary>
    public async Task StopAsync()
    {
        if (_process.HasExited) return;
        using (var term = Process.Start("kill", ["-TERM", _process.Id.ToString()])) await term.WaitForExitAsync();
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try { await _process.WaitForExitAsync(wait.Token); }
        catch (OperationCanceledException) { Kill(); }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _process.Dispose();
        lock (_log) _log.Dispose();
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static string Tail(string path, int lines = 20)
        => File.Exists(path) ? string.Join('\n', File.ReadLines(path).TakeLast(lines)) : "(no log)";
}
