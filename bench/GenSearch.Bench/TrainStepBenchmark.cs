using System.Diagnostics;
using System.Globalization;
using GenSearch.Nn;
using GenSearch.Tensors;
using GenSearch.Tensors.Kernels;

namespace GenSearch.Bench;

/// <summary>
/// Training samples/s of the reference encoder-decoder (d_model 256, 4 heads, 2 + 2 pre-norm layers,
/// FFN 1024, dropout 0.1, source 16, target 4 causal, vocabulary 512, learned positions, output
/// projection, cross-entropy, AdamW, batch 256), ours against the same model in PyTorch run from
/// bench/reference/train_step_torch.py in the same benchmark, PyTorch at its best thread count.
/// </summary>
public sealed class TrainStepBenchmark : IBenchmark
{
    private const int Batch = 256, SourceLength = 16, TargetLength = 4;

    public string Name => "train";

    public string Description => "reference encoder-decoder training samples/s, ours vs PyTorch (CPU)";

    public IEnumerable<(string Name, double Value)> Run()
    {
        int steps = int.TryParse(Environment.GetEnvironmentVariable("GENSEARCH_BENCH_STEPS"), out var s) ? s : 12;
        var ours = new Dictionary<int, double>();
        foreach (int threads in new[] { 1, 2 })
        {
            ours[threads] = OurSamplesPerSecond(threads, steps);
            yield return ($"train_step_{threads}t_samples_per_s", ours[threads]);
        }
        KernelThreads.Count = Environment.ProcessorCount;

        double best = 0; int bestThreads = 0;
        foreach (int threads in new[] { 1, 2 })
        {
            var figures = PythonReference.Run("bench/reference/train_step_torch.py", ["--threads", threads.ToString(CultureInfo.InvariantCulture), "--steps", steps.ToString(CultureInfo.InvariantCulture), "--warmup", "3"]);
            double torch = figures.Require("torch_train_samples_per_s", "bench/reference/train_step_torch.py");
            yield return ($"torch_train_step_{threads}t_samples_per_s", torch);
            if (torch > best) (best, bestThreads) = (torch, threads);
        }
        yield return ("torch_best_threads", bestThreads);
        yield return ("train_step_vs_pytorch", ours[2] / best);
    }

    /// <summary>Median samples/s over <paramref name="steps"/> full steps (forward, backward, AdamW) after warm-up.</summary>
    internal static double OurSamplesPerSecond(int threads, int steps)
    {
        KernelThreads.Count = threads;
        var model = new EncoderDecoder(new EncoderDecoderConfig(), new Rng(0));
        var optimizer = new AdamW(model.NamedParameters(), new AdamWOptions { LearningRate = 1e-3f, WeightDecay = 0.01f });
        var data = new Rng(1);
        var source = new int[Batch * SourceLength];
        var targetIn = new int[Batch * TargetLength];
        var targetOut = new int[Batch * TargetLength];

        void Step()
        {
            for (int i = 0; i < source.Length; i++) source[i] = data.NextInt(512);
            for (int i = 0; i < targetOut.Length; i++) targetOut[i] = data.NextInt(512);
            for (int i = 0; i < targetIn.Length; i++) targetIn[i] = i % TargetLength == 0 ? 0 : targetOut[i - 1];
            optimizer.ZeroGrad();
            model.Loss(source, targetIn, targetOut, Batch).Backward();
            optimizer.StepOnce();
        }

        for (int i = 0; i < 3; i++) Step();
        var times = new List<double>();
        for (int i = 0; i < steps; i++)
        {
            long start = Stopwatch.GetTimestamp();
            Step();
            times.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
        times.Sort();
        return Batch / times[times.Count / 2];
    }
}
