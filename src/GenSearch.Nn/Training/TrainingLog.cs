using System.Globalization;

namespace GenSearch.Nn;

/// <summary>One row of the training log.</summary>
/// <param name="Step">Steps done after this one (1-based).</param>
/// <param name="Epoch">0-based epoch of the step.</param>
/// <param name="LearningRate">The schedule's learning rate (before group multipliers).</param>
/// <param name="Total">The loss that was minimised.</param>
/// <param name="Parts">The named parts, in the log's column order; NaN where a step did not give one.</param>
/// <param name="ExamplesPerSecond">Throughput since the run (or the resumed run) started.</param>
public sealed record TrainingLogRow(long Step, int Epoch, float LearningRate, float Total, IReadOnlyList<LossPart> Parts, double ExamplesPerSecond);

/// <summary>
/// The training log: a tab-separated file with a header <c>step epoch lr total PART... examples_per_s</c> and one row
/// per step, flushed as it goes. Floats are written round-trip exact, so a resumed run reads back the same values.
/// The part columns are those of the first logged step; a later step with a new part name is an error.
/// </summary>
public sealed class TrainingLog : IDisposable
{
    private readonly StreamWriter _writer;
    private readonly string _path;
    private string[]? _parts;                        // null until the header is written

    private TrainingLog(string path, StreamWriter writer)
    {
        _path = path;
        _writer = writer;
    }

    /// <summary>The part columns (empty until the first row when the log is new).</summary>
    public IReadOnlyList<string> PartNames => _parts ?? [];

    /// <summary>
    /// Opens the log at <paramref name="path"/> for a run that has done <paramref name="resumeStep"/> steps: rows after
    /// that step are dropped (a killed run may have logged steps past its last checkpoint) and the rows kept are
    /// returned; with <paramref name="resumeStep"/> 0 the file starts empty.
    /// </summary>
    public static (TrainingLog Log, IReadOnlyList<TrainingLogRow> Kept) Open(string path, long resumeStep)
    {
        var kept = new List<TrainingLogRow>();
        string[] parts = [];
        if (resumeStep > 0 && File.Exists(path))
        {
            (parts, var rows) = Read(path);
            kept.AddRange(rows.Where(r => r.Step <= resumeStep));
        }
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var writer = new StreamWriter(path, append: false) { NewLine = "\n" };
        var log = new TrainingLog(path, writer);
        if (kept.Count > 0) log.WriteHeader(parts);
        foreach (var row in kept) log.WriteRow(row);
        writer.Flush();
        return (log, kept);
    }

    /// <summary>Reads a log: its part columns and its rows.</summary>
    public static (string[] Parts, List<TrainingLogRow> Rows) Read(string path)
    {
        var lines = File.ReadAllLines(path);
        var rows = new List<TrainingLogRow>();
        if (lines.Length == 0) return ([], rows);
        var header = lines[0].Split('\t');
        if (header.Length < 5 || header[0] != "step" || header[^1] != "examples_per_s")
            throw new InvalidDataException($"{path}: not a training log (header '{lines[0]}')");
        var parts = header[4..^1];
        for (int i = 1; i < lines.Length; i++)
        {
            if (lines[i].Length == 0) continue;
            var cells = lines[i].Split('\t');
            if (cells.Length != header.Length) throw new InvalidDataException($"{path}: line {i + 1} has {cells.Length} cells, the header {header.Length}");
            var inv = CultureInfo.InvariantCulture;
            try
            {
                rows.Add(new TrainingLogRow(long.Parse(cells[0], inv), int.Parse(cells[1], inv), float.Parse(cells[2], inv), float.Parse(cells[3], inv),
                    parts.Select((name, j) => new LossPart(name, cells[4 + j].Length == 0 ? float.NaN : float.Parse(cells[4 + j], inv))).ToArray(),
                    double.Parse(cells[^1], inv)));
            }
            catch (FormatException e)
            {
                throw new InvalidDataException($"{path}: line {i + 1}: {e.Message}", e);
            }
        }
        return (parts, rows);
    }

    /// <summary>Appends a step; the first row of a new log fixes the part columns.</summary>
    public void Append(long step, int epoch, float learningRate, float total, IReadOnlyList<LossPart> parts, double examplesPerSecond)
    {
        var columns = _parts ?? WriteHeader(parts.Select(p => p.Name).ToArray());
        foreach (var part in parts)
            if (Array.IndexOf(columns, part.Name) < 0)
                throw new InvalidOperationException($"{_path}: step {step} gives loss part '{part.Name}', which the log's first step did not (columns: {string.Join(", ", columns)})");
        var row = columns.Select(name => parts.FirstOrDefault(p => p.Name == name, new LossPart(name, float.NaN))).ToArray();
        WriteRow(new TrainingLogRow(step, epoch, learningRate, total, row, examplesPerSecond));
        _writer.Flush();
    }

    private string[] WriteHeader(string[] parts)
    {
        _writer.WriteLine(string.Join('\t', ["step", "epoch", "lr", "total", .. parts, "examples_per_s"]));
        return _parts = parts;
    }

    private void WriteRow(TrainingLogRow row)
    {
        var inv = CultureInfo.InvariantCulture;
        _writer.WriteLine(string.Join('\t', [row.Step.ToString(inv), row.Epoch.ToString(inv), row.LearningRate.ToString("R", inv),
            row.Total.ToString("R", inv), .. row.Parts.Select(p => float.IsNaN(p.Value) ? "" : p.Value.ToString("R", inv)),
            row.ExamplesPerSecond.ToString("F1", inv)]));
    }

    /// <inheritdoc/>
    public void Dispose() => _writer.Dispose();
}
