using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using GenSearch.Data;
using GenSearch.Serving;

namespace GenSearch.Training;

/// <summary>A run refused before any work: an unfinished run or finished model with other data or settings is in the way.</summary>
public sealed class TrainingConflictException(string message) : Exception(message);

/// <summary>
/// Where a training run writes, and the checks that make resuming safe. A run works in a staging
/// directory beside its output (<c>OUT.partial</c>) and renames it to <c>OUT</c> when complete, so
/// <c>OUT</c> is always either absent or a whole model; a kill leaves the staging directory, whose
/// checkpoint the same command resumes. Both record a fingerprint (<c>fingerprint.json</c>): SHA-256
/// of the data files the run reads and every setting. A rerun resumes only when the fingerprint is
/// the same, and otherwise says what differs and that <c>--restart</c> starts afresh.
/// </summary>
public static class TrainingRun
{
    /// <summary>The fingerprint's file name, in the staging directory and in the finished model.</summary>
    public const string FingerprintFile = "fingerprint.json";

    /// <summary>The staging directory of a run whose output is <paramref name="outDir"/>.</summary>
    public static string StagingPath(string outDir) => Path.TrimEndingDirectorySeparator(Path.GetFullPath(outDir)) + ".partial";

    /// <summary>
    /// Holds <c>OUT.lock</c> for the whole run, so that a second <c>gensearch train</c> into the same --out is
    /// refused instead of both writing one staging folder (each deleting the other's temporary files, one
    /// committing a half-written model). The lock is the operating system's (flock on Linux): a killed run
    /// releases it, and the file goes when the holder closes it.
    /// </summary>
    public static IDisposable Lock(string outDir)
    {
        string path = Path.TrimEndingDirectorySeparator(Path.GetFullPath(outDir)) + ".lock";
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        try { return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose); }
        catch (IOException) when (File.Exists(path))
        {
            throw new TrainingConflictException($"another gensearch train is writing {outDir} ({path} is held); wait for it to finish or choose another --out");
        }
    }

    /// <summary>
    /// The fingerprint of a run: the kind, SHA-256 of the catalog, queries and train judgments (and of
    /// the model it builds on, by its own fingerprint), and every setting.
    /// </summary>
    public static JsonObject Fingerprint(string kind, BeirDataset data, JsonObject settings, string? from = null)
    {
        var files = new JsonObject
        {
            ["corpus.jsonl"] = Sha256(data.CorpusPath),
            ["queries.jsonl"] = Sha256(data.QueriesPath),
            ["qrels/train.tsv"] = Sha256(data.QrelsPath("train")),
        };
        var result = new JsonObject { ["kind"] = kind, ["data"] = files, ["settings"] = settings.DeepClone() };
        if (from is not null) result["from"] = ModelIdentity(from);
        // A model a setting names is read as --from's is: retrained in place, it makes another run (a ranker trained
        // without --from takes its SIDs from sid_model alone).
        var models = new JsonObject();
        foreach (var (setting, path) in ModelPaths(settings)) models[setting] = ModelIdentity(path);
        if (models.Count > 0) result["models"] = models;
        return result;
    }

    /// <summary>The settings that name a model directory a run reads (besides --from, and the per-fold <c>fold_models</c>).</summary>
    private static readonly string[] ModelSettings = ["sid_model", "generator_model", "ranker", "init_table_from"];

    /// <summary>
    /// The model directories <paramref name="settings"/> (a kind's settings as JSON, or an options file's keys) name, by
    /// setting: sid_model, generator_model, ranker, init_table_from and each fold_models.FOLD.
    /// </summary>
    public static IEnumerable<(string Setting, string Path)> ModelPaths(JsonObject settings)
    {
        foreach (var key in ModelSettings)
            if (settings[key] is JsonValue v && v.TryGetValue(out string? path)) yield return (key, path);
        if (settings["fold_models"] is JsonObject folds)
            foreach (var (fold, value) in folds)
                if (value is JsonValue v && v.TryGetValue(out string? path)) yield return ($"fold_models.{fold}", path);
    }

    /// <summary>A model directory's identity: SHA-256 of its fingerprint, or of its weights when it has none.</summary>
    private static string ModelIdentity(string dir)
    {
        string path = Path.Combine(dir, FingerprintFile), weights = Path.Combine(dir, "model.safetensors");
        return File.Exists(path) ? Sha256(path) : File.Exists(weights) ? "no fingerprint: " + Sha256(weights) : "no model";
    }

    /// <summary>
    /// Prepares the staging directory of a run into <paramref name="outDir"/> with fingerprint
    /// <paramref name="fingerprint"/> and returns it. An unfinished run there with the same
    /// fingerprint is kept for resuming (its stale temporary files removed); one with another
    /// fingerprint, or a finished model in <paramref name="outDir"/> from other data or settings,
    /// is refused unless <paramref name="restart"/>, which discards the unfinished run.
    /// Returns null when <paramref name="outDir"/> already holds this very model, finished.
    /// </summary>
    public static ModelDirectory? Begin(string outDir, JsonObject fingerprint, bool restart, Action<string>? note)
    {
        string finished = Path.Combine(outDir, FingerprintFile);
        if (Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any())
        {
            if (!File.Exists(Path.Combine(outDir, "config.json")))
                throw new TrainingConflictException($"{outDir}: not a model directory (no config.json) and not empty; choose another --out");
            if (!restart)
            {
                if (!File.Exists(finished))
                    throw new TrainingConflictException($"{outDir} holds a model trained before fingerprints were kept; choose another --out, or pass --restart to replace it");
                var differences = Differences(Read(finished), fingerprint);
                if (differences.Count == 0)
                {
                    note?.Invoke($"{outDir} already holds this model (same data and settings); nothing to train");
                    return null;
                }
                throw new TrainingConflictException($"{outDir} holds a model trained on other data or settings ({string.Join("; ", differences)}); " +
                                                    "choose another --out, or pass --restart to replace it when the new one is complete");
            }
        }

        string staging = StagingPath(outDir);
        string stagedPrint = Path.Combine(staging, FingerprintFile);
        if (Directory.Exists(staging))
        {
            var differences = File.Exists(stagedPrint) ? Differences(Read(stagedPrint), fingerprint) : ["no fingerprint"];
            if (restart)
            {
                note?.Invoke($"--restart: discarding the unfinished run in {staging}");
                Directory.Delete(staging, recursive: true);
            }
            else if (differences.Count > 0)
                throw new TrainingConflictException($"{staging} holds an unfinished run with other data or settings ({string.Join("; ", differences)}); " +
                                                    "rerun with those, or pass --restart to discard it and start afresh");
            else
            {
                // A kill during a checkpoint write leaves its temporary file (as large as the checkpoint).
                foreach (var stale in Directory.GetFiles(staging, "*.tmp")) File.Delete(stale); // ".checkpoint...tmp" included
            }
        }
        Directory.CreateDirectory(staging);
        if (!File.Exists(stagedPrint)) WriteAtomically(stagedPrint, fingerprint.ToJsonString(ModelDirectory.Json));
        return new ModelDirectory(staging);
    }

    /// <summary>Moves the complete model in <paramref name="staging"/> to <paramref name="outDir"/>, replacing what was there.</summary>
    public static void Commit(ModelDirectory staging, string outDir)
    {
        string target = Path.TrimEndingDirectorySeparator(Path.GetFullPath(outDir));
        string? old = null;
        if (Directory.Exists(target))
        {
            old = target + $".old-{Guid.NewGuid():N}";
            Directory.Move(target, old);
        }
        Directory.Move(staging.Path, target);
        if (old is not null) Directory.Delete(old, recursive: true);
    }

    /// <summary>What differs between two fingerprints, as "path: old -> new" lines (at most eight).</summary>
    /// <remarks>
    /// A fingerprint written before runs recorded the models their settings name (no "models") is compared without
    /// them: its identical rerun is still "nothing to train", and its unfinished run still resumes.
    /// </remarks>
    public static List<string> Differences(JsonNode? before, JsonNode? now)
    {
        var result = new List<string>();
        if (before is JsonObject old && !old.ContainsKey("models") && now is JsonObject current && current.ContainsKey("models"))
        {
            now = current.DeepClone();
            now.AsObject().Remove("models");
        }
        Compare(before, now, "", result);
        return result.Count > 8 ? [.. result.Take(8), $"{result.Count - 8} more"] : result;
    }

    private static void Compare(JsonNode? a, JsonNode? b, string path, List<string> result)
    {
        if (a is JsonObject x && b is JsonObject y)
        {
            foreach (var key in x.Select(kv => kv.Key).Union(y.Select(kv => kv.Key)))
                Compare(x[key], y[key], path.Length == 0 ? key : path + "." + key, result);
            return;
        }
        string Show(JsonNode? n) => n is null ? "(none)" : n.ToJsonString().Length > 40 ? n.ToJsonString()[..37] + "..." : n.ToJsonString();
        if (!JsonNode.DeepEquals(a, b))
            result.Add(path.StartsWith("data.", StringComparison.Ordinal) ? $"{path[5..]} changed"
                : path.StartsWith("models.", StringComparison.Ordinal) ? $"the model {path[7..]} names changed"
                : path == "from" ? "the --from model changed" : $"{path}: {Show(a)} -> {Show(b)}");
    }

    internal static JsonNode? Read(string path)
    {
        try { return JsonNode.Parse(File.ReadAllText(path)); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: line {e.LineNumber + 1}: {e.Message}", e); }
    }

    internal static string Sha256(string path)
    {
        if (!File.Exists(path)) return "(absent)";
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    private static void WriteAtomically(string path, string text)
    {
        string temp = path + ".tmp";
        File.WriteAllText(temp, text);
        File.Move(temp, path, overwrite: true);
    }
}
