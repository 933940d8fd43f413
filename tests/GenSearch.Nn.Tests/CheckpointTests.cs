using GenSearch.Tensors;

namespace GenSearch.Nn.Tests;

public class CheckpointTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("gensearch-ckpt").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static EncoderDecoder Model(ulong seed) => new(new EncoderDecoderConfig
    {
        SourceVocabulary = 11, TargetVocabulary = 7, Dim = 8, Heads = 2, EncoderLayers = 1, DecoderLayers = 1, FfnDim = 16, Dropout = 0f,
    }, new Rng(seed));

    private static void TrainSteps(EncoderDecoder model, AdamW optimizer, Rng data, int steps)
    {
        for (int s = 0; s < steps; s++)
        {
            var src = Enumerable.Range(0, 4 * 5).Select(_ => data.NextInt(11)).ToArray();
            var tgt = Enumerable.Range(0, 4 * 3).Select(_ => data.NextInt(7)).ToArray();
            optimizer.ZeroGrad();
            model.Loss(src, tgt, tgt, 4).Backward();
            optimizer.StepOnce();
        }
    }

    [Fact]
    public void ModelRoundTripsThroughSafetensors()
    {
        var a = Model(1); var b = Model(2);
        string path = Path.Combine(_dir, "model.safetensors");
        Checkpoint.SaveModel(path, a, new Dictionary<string, string> { ["kind"] = "test" });
        var metadata = Checkpoint.LoadModel(path, b);
        Assert.Equal("test", metadata["kind"]);
        foreach (var ((_, x), (_, y)) in a.NamedParameters().Zip(b.NamedParameters())) Assert.Equal(x.Data, y.Data);
    }

    [Fact]
    public void LoadingIntoAnotherShapeNamesTheFileAndTheTensor()
    {
        string path = Path.Combine(_dir, "model.safetensors");
        Checkpoint.SaveModel(path, Model(1));
        var wider = new EncoderDecoder(new EncoderDecoderConfig
        {
            SourceVocabulary = 11, TargetVocabulary = 9, Dim = 8, Heads = 2, EncoderLayers = 1, DecoderLayers = 1, FfnDim = 16,
        }, new Rng(1));
        var error = Assert.Throws<InvalidDataException>(() => Checkpoint.LoadModel(path, wider));
        Assert.Contains(path, error.Message);
        Assert.Contains("'head.weight' has shape [7, 8]", error.Message);
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    public void ANonFiniteWeightIsRefusedNamingTheFileAndTheTensor(float bad)
    {
        var model = Model(1);
        var (name, weight) = model.NamedParameters().Last();
        weight.Data[3] = bad;
        string path = Path.Combine(_dir, "model.safetensors");
        Checkpoint.SaveModel(path, model);
        var error = Assert.Throws<InvalidDataException>(() => Checkpoint.LoadModel(path, Model(2)));
        Assert.Contains($"{path}: tensor '{name}' holds {bad} at element 3", error.Message);
    }

    [Fact]
    public void ResumedTrainingMatchesUninterruptedTraining()
    {
        // Uninterrupted: 6 steps.
        var straight = Model(3);
        var straightOpt = new AdamW(straight.NamedParameters());
        TrainSteps(straight, straightOpt, new Rng(4), 6);

        // Interrupted after 3 steps, saved, restored into fresh objects, 3 more steps.
        var first = Model(3);
        var firstOpt = new AdamW(first.NamedParameters());
        var data = new Rng(4);
        TrainSteps(first, firstOpt, data, 3);
        string path = Path.Combine(_dir, "train.safetensors");
        Checkpoint.SaveTraining(path, first, firstOpt, new TrainingState(3, 12, data.State, new Dictionary<string, string> { ["note"] = "x" }));

        var resumed = Model(99);
        var resumedOpt = new AdamW(resumed.NamedParameters());
        var state = Checkpoint.LoadTraining(path, resumed, resumedOpt);
        Assert.Equal(3, state.Step);
        Assert.Equal(12, state.DataPosition);
        Assert.Equal("x", state.Extra["note"]);
        var resumedData = new Rng(0) { State = state.RngState };
        TrainSteps(resumed, resumedOpt, resumedData, 3);

        foreach (var ((name, x), (_, y)) in straight.NamedParameters().Zip(resumed.NamedParameters()))
            Assert.True(x.Data.AsSpan().SequenceEqual(y.Data), $"{name} differs after resume");
    }

    [Fact]
    public void ModelFileIsNotATrainingCheckpoint()
    {
        string path = Path.Combine(_dir, "model.safetensors");
        var model = Model(1);
        Checkpoint.SaveModel(path, model);
        var error = Assert.Throws<InvalidDataException>(() => Checkpoint.LoadTraining(path, model, new AdamW(model.NamedParameters())));
        Assert.Contains(path, error.Message);
    }
}
