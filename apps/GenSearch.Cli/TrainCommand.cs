using System.CommandLine;
using GenSearch.Nn;
using GenSearch.Training;
using Spectre.Console;

namespace GenSearch.Cli;

/// <summary>
/// <c>gensearch train --data DIR --model two-tower|two-stage [--towers DIR] --out DIR</c>: trains a model on the train split,
/// with progress (loss, examples/s, ETA), checkpoints, and resume of a killed run from the same --out.
/// </summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "BEIR directory with qrels/train.tsv.", Required = true };
        var model = new Option<string>("--model") { Description = "What to train.", Required = true };
        model.AcceptOnlyFromAmong(TwoTowerTraining.Kind, TwoStageTraining.Kind);
        var towers = new Option<string?>("--towers") { Description = "two-stage: the two-tower model whose item vectors become semantic IDs." };
        var output = new Option<string>("--out") { Description = "Model directory to write (an unfinished run there is resumed).", Required = true };
        var towerDefaults = new TwoTowerTrainingOptions();
        var stageDefaults = new TwoStageTrainingOptions();
        // No default values here: each model has its own (shown in --help), picked once --model is known.
        var epochs = new Option<int?>("--epochs") { Description = $"Passes over the training pairs (default: two-tower {towerDefaults.Trainer.Epochs}, two-stage {stageDefaults.Trainer.Epochs})." };
        var batch = new Option<int?>("--batch") { Description = $"Pairs per step (default: two-tower {towerDefaults.Trainer.BatchSize}, two-stage {stageDefaults.Trainer.BatchSize})." };
        var lr = new Option<float?>("--lr") { Description = $"Peak learning rate (default: two-tower {towerDefaults.Trainer.LearningRate}, two-stage {stageDefaults.Trainer.LearningRate})." };
        var seed = new Option<ulong>("--seed") { Description = "Seed of weights, dropout and example order.", DefaultValueFactory = _ => towerDefaults.Seed };
        var every = new Option<int?>("--checkpoint-every") { Description = $"Steps between checkpoints (default {towerDefaults.Trainer.CheckpointEvery})." };
        var command = new Command("train", "Train a retrieval model on a BEIR train split; rerun the same command to resume after a kill.")
        {
            data, model, towers, output, epochs, batch, lr, seed, every,
        };
        command.SetAction(parse => CliSupport.Guard(() =>
        {
            var set = CliSupport.OpenData(parse.GetValue(data));
            string kind = parse.GetValue(model)!;
            var baseTrainer = kind == TwoStageTraining.Kind ? stageDefaults.Trainer : towerDefaults.Trainer;
            int epochCount = parse.GetValue(epochs) ?? baseTrainer.Epochs, batchSize = parse.GetValue(batch) ?? baseTrainer.BatchSize;
            int checkpointEvery = parse.GetValue(every) ?? baseTrainer.CheckpointEvery;
            float rate = parse.GetValue(lr) ?? baseTrainer.LearningRate;
            if (epochCount <= 0 || batchSize <= 0 || checkpointEvery < 0 || !(rate > 0))
                throw new CliException("--epochs, --batch and --lr must be positive, --checkpoint-every not negative");
            var trainer = baseTrainer with { Epochs = epochCount, BatchSize = batchSize, LearningRate = rate, CheckpointEvery = checkpointEvery, Seed = parse.GetValue(seed) };
            string? towerDir = parse.GetValue(towers);
            if (kind == TwoStageTraining.Kind && towerDir is null) throw new CliException("--model two-stage needs --towers DIR (a trained two-tower model)");
            string outDir = parse.GetValue(output)!;
            using var cancel = new CancellationTokenSource();
            // Ctrl+C stops after the current step with a checkpoint; running the command again resumes.
            Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };
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
                    loss = kind == TwoStageTraining.Kind
                        ? TwoStageTraining.Run(set, towerDir!, outDir, stageDefaults with { Seed = trainer.Seed, Trainer = trainer }, CliSupport.Note, Report, cancel.Token)
                        : TwoTowerTraining.Run(set, outDir, towerDefaults with { Seed = trainer.Seed, Trainer = trainer }, CliSupport.Note, Report, cancel.Token);
                });
            if (cancel.IsCancellationRequested)
            {
                CliSupport.Note($"stopped; the checkpoint in {outDir} resumes the run");
                return 130;
            }
            CliSupport.Note($"trained in {(DateTime.UtcNow - started).TotalMinutes:F1} min, final loss {loss:F4}; model written to {outDir}");
            return 0;
        }));
        return command;
    }
}
