using System.CommandLine;
using GenSearch.Nn;
using GenSearch.Training;
using Spectre.Console;

namespace GenSearch.Cli;

/// <summary>
/// <c>gensearch train --data DIR --model two-tower|two-stage [--tower ngram|transformer] [--towers DIR] --out DIR</c>: trains a model on the train split,
/// with progress (loss, examples/s, ETA), checkpoints, and resume of a killed run from the same --out.
/// </summary>
internal static class TrainCommand
{
    /// <summary>--tower value of the subword-transformer towers.</summary>
    private const string TransformerTower = "transformer";

    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "BEIR directory with qrels/train.tsv.", Required = true };
        var model = new Option<string>("--model") { Description = "What to train.", Required = true };
        model.AcceptOnlyFromAmong(TwoTowerTraining.Kind, TwoStageTraining.Kind);
        var tower = new Option<string>("--tower")
        {
            Description = "two-tower: n-gram bags (words, word pairs, character trigrams) or subword transformers.",
            DefaultValueFactory = _ => NgramTowerTraining.Tower,
        };
        tower.AcceptOnlyFromAmong(NgramTowerTraining.Tower, TransformerTower);
        var towers = new Option<string?>("--towers") { Description = "two-stage: the two-tower model whose item vectors become semantic IDs." };
        var output = new Option<string>("--out") { Description = "Model directory to write (an unfinished run there is resumed).", Required = true };
        var towerDefaults = new TwoTowerTrainingOptions();
        var ngramDefaults = new NgramTowerTrainingOptions();
        var stageDefaults = new TwoStageTrainingOptions();
        // No default values here: each model has its own (shown in --help), picked once --model is known.
        var epochs = new Option<int?>("--epochs") { Description = $"Passes over the training pairs (default: n-gram towers {ngramDefaults.Trainer.Epochs}, transformer towers {towerDefaults.Trainer.Epochs}, two-stage {stageDefaults.Trainer.Epochs})." };
        var batch = new Option<int?>("--batch") { Description = $"Pairs per step (default: n-gram towers {ngramDefaults.Trainer.BatchSize}, transformer towers {towerDefaults.Trainer.BatchSize}, two-stage {stageDefaults.Trainer.BatchSize})." };
        var lr = new Option<float?>("--lr") { Description = $"Peak learning rate (default: n-gram towers {ngramDefaults.Trainer.LearningRate}, transformer towers {towerDefaults.Trainer.LearningRate}, two-stage {stageDefaults.Trainer.LearningRate})." };
        var seed = new Option<ulong?>("--seed") { Description = $"Seed of weights, dropout and example order (default {towerDefaults.Seed})." };
        var optionsFile = new Option<string?>("--options") { Description = "JSON file of training settings (as in a model's config.json \"training\"); flags given here win." };
        var every = new Option<int?>("--checkpoint-every") { Description = $"Steps between checkpoints (default {towerDefaults.Trainer.CheckpointEvery})." };
        var command = new Command("train", "Train a retrieval model on a BEIR train split; rerun the same command to resume after a kill.")
        {
            data, model, tower, towers, output, optionsFile, epochs, batch, lr, seed, every,
        };
        command.SetAction(parse => CliSupport.Guard(() =>
        {
            var set = CliSupport.OpenData(parse.GetValue(data));
            string kind = parse.GetValue(model)!;
            bool ngram = kind == TwoTowerTraining.Kind && parse.GetValue(tower) == NgramTowerTraining.Tower;
            string? file = parse.GetValue(optionsFile);
            T Settings<T>(T defaults) where T : class => file is null ? defaults : TrainingOptionsFile.Apply(defaults, file);
            var stage = kind == TwoStageTraining.Kind ? Settings(stageDefaults) : stageDefaults;
            var ngramTowers = ngram ? Settings(ngramDefaults) : ngramDefaults;
            var transformerTowers = kind == TwoTowerTraining.Kind && !ngram ? Settings(towerDefaults) : towerDefaults;
            var baseTrainer = kind == TwoStageTraining.Kind ? stage.Trainer : ngram ? ngramTowers.Trainer : transformerTowers.Trainer;
            int epochCount = parse.GetValue(epochs) ?? baseTrainer.Epochs, batchSize = parse.GetValue(batch) ?? baseTrainer.BatchSize;
            int checkpointEvery = parse.GetValue(every) ?? baseTrainer.CheckpointEvery;
            float rate = parse.GetValue(lr) ?? baseTrainer.LearningRate;
            if (epochCount <= 0 || batchSize <= 0 || checkpointEvery < 0 || !(rate > 0))
                throw new CliException("--epochs, --batch and --lr must be positive, --checkpoint-every not negative");
            ulong seedValue = parse.GetValue(seed) ?? baseTrainer.Seed;
            var trainer = baseTrainer with { Epochs = epochCount, BatchSize = batchSize, LearningRate = rate, CheckpointEvery = checkpointEvery, Seed = seedValue };
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
                        ? TwoStageTraining.Run(set, towerDir!, outDir, stage with { Seed = trainer.Seed, Trainer = trainer }, CliSupport.Note, Report, cancel.Token)
                        : ngram ? NgramTowerTraining.Run(set, outDir, ngramTowers with { Seed = trainer.Seed, Trainer = trainer }, CliSupport.Note, Report, cancel.Token)
                        : TwoTowerTraining.Run(set, outDir, transformerTowers with { Seed = trainer.Seed, Trainer = trainer }, CliSupport.Note, Report, cancel.Token);
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
