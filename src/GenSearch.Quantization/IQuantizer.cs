using GenSearch.Tensors.IO;

namespace GenSearch.Quantization;

/// <summary>
/// A vector quantizer, as small as faiss's <c>Quantizer</c>: train on vectors, encode vectors to
/// <see cref="Levels"/> codes each (level l's code in 0..<c>CodebookSizes[l]</c>-1), decode codes back to
/// vectors. Vectors are row-major float32, <see cref="Dimension"/> wide; codes are row-major int32,
/// <see cref="Levels"/> per vector. RQ-KMeans implements it; neural quantizers (RQ-VAE, SimVQ) slot in
/// behind the same interface and register a name in <see cref="QuantizerMethods"/>.
/// </summary>
public interface IQuantizer
{
    /// <summary>The method's name as the CLI spells it, e.g. "rqkmeans".</summary>
    string Method { get; }

    /// <summary>Width of the vectors it quantizes.</summary>
    int Dimension { get; }

    /// <summary>Codes per vector (the semantic ID's length before any disambiguating token).</summary>
    int Levels { get; }

    /// <summary>Codebook size of each level.</summary>
    IReadOnlyList<int> CodebookSizes { get; }

    /// <summary>Whether <see cref="Train"/> has run (or the quantizer was loaded trained).</summary>
    bool IsTrained { get; }

    /// <summary>Fits the codebooks to <paramref name="count"/> vectors; returns one record per iteration.</summary>
    IReadOnlyList<TrainingStep> Train(float[] vectors, int count);

    /// <summary>Writes the codes of <paramref name="count"/> vectors to <paramref name="codes"/> (count x Levels).</summary>
    void Encode(float[] vectors, int count, Span<int> codes);

    /// <summary>Writes the reconstruction of <paramref name="count"/> code rows to <paramref name="vectors"/> (count x Dimension).</summary>
    void Decode(ReadOnlySpan<int> codes, int count, Span<float> vectors);

    /// <summary>The trained state as named tensors plus string metadata, for <see cref="SafeTensors.Save"/>.</summary>
    (IReadOnlyList<SafeTensorEntry> Tensors, IReadOnlyDictionary<string, string> Metadata) Export();
}

/// <summary>
/// One training iteration's statistics. For k-means: <see cref="Objective"/> is the inertia (sum of
/// squared distances to the assigned centroid, over the training points), <see cref="Changed"/> the
/// points whose code moved, <see cref="EmptyCodes"/> the clusters left empty (and re-seeded). A neural
/// quantizer reports its loss, codes changed and dead codes the same way.
/// </summary>
/// <param name="Level">Which codebook (0 = coarsest).</param>
/// <param name="Iteration">0-based iteration (an epoch in mini-batch mode).</param>
/// <param name="Objective">Inertia or loss after the iteration's assignment step.</param>
/// <param name="Changed">Training points whose code changed since the previous iteration.</param>
/// <param name="EmptyCodes">Codes no training point chose this iteration.</param>
/// <param name="Seconds">Wall time of the iteration.</param>
public sealed record TrainingStep(int Level, int Iteration, double Objective, long Changed, int EmptyCodes, double Seconds);
