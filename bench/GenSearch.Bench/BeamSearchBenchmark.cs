using System.Diagnostics;
using GenSearch.Data;
using GenSearch.Models.Generative;
using GenSearch.Nn;
using GenSearch.Retrieval.Generative;
using GenSearch.Tensors;
using GenSearch.Tensors.Kernels;
using GenSearch.Text;

namespace GenSearch.Bench;

/// <summary>
/// Serving latency of generative retrieval: one query at a time, beam 50 over a trie of 3-level
/// semantic IDs (3 x 256 codes plus a collision token) for a catalog the size of homedepot, with the
/// two-stage generator's default size (d 256, 2 + 2 layers). Weights are random: the work of beam
/// search does not depend on them beyond early stopping, which random scores rarely trigger.
/// </summary>
public sealed class BeamSearchBenchmark : IBenchmark
{
    public string Name => "beam";

    public string Description => "generative retrieval latency: beam 50 over 3-level semantic IDs, one query at a time, one thread";

    public IEnumerable<(string Name, double Value)> Run()
    {
        const int items = 54_667, queries = 200, warmUp = 40;
        var rng = new Rng(3);
        var codes = Enumerable.Range(0, items).Select(_ => new[] { rng.NextInt(256), rng.NextInt(256), rng.NextInt(256), 0 }).ToList();
        var vocabulary = new SidVocabulary([256, 256, 256, 1]);
        var words = Enumerable.Range(0, 2000).Select(i => $"word{i}").ToArray();
        var tokenizer = WordPieceTrainer.Train(words, new WordPieceTrainerOptions { VocabularySize = 4096 });
        var generator = new SidGenerator(vocabulary, new EncoderDecoderConfig
        {
            SourceVocabulary = tokenizer.VocabularySize, Dim = 256, Heads = 4, EncoderLayers = 2, DecoderLayers = 2, FfnDim = 1024, MaxSourceLength = 16,
        }, new Rng(4));
        var retriever = new GenerativeRetriever(generator, tokenizer, codes, Enumerable.Range(0, items).Select(i => $"d{i}").ToArray(),
            new GenerativeSearchOptions { BeamSize = 50, QueryBatch = 1 });
        var texts = Enumerable.Range(0, queries).Select(i => $"{words[rng.NextInt(2000)]} {words[rng.NextInt(2000)]} {words[rng.NextInt(2000)]}").ToArray();

        int saved = KernelThreads.Count;
        KernelThreads.Count = 1;
        try
        {
            // Warm-up long enough for tiered JIT to replace the first-compiled code of the hot loops (a
            // method is recompiled after 30 calls plus a short delay): a serving process is warm.
            for (int i = 0; i < warmUp; i++) retriever.Search([new Query("w", texts[i % texts.Length])], 100);
            var times = new List<double>();
            var cpu = new List<double>();
            foreach (var text in texts)
            {
                long start = Stopwatch.GetTimestamp();
                double cpuStart = Timing.ThreadCpuSeconds();
                retriever.Search([new Query("q", text)], 100);
                cpu.Add((Timing.ThreadCpuSeconds() - cpuStart) * 1000);
                times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }
            times.Sort();
            cpu.Sort();
            yield return ("beam50_p50_ms", times[times.Count / 2]);
            yield return ("beam50_p99_ms", times[(int)Math.Ceiling(0.99 * times.Count) - 1]);
            // The same searches in CPU time of the searching thread: what the latency would be on an idle core.
            yield return ("beam50_cpu_p50_ms", cpu[cpu.Count / 2]);
            yield return ("sid_trie_bytes_per_item", (double)retriever.Trie.Bytes / items);
        }
        finally
        {
            KernelThreads.Count = saved;
        }
    }
}
