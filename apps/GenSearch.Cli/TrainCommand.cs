using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using GenSearch.Nn;
using GenSearch.Training;
using Spectre.Console;

namespace GenSearch.Cli;

/// <summary>
/// <c>gensearch train --data DIR --model KIND --out DIR [--from DIR] [--options FILE.json]</c>: trains any
/// kind registered in <see cref="ModelKinds"/> on the train split, with progress (loss, examples/s, ETA),
/// checkpoints, and resume of a killed run from the same --out.
/// </summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var kinds = ModelKinds.All;
        string PerKind(Func<TrainerOptions, object> value) => string.Join(", ", kinds.Select(k => $"{k.Name} {value(k.TrainerOf(k.Defaults))}"));
        var data = new Option<string>("--data") { Description = "BEIR directory with qrels/train.tsv.", Required = true };
        var model = new Option<string>("--model")
        {
            Description = "What to train: " + string.Join("; ", kinds.Select(k => $"{k.Name}: {k.Description}")) + ".",
            Required = true,
        };
        model.AcceptOnlyFromAmong([.. kinds.Select(k => k.Name)]);
        var from = new Option<string?>("--from", "--towers")
        {
            Description = "The trained model this kind builds on (" + string.Join("; ", kinds.Where(k => k.BuildsOn is not null).Select(k => $"{k.Name}: {k.BuildsOn}")) + ").",
        };
        var output = new Option<string>("--out") { Description = "Model directory to write (an unfinished run there is resumed).", Required = true };
        // No default values here: each kind has its own (listed in --help), picked once --model is known.
        var epochs = new Option<int?>("--epochs") { Description = $"Passes over the training pairs (default: {PerKind(t => t.Epochs)})." };
        var batch = new Option<int?>("--batch") { Description = $"Pairs per step (default: {PerKind(t => t.BatchSize)})." };
        var lr = new Option<float?>("--lr") { Description = $"Peak learning rate (default: {PerKind(t => t.LearningRate)})." };
        var seed = new Option<ulong?>("--seed") { Description = "Seed of weights, dropout, example order and every random draw (default 1)." };
        var every = new Option<int?>("--checkpoint-every") { Description = $"Steps between checkpoints (default: {PerKind(t => t.CheckpointEvery)})." };
        var optionsFile = new Option<string?>("--options")
        {
            Description = "JSON file of training settings, named as in a model's config.json \"training\" (only the keys given change; unknown keys are errors); the flags above win.",
        };
        var restart = new Option<bool>("--restart")
        {
            Description = "Discard an unfinished run in OUT.partial with other data or settings (and replace a finished model in --out) instead of refusing.",
        };
        var command = new Command("train", "Train a model on a BEIR train split; rerun the same command to resume after a kill (the run works in OUT.partial until complete).")
        {
            data, model, from, output, optionsFile, epochs, batch, lr, seed, every, restart,
        };
        command.SetAction(parse => CliSupport.Guard(() =>
        {
            var kind = ModelKinds.Get(parse.GetValue(model)!);
            string? file = parse.GetValue(optionsFile);
            var overrides = file is null ? new JsonObject() : ReadOptions(file);
            // The flags are laid over the file's settings as the same JSON keys, so both go through one
            // merge and each setting exists once (one seed, one epoch count).
            var trainerOverrides = overrides["trainer"] as JsonObject ?? new JsonObject();
            void Set(string key, JsonNode? value) { if (value is not null) trainerOverrides[key] = value; }
            Set("epochs", parse.GetValue(epochs) is { } e ? JsonValue.Create(e) : null);
            Set("batch_size", parse.GetValue(batch) is { } b ? JsonValue.Create(b) : null);
            Set("learning_rate", parse.GetValue(lr) is { } r ? JsonValue.Create(r) : null);
            Set("checkpoint_every", parse.GetValue(every) is { } c ? JsonValue.Create(c) : null);
            if (trainerOverrides.Count > 0 && overrides["trainer"] is null) overrides["trainer"] = trainerOverrides;
            if (parse.GetValue(seed) is { } s) overrides["seed"] = s;
            var settings = kind.Settings(overrides, file ?? "the command line");
            var trainer = kind.TrainerOf(settings);
            if (trainer.Epochs <= 0 || trainer.BatchSize <= 0 || trainer.CheckpointEvery < 0 || !(trainer.LearningRate > 0))
                throw new CliException("--epochs, --batch and --lr must be positive, --checkpoint-every not negative");
            string? fromDir = parse.GetValue(from);
            if (fromDir is null && kind.NeedsFrom(settings)) throw new CliException($"--model {kind.Name} needs --from DIR: {kind.BuildsOn}");
            if (kind.BuildsOn is null && fromDir is not null) throw new CliException($"--model {kind.Name} builds on no other model; leave out --from");
            string outDir = parse.GetValue(output)!;
            CheckOutDir(outDir, fromDir, overrides);
            var set = CliSupport.OpenData(parse.GetValue(data));
            using var cancel = new CancellationTokenSource();
            // Ctrl+C stops after the current step with a checkpoint; running the command again resumes.
            Console.CancelKeyPress += (_, ev) => { ev.Cancel = true; cancel.Cancel(); };
            var started = DateTime.UtcNow;
            float loss = float.NaN;
            CliSupport.Err.Progress().AutoClear(false).HideCompleted(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    ProgressTask? task = null;
                    void Report(TrainerProgress p)
                    {
                        task ??= ctx.AddTask("training", maxValue: p.TotalSteps);
                        task.Value = p.Step;
                        task.Description = $"step {p.Step}/{p.TotalSteps} epoch {p.Epoch + 1} loss {p.Loss:F3} {p.ExamplesPerSecond:F0} ex/s eta {p.Remaining:hh\\:mm\\:ss}";
                    }
                    loss = kind.Train(new TrainingRequest(set, outDir, fromDir, CliSupport.Note, Report, cancel.Token, parse.GetValue(restart)), settings);
                });
            if (cancel.IsCancellationRequested)
            {
                CliSupport.Note($"stopped; the checkpoint in {TrainingRun.StagingPath(outDir)} resumes the run when the same command runs again");
                return 130;
            }
            if (float.IsNaN(loss)) return 0; // the model was there already, complete
            CliSupport.Note($"trained in {(DateTime.UtcNow - started).TotalMinutes:F1} min, final loss {loss:F4}; model written to {outDir}");
            return 0;
        }));
        return command;
    }

    /// <summary>
    /// Before any work: --out must be a folder to write, never a file (found only when the finished model is
    /// moved in) and never a model this run reads (--from, or a model-directory setting): with --restart the
    /// run would replace the very model it builds on.
    /// </summary>
    private static void CheckOutDir(string outDir, string? fromDir, JsonObject overrides)
    {
        if (File.Exists(outDir)) throw new CliException($"--out {outDir}: is a file; give a model directory");
        string target = Path.TrimEndingDirectorySeparator(Path.GetFullPath(outDir));
        var reads = new List<(string Setting, string? Path)> { ("--from", fromDir) };
        reads.AddRange(TrainingRun.ModelPaths(overrides).Select(x => (x.Setting, (string?)x.Path)));
        foreach (var (setting, path) in reads)
            if (!string.IsNullOrWhiteSpace(path) && string.Equals(Path.TrimEndingDirectorySeparator(Path.GetFullPath(path)), target, StringComparison.Ordinal))
                throw new CliException($"--out {outDir} is the model that {setting} reads; write the new model to another directory");
    }

    private static JsonObject ReadOptions(string path)
    {
        if (!File.Exists(path)) throw new CliException($"{path}: no such options file");
        JsonNode? given;
        // A key given twice is refused (System.Text.Json would keep one of them silently, or the merge would fail).
        try { given = JsonNode.Parse(File.ReadAllText(path), documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false }); }
        catch (JsonException e) { throw new CliException($"{path}: {(e.LineNumber is { } line ? $"line {line + 1}: " : "")}{e.Message}"); }
        return given as JsonObject ?? throw new CliException($"{path}: expected a JSON object of settings");
    }
}
