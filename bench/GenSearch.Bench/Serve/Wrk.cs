using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace GenSearch.Bench.Serve;

/// <summary>What one wrk run measured. Errors are non-2xx answers plus socket errors (connect, read, write, timeout).</summary>
internal sealed record WrkResult(long Requests, double Seconds, long Non2xx, long SocketErrors, double P50Ms, double P99Ms)
{
    public double PerSecond => Requests / Seconds;
    public long Errors => Non2xx + SocketErrors;
}

/// <summary>
/// Debian's wrk on loopback: 2 threads (the machine's 2 cores), a Lua script that cycles through the
/// given request paths (each thread from its own offset) and prints its summary as one line.
/// </summary>
internal static partial class Wrk
{
    private const string Script = """
        local paths = {}
        for line in io.lines(os.getenv("GENSEARCH_WRK_PATHS")) do paths[#paths + 1] = line end
        local threads = 0
        function setup(thread)
          threads = threads + 1
          thread:set("offset", threads * 7919)
        end
        local i = 0
        function init(args) i = offset or 0 end
        function request()
          i = i % #paths + 1
          return wrk.format("GET", paths[i])
        end
        function done(summary, latency, requests)
          local e = summary.errors
          io.write(string.format("wrk-result requests=%d duration_us=%d status=%d connect=%d read=%d write=%d timeout=%d p50_us=%d p99_us=%d\n",
            summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
            latency:percentile(50), latency:percentile(99)))
        end
        """;

    /// <summary>Runs wrk against <paramref name="baseUrl"/> for <paramref name="seconds"/> with <paramref name="connections"/> connections.</summary>
    public static async Task<WrkResult> RunAsync(string baseUrl, IReadOnlyList<string> paths, int connections, int seconds, string workDir, TimeSpan timeout)
    {
        string scriptPath = Path.Combine(workDir, "cycle.lua"), pathsPath = Path.Combine(workDir, "paths.txt");
        await File.WriteAllTextAsync(scriptPath, Script);
        await File.WriteAllLinesAsync(pathsPath, paths);
        var start = new ProcessStartInfo("wrk") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-t2", $"-c{connections}", $"-d{seconds}s", $"--timeout", $"{(int)timeout.TotalSeconds}s", "-s", scriptPath, baseUrl })
            start.ArgumentList.Add(a);
        start.Environment["GENSEARCH_WRK_PATHS"] = pathsPath;
        using var process = Process.Start(start) ?? throw new InvalidOperationException("wrk did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        string output = await stdout;
        var m = ResultLine().Match(output);
        if (process.ExitCode != 0 || !m.Success)
            throw new InvalidOperationException($"wrk failed ({process.ExitCode}): {output}\n{await stderr}");
        long L(string name) => long.Parse(m.Groups[name].Value, CultureInfo.InvariantCulture);
        return new WrkResult(L("requests"), L("duration") / 1e6, L("status"), L("connect") + L("read") + L("write") + L("timeout"),
            L("p50") / 1e3, L("p99") / 1e3);
    }

    [GeneratedRegex(@"wrk-result requests=(?<requests>\d+) duration_us=(?<duration>\d+) status=(?<status>\d+) connect=(?<connect>\d+) read=(?<read>\d+) write=(?<write>\d+) timeout=(?<timeout>\d+) p50_us=(?<p50>\d+) p99_us=(?<p99>\d+)")]
    private static partial Regex ResultLine();
}
