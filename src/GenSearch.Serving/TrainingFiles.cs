using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using GenSearch.Nn;

namespace GenSearch.Serving;

/// <summary>
/// The loss curves of <c>training-log.tsv</c>, thinned for drawing: each point is the mean of
/// <see cref="StepsPerPoint"/> consecutive steps (the last point of fewer), so a long run draws as
/// a few hundred points and the noise of single batches averages out.
/// </summary>
/// <param name="Rows">Steps the log holds.</param>
/// <param name="StepsPerPoint">Steps averaged into one point.</param>
/// <param name="Step">The last step of each point.</param>
/// <param name="Epoch">The epoch of each point's last step.</param>
/// <param name="LearningRate">The mean learning rate of each point.</param>
/// <param name="Total">The loss that was minimised; null where it was not a finite number (a diverged run).</param>
/// <param name="Parts">Each named loss part, in the log's column order; null where none of a point's steps gave a finite one.</param>
public sealed record TrainingCurves(int Rows, int StepsPerPoint, long[] Step, int[] Epoch, double[] LearningRate, double?[] Total,
    IReadOnlyDictionary<string, double?[]> Parts);

/// <summary>One row of <c>codebook-health.tsv</c> (unified training writes one per epoch, and one for the final IDs).</summary>
/// <param name="Epoch">The epoch at whose start the catalog was encoded.</param>
/// <param name="Churn">Share of items whose ID changed since the previous row; null for the first.</param>
/// <param name="CollisionRate">Share of items sharing their ID with another.</param>
/// <param name="Levels">Per level, from the first (coarsest).</param>
public sealed record CodebookHealthRow(int Epoch, double? Churn, double CollisionRate, IReadOnlyList<CodebookLevelHealth> Levels);

/// <summary>One level's health.</summary>
/// <param name="Utilisation">Share of the level's codes some item uses.</param>
/// <param name="Perplexity">Exponential of the code distribution's entropy (codes effectively in use).</param>
/// <param name="LargestBucket">Items on the level's most used code.</param>
public sealed record CodebookLevelHealth(double Utilisation, double Perplexity, long LargestBucket);

/// <summary>A Markdown table (such as <c>health.md</c>'s), its cells as text, and the file's lines after it (collisions, warnings).</summary>
public sealed record MarkdownTable(IReadOnlyList<string> Columns, IReadOnlyList<IReadOnlyList<string>> Rows, string Notes);

/// <summary>Recall against beam size, from <c>beam-recall.tsv</c> (columns beam, recall_at_10, recall_at_100).</summary>
public sealed record BeamRecall(int[] Beam,
    [property: JsonPropertyName("recall_at_10")] double[] RecallAt10,
    [property: JsonPropertyName("recall_at_100")] double[] RecallAt100);

/// <summary>What a model directory records of its training, for the server's model page.</summary>
/// <param name="Kind">The model's kind (config.json's "kind").</param>
/// <param name="Directory">The model directory.</param>
/// <param name="Config">config.json as written.</param>
/// <param name="TrainingLog">training-log.tsv's curves, or null when absent.</param>
/// <param name="CodebookHealth">codebook-health.tsv's rows, or null when absent.</param>
/// <param name="Health">health.md's table, or null when absent.</param>
/// <param name="BeamRecall">beam-recall.tsv, or null when recall against beam size was not measured.</param>
/// <param name="Problems">Files that are present but cannot be read, each as "file:line: problem"; the rest is still read.</param>
public sealed record TrainingReport(string Kind, string Directory, JsonNode? Config, TrainingCurves? TrainingLog,
    IReadOnlyList<CodebookHealthRow>? CodebookHealth, MarkdownTable? Health, BeamRecall? BeamRecall,
    IReadOnlyList<string> Problems);

/// <summary>
/// Reads the files training leaves in a model directory (<c>training-log.tsv</c>, <c>codebook-health.tsv</c>,
/// <c>health.md</c>, <c>beam-recall.tsv</c>) into what a page draws. A missing file is null; a file that
/// cannot be read is a problem naming its line, and the others are still read.
/// </summary>
public static class TrainingFiles
{
    /// <summary>The codebook health log unified training writes.</summary>
    public const string CodebookHealthFile = "codebook-health.tsv";
    /// <summary>The codebook health table two-stage and unified training write.</summary>
    public const string HealthFile = "health.md";
    /// <summary>Recall against beam size, when measured.</summary>
    public const string BeamRecallFile = "beam-recall.tsv";

    /// <summary>Points a curve is thinned to at most.</summary>
    public const int MaxPoints = 400;

    /// <summary>Reads <paramref name="path"/>'s training files.</summary>
    public static TrainingReport Read(string path)
    {
        var dir = new ModelDirectory(path);
        var problems = new List<string>();
        string kind = ModelFormats.KindOf(dir);
        var config = JsonNode.Parse(File.ReadAllText(dir.ConfigPath));
        var log = Try(Path.Combine(path, TrainerOptions.LogFileName), problems, ReadCurves);
        var health = Try(Path.Combine(path, CodebookHealthFile), problems, ReadCodebookHealth);
        var table = Try(Path.Combine(path, HealthFile), problems, ReadMarkdownTable);
        var recall = Try(Path.Combine(path, BeamRecallFile), problems, ReadBeamRecall);
        return new TrainingReport(kind, Path.GetFullPath(path), config, log, health, table, recall, problems);
    }

    private static T? Try<T>(string file, List<string> problems, Func<string, T> read) where T : class
    {
        if (!File.Exists(file)) return null;
        try { return read(file); }
        catch (Exception e) when (e is InvalidDataException or FormatException or IOException)
        {
            problems.Add(e.Message.StartsWith(file, StringComparison.Ordinal) ? e.Message : $"{file}: {e.Message}");
            return null;
        }
    }

    /// <summary>training-log.tsv as curves of at most <see cref="MaxPoints"/> points.</summary>
    public static TrainingCurves ReadCurves(string file)
    {
        var (parts, rows) = TrainingLog.Read(file);
        int per = Math.Max(1, (rows.Count + MaxPoints - 1) / MaxPoints);
        int points = (rows.Count + per - 1) / per;
        var step = new long[points];
        var epoch = new int[points];
        var lr = new double[points];
        var total = new double?[points];
        var values = parts.ToDictionary(p => p, _ => new double?[points], StringComparer.Ordinal);
        for (int p = 0; p < points; p++)
        {
            var chunk = rows.Skip(p * per).Take(per).ToList();
            step[p] = chunk[^1].Step;
            epoch[p] = chunk[^1].Epoch;
            lr[p] = chunk.Average(r => (double)r.LearningRate);
            total[p] = Mean(chunk.Select(r => (double)r.Total));
            for (int j = 0; j < parts.Length; j++) values[parts[j]][p] = Mean(chunk.Select(r => (double)r.Parts[j].Value));
        }
        return new TrainingCurves(rows.Count, per, step, epoch, lr, total, values);
    }

    /// <summary>The mean of the finite values; null when there are none (JSON has no NaN).</summary>
    private static double? Mean(IEnumerable<double> values)
    {
        double sum = 0;
        int count = 0;
        foreach (double v in values) if (double.IsFinite(v)) { sum += v; count++; }
        return count == 0 ? null : sum / count;
    }

    /// <summary>codebook-health.tsv: <c>epoch churn collision_rate</c>, then <c>utilisation_N perplexity_N largest_bucket_N</c> per level N from 1.</summary>
    public static List<CodebookHealthRow> ReadCodebookHealth(string file)
    {
        var lines = File.ReadAllLines(file);
        if (lines.Length == 0) throw new InvalidDataException($"{file}:1: empty (expected a header 'epoch churn collision_rate utilisation_1 ...')");
        var header = lines[0].Split('\t');
        int levels = (header.Length - 3) / 3;
        bool shaped = header.Length >= 6 && (header.Length - 3) % 3 == 0 && header[..3].SequenceEqual(["epoch", "churn", "collision_rate"])
                      && Enumerable.Range(1, levels).All(l => header[3 * l] == $"utilisation_{l}" && header[3 * l + 1] == $"perplexity_{l}" && header[3 * l + 2] == $"largest_bucket_{l}");
        if (!shaped) throw new InvalidDataException($"{file}:1: not a codebook health log (header '{lines[0]}')");
        var rows = new List<CodebookHealthRow>();
        for (int i = 1; i < lines.Length; i++)
        {
            if (lines[i].Length == 0) continue;
            var cells = lines[i].Split('\t');
            if (cells.Length != header.Length) throw new InvalidDataException($"{file}:{i + 1}: {cells.Length} cells, the header has {header.Length}");
            double churn = Number(cells[1], file, i, nanAllowed: true);
            rows.Add(new CodebookHealthRow((int)Number(cells[0], file, i), double.IsNaN(churn) ? null : churn, Number(cells[2], file, i),
                [.. Enumerable.Range(0, levels).Select(l => new CodebookLevelHealth(Number(cells[3 + 3 * l], file, i), Number(cells[4 + 3 * l], file, i),
                    (long)Number(cells[5 + 3 * l], file, i)))]));
        }
        return rows;
    }

    /// <summary>beam-recall.tsv: a header <c>beam recall_at_10 recall_at_100</c>, then one row per beam size.</summary>
    public static BeamRecall ReadBeamRecall(string file)
    {
        var lines = File.ReadAllLines(file);
        if (lines.Length == 0 || lines[0] != "beam\trecall_at_10\trecall_at_100")
            throw new InvalidDataException($"{file}:1: expected the header 'beam<TAB>recall_at_10<TAB>recall_at_100'");
        var beam = new List<int>();
        var at10 = new List<double>();
        var at100 = new List<double>();
        for (int i = 1; i < lines.Length; i++)
        {
            if (lines[i].Length == 0) continue;
            var cells = lines[i].Split('\t');
            if (cells.Length != 3) throw new InvalidDataException($"{file}:{i + 1}: {cells.Length} cells, expected 3");
            double b = Number(cells[0], file, i);
            if (b < 1 || b != Math.Floor(b)) throw new InvalidDataException($"{file}:{i + 1}: beam '{cells[0]}' is not a positive whole number");
            beam.Add((int)b);
            at10.Add(Number(cells[1], file, i));
            at100.Add(Number(cells[2], file, i));
        }
        return new BeamRecall([.. beam], [.. at10], [.. at100]);
    }

    /// <summary>The first Markdown table of <paramref name="file"/>, and the text after it.</summary>
    public static MarkdownTable ReadMarkdownTable(string file)
    {
        var lines = File.ReadAllLines(file);
        int start = Array.FindIndex(lines, l => l.TrimStart().StartsWith('|'));
        if (start < 0 || start + 1 >= lines.Length || !lines[start + 1].Contains("---", StringComparison.Ordinal))
            throw new InvalidDataException($"{file}:1: no Markdown table (a '| a | b |' header line and a '|---|' line)");
        static string[] Cells(string line) => [.. line.Trim().Trim('|').Split('|').Select(c => c.Trim())];
        var columns = Cells(lines[start]);
        var rows = new List<IReadOnlyList<string>>();
        int i = start + 2;
        for (; i < lines.Length && lines[i].TrimStart().StartsWith('|'); i++)
        {
            var cells = Cells(lines[i]);
            if (cells.Length != columns.Length) throw new InvalidDataException($"{file}:{i + 1}: {cells.Length} cells, the header has {columns.Length}");
            rows.Add(cells);
        }
        return new MarkdownTable(columns, rows, string.Join('\n', lines[i..]).Trim());
    }

    /// <summary>A finite number (or NaN where <paramref name="nanAllowed"/>), else an error naming the file and line.</summary>
    private static double Number(string cell, string file, int index, bool nanAllowed = false) =>
        double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && (double.IsFinite(value) || nanAllowed && double.IsNaN(value))
            ? value
            : throw new InvalidDataException($"{file}:{index + 1}: '{cell}' is not a finite number");
}
