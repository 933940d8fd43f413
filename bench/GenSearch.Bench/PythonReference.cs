using System.Diagnostics;
using System.Globalization;

namespace GenSearch.Bench;

/// <summary>
/// Runs a reference script (PyTorch and friends) with Debian's python, /usr/bin/python3, where the
/// reference libraries are installed, and reads its <c>name: value</c> lines. Used by benchmarks
/// only; GenSearch itself never calls Python.
/// </summary>
public static class PythonReference
{
    /// <summary>The interpreter that has torch 1.13 CPU, not the pyenv python first on PATH.</summary>
    public const string Python = "/usr/bin/python3";

    /// <summary>
    /// Runs <paramref name="script"/> (a path relative to the repository root, or absolute) with
    /// <paramref name="arguments"/> and returns every <c>name: number</c> line of its output. Throws
    /// <see cref="BenchmarkSkipped"/> when python or one of <paramref name="modules"/> is missing, and
    /// <see cref="InvalidOperationException"/> (with the script's stderr) when the script fails.
    /// </summary>
    public static Dictionary<string, double> Run(string script, IEnumerable<string> arguments,
        TimeSpan? timeout = null, params string[] modules)
    {
        if (!File.Exists(Python))
            throw new BenchmarkSkipped($"{Python} not found (apt-get install python3 python3-torch)");
        string path = Path.IsPathRooted(script) ? script : Path.Combine(RepositoryRoot(), script);
        if (!File.Exists(path))
            throw new FileNotFoundException($"reference script {path} not found", path);
        foreach (string module in modules.Length > 0 ? modules : ["torch"])
        {
            var (code, _, _) = Execute(["-c", $"import {module}"], TimeSpan.FromSeconds(60));
            if (code != 0)
                throw new BenchmarkSkipped($"python module '{module}' is not importable by {Python} (apt-get install python3-{module})");
        }

        var (exit, stdout, stderr) = Execute([path, .. arguments], timeout ?? TimeSpan.FromMinutes(10));
        if (exit != 0)
            throw new InvalidOperationException($"{path} exited with {exit}: {Tail(stderr)}");
        return Parse(stdout);
    }

    /// <summary>
    /// Reads <c>name: number</c> lines, where the name is letters, digits, '_' and '.'; other lines
    /// (progress, warnings, text figures) are not figures and are skipped.
    /// </summary>
    public static Dictionary<string, double> Parse(string output)
    {
        var figures = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (string raw in output.Split('\n'))
        {
            string line = raw.Trim();
            int colon = line.IndexOf(':');
            if (colon <= 0 || !line[..colon].All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '_' or '.')) continue;
            if (double.TryParse(line[(colon + 1)..].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
                figures[line[..colon]] = value;
        }
        return figures;
    }

    /// <summary>The figure <paramref name="name"/> from <paramref name="figures"/>, or an error naming the script.</summary>
    public static double Require(this Dictionary<string, double> figures, string name, string script) =>
        figures.TryGetValue(name, out double value) ? value
            : throw new InvalidOperationException($"{script} printed no '{name}: number' line");

    private static (int Exit, string Stdout, string Stderr) Execute(IEnumerable<string> arguments, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(Python)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in arguments) info.ArgumentList.Add(a);
        using var process = Process.Start(info) ?? throw new BenchmarkSkipped($"could not start {Python}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{Python} {string.Join(' ', arguments)} ran past {timeout}");
        }
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>The directory holding GenSearch.slnx, searched upward from the working directory.</summary>
    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "GenSearch.slnx"))) return dir.FullName;
        return Directory.GetCurrentDirectory();
    }

    private static string Tail(string text) => text.Length <= 2000 ? text : text[^2000..];
}
