using System.Globalization;
using System.Text;
using System.Text.Json;

namespace GenSearch.Evaluation;

/// <summary>Markdown and JSON reports of an <see cref="EvaluationResult"/>.</summary>
public static class Report
{
    /// <summary>
    /// The headline metrics as a Markdown table (one row per metric), then each breakdown as a table.
    /// Readable on a terminal as it is; <paramref name="title"/> heads it.
    /// </summary>
    public static string Markdown(EvaluationResult result, string title)
    {
        var sb = new StringBuilder();
        sb.Append("## ").AppendLine(title).AppendLine();
        sb.AppendLine($"{result.Queries} queries with a relevant item (grade >= {result.Options.RelevanceThreshold}); " +
                      $"{result.SkippedNoRelevant} judged queries without one left out; {result.MissingFromRun} with no results.");
        sb.AppendLine();
        sb.AppendLine("| metric | value |").AppendLine("|---|---:|");
        foreach (var (name, value) in result.Metrics) sb.AppendLine($"| {name} | {F(value)} |");
        foreach (var breakdown in result.Breakdowns)
        {
            var names = result.Metrics.Select(m => m.Key).ToArray();
            sb.AppendLine().Append("### by ").AppendLine(breakdown.Name).AppendLine();
            sb.Append("| bucket | queries | ").Append(string.Join(" | ", names)).AppendLine(" |");
            sb.Append("|---|---:|").Append(string.Concat(names.Select(_ => "---:|"))).AppendLine();
            foreach (var b in breakdown.Buckets)
                sb.Append($"| {b.Bucket} | {b.Queries} | ").Append(string.Join(" | ", names.Select(n => F(b.Metrics[n])))).AppendLine(" |");
        }
        return sb.ToString();
    }

    /// <summary>
    /// A JSON report: each metric as a top-level key ("Recall@10": 0.45, ...), "queries" (the count
    /// evaluated), "relevance_threshold", "breakdowns" and "per_query"; <paramref name="meta"/> adds
    /// top-level string fields such as the retriever and split. A metric that is not a finite number
    /// (only possible in a hand-built result: <see cref="Evaluator"/> refuses to produce one) is written
    /// as null, so writing never throws on it.
    /// </summary>
    public static string Json(EvaluationResult result, IReadOnlyDictionary<string, string>? meta = null)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            foreach (var (k, v) in meta ?? new Dictionary<string, string>()) w.WriteString(k, v);
            foreach (var (name, value) in result.Metrics) Number(w, name, value);
            w.WriteNumber("queries", result.Queries);
            w.WriteNumber("skipped_no_relevant", result.SkippedNoRelevant);
            w.WriteNumber("missing_from_run", result.MissingFromRun);
            w.WriteNumber("relevance_threshold", result.Options.RelevanceThreshold);
            if (result.Options.Grades is { } grades) w.WriteString("grades", grades.ToString());
            w.WriteStartObject("breakdowns");
            foreach (var b in result.Breakdowns)
            {
                w.WriteStartArray(b.Name);
                foreach (var bucket in b.Buckets)
                {
                    w.WriteStartObject();
                    w.WriteString("bucket", bucket.Bucket);
                    w.WriteNumber("queries", bucket.Queries);
                    foreach (var (n, v) in bucket.Metrics) Number(w, n, v);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            w.WriteEndObject();
            w.WriteStartArray("per_query");
            foreach (var q in result.PerQuery)
            {
                w.WriteStartObject();
                w.WriteString("query", q.QueryId);
                w.WriteNumber("relevant", q.Relevant);
                w.WriteNumber("retrieved", q.Retrieved);
                foreach (var (n, v) in q.Metrics) Number(w, n, v);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>
    /// Writes the report to <paramref name="path"/>: JSON (<see cref="Json"/>) when it ends in ".json",
    /// else Markdown (<see cref="Markdown"/> under <paramref name="title"/>). Written all or nothing
    /// (<see cref="AtomicFile"/>), so a failure never leaves an empty report.
    /// </summary>
    public static void Write(EvaluationResult result, string path, string title, IReadOnlyDictionary<string, string>? meta = null) =>
        AtomicFile.WriteAllText(path, path.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? Json(result, meta) : Markdown(result, title));

    /// <summary>A metric rounded to 6 places; JSON has no NaN or infinity, so a non-finite value is written as null.</summary>
    private static void Number(Utf8JsonWriter w, string name, double value)
    {
        if (double.IsFinite(value)) w.WriteNumber(name, Math.Round(value, 6));
        else w.WriteNull(name);
    }

    /// <summary>Four decimals; a non-finite value reads "NaN" or "Infinity", never a number.</summary>
    private static string F(double v) => double.IsFinite(v) ? v.ToString("F4", CultureInfo.InvariantCulture) : double.IsNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity";
}
