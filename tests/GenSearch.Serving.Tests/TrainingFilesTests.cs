namespace GenSearch.Serving.Tests;

public class TrainingFilesTests
{
    private static string Model(params (string Name, string Text)[] files)
    {
        string dir = GenSearch.Tests.TestTemp.Directory("training-files");
        File.WriteAllText(Path.Combine(dir, "config.json"), """{"kind": "two-stage", "beam_size": 50}""");
        foreach (var (name, text) in files) File.WriteAllText(Path.Combine(dir, name), text);
        return dir;
    }

    private const string Log = "step\tepoch\tlr\ttotal\tntp\tvq\texamples_per_s\n";

    [Fact]
    public void ReadsEveryFileAndLeavesMissingOnesNull()
    {
        string dir = Model(
            ("training-log.tsv", Log + "1\t0\t0.001\t3.5\t3\t0.5\t100.0\n2\t0\t0.002\t3.25\t2.75\t\t110.0\n"),
            ("codebook-health.tsv", "epoch\tchurn\tcollision_rate\tutilisation_1\tperplexity_1\tlargest_bucket_1\n0\tNaN\t0.5000\t0.7500\t3.1\t12\n1\t0.1000\t0.4000\t1.0000\t3.9\t9\n"),
            ("health.md", "| level | util | largest bucket |\n|---:|---:|---:|\n| 0 | 100.0% | 847 (1.55%) |\n\nCollisions: 3 items.\n"),
            ("beam-recall.tsv", "beam\trecall_at_10\trecall_at_100\n1\t0.2\t0.2\n10\t0.4\t0.5\n"));
        var report = TrainingFiles.Read(dir);
        Assert.Equal("two-stage", report.Kind);
        Assert.Equal(50, (int)report.Config!["beam_size"]!);
        Assert.Empty(report.Problems);
        var log = report.TrainingLog!;
        Assert.Equal(2, log.Rows);
        Assert.Equal([1L, 2L], log.Step);
        Assert.Equal([3.5, 3.25], log.Total);
        Assert.Equal([3.0, 2.75], log.Parts["ntp"]);
        Assert.Equal([0.5, null], log.Parts["vq"]); // a step without the part is a gap, not a zero
        var health = report.CodebookHealth!;
        Assert.Equal(2, health.Count);
        Assert.Null(health[0].Churn);
        Assert.Equal(0.1, health[1].Churn);
        Assert.Equal(new CodebookLevelHealth(1.0, 3.9, 9), Assert.Single(health[1].Levels));
        Assert.Equal(["level", "util", "largest bucket"], report.Health!.Columns);
        Assert.Equal(["0", "100.0%", "847 (1.55%)"], Assert.Single(report.Health.Rows));
        Assert.Equal("Collisions: 3 items.", report.Health.Notes);
        Assert.Equal([1, 10], report.BeamRecall!.Beam);
        Assert.Equal([0.4, 0.5], [report.BeamRecall.RecallAt10[1], report.BeamRecall.RecallAt100[1]]);

        var bare = TrainingFiles.Read(Model());
        Assert.Null(bare.TrainingLog);
        Assert.Null(bare.CodebookHealth);
        Assert.Null(bare.Health);
        Assert.Null(bare.BeamRecall);
    }

    [Fact]
    public void ALongLogIsThinnedToMeansOfConsecutiveSteps()
    {
        var rows = Enumerable.Range(1, 1000).Select(s => $"{s}\t0\t0.001\t{s}\t{(s % 2 == 0 ? "NaN" : s.ToString())}\t1\t10.0");
        var log = TrainingFiles.Read(Model(("training-log.tsv", Log + string.Join('\n', rows) + "\n"))).TrainingLog!;
        Assert.Equal(3, log.StepsPerPoint);
        Assert.Equal(334, log.Step.Length);
        Assert.Equal(2.0, log.Total[0]);                  // mean of steps 1..3
        Assert.Equal(2.0, log.Parts["ntp"][0]);            // NaN steps left out of the mean: (1 + 3) / 2
        Assert.Equal(3L, log.Step[0]);
        Assert.Equal(1000L, log.Step[^1]);
        Assert.Equal(1000.0, log.Total[^1]);               // the last point holds the one step left
        Assert.True(log.Step.Length <= TrainingFiles.MaxPoints);
    }

    [Fact]
    public void ABadFileIsAProblemNamingItsLineAndTheOthersAreStillRead()
    {
        string dir = Model(
            ("training-log.tsv", Log + "1\t0\t0.001\t3.5\t3\t0.5\t100.0\n"),
            ("codebook-health.tsv", "epoch\tchurn\tcollision_rate\tutilisation_1\tperplexity_1\tlargest_bucket_1\n0\tNaN\t0.5\t0.75\t3.1\n"),
            ("health.md", "no table here\n"),
            ("beam-recall.tsv", "beam\trecall_at_10\trecall_at_100\n1\t0.2\t0.2\n0\t0.4\t0.5\n"));
        var report = TrainingFiles.Read(dir);
        Assert.NotNull(report.TrainingLog);
        Assert.Null(report.CodebookHealth);
        Assert.Null(report.Health);
        Assert.Null(report.BeamRecall);
        Assert.Equal([
            $"{Path.Combine(dir, "codebook-health.tsv")}:2: 5 cells, the header has 6",
            $"{Path.Combine(dir, "health.md")}:1: no Markdown table (a '| a | b |' header line and a '|---|' line)",
            $"{Path.Combine(dir, "beam-recall.tsv")}:3: beam '0' is not a positive whole number",
        ], report.Problems);

        Assert.Contains("codebook-health.tsv:1: not a codebook health log",
            Assert.Single(TrainingFiles.Read(Model(("codebook-health.tsv", "epoch\tchurn\n"))).Problems));
        Assert.Contains("beam-recall.tsv:2: 'inf' is not a finite number",
            Assert.Single(TrainingFiles.Read(Model(("beam-recall.tsv", "beam\trecall_at_10\trecall_at_100\n1\tinf\t0.2\n"))).Problems));
        Assert.Contains("training-log.tsv: line 2",
            Assert.Single(TrainingFiles.Read(Model(("training-log.tsv", Log + "1\t0\tx\t3.5\t3\t0.5\t100.0\n"))).Problems));
    }
}
