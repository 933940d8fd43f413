using GenSearch.Nn;
using GenSearch.Tensors;

namespace GenSearch.Quantization;

/// <summary>RQ-VAE shape: encoder and decoder MLPs around a <see cref="ResidualVectorQuantizer"/>.</summary>
public sealed record RqVaeConfig
{
    /// <summary>Input (and reconstruction) width. Required.</summary>
    public required int InputDim { get; init; }

    /// <summary>Hidden widths of the encoder (the decoder mirrors them). Default [128].</summary>
    public int[] HiddenDims { get; init; } = [128];

    /// <summary>Latent width d, the width the codebooks quantize. Default 32.</summary>
    public int LatentDim { get; init; } = 32;

    /// <summary>The quantizer between encoder and decoder.</summary>
    public ResidualVqOptions Quantizer { get; init; } = new();

    /// <summary>Seed of the MLP weights. Default 1234.</summary>
    public int Seed { get; init; } = 1234;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad field.</summary>
    public void Validate()
    {
        if (InputDim < 1) throw new ArgumentException($"InputDim must be at least 1 (got {InputDim})");
        if (LatentDim < 1) throw new ArgumentException($"LatentDim must be at least 1 (got {LatentDim})");
        if (HiddenDims.Any(h => h < 1)) throw new ArgumentException($"HiddenDims must all be at least 1 (got [{string.Join(", ", HiddenDims)}])");
        Quantizer.Validate();
    }
}

/// <summary>A stack of linear layers with ReLU between them (none after the last).</summary>
public sealed class Mlp : Module
{
    private readonly Linear[] _layers;

    /// <summary>Layers widths[0] -> widths[1] -> ... -> widths[^1], named "layer0", "layer1", ...</summary>
    public Mlp(IReadOnlyList<int> widths, Rng rng)
    {
        if (widths.Count < 2) throw new ArgumentException("an MLP needs at least an input and an output width");
        _layers = new Linear[widths.Count - 1];
        for (int i = 0; i < _layers.Length; i++)
            _layers[i] = RegisterModule($"layer{i}", new Linear(widths[i], widths[i + 1], rng));
    }

    /// <summary>x [N, in] -> [N, out].</summary>
    public Tensor Forward(Tensor x)
    {
        for (int i = 0; i < _layers.Length; i++)
        {
            x = _layers[i].Forward(x);
            if (i + 1 < _layers.Length) x = x.Relu();
        }
        return x;
    }
}

/// <summary>What <see cref="RqVae.Forward"/> returns.</summary>
/// <param name="Reconstruction">[N, InputDim], the decoder's output from the quantized latents.</param>
/// <param name="Codes">[N, L] row-major.</param>
/// <param name="Loss">Scalar: reconstruction MSE plus the VQ loss.</param>
/// <param name="ReconstructionLoss">The reconstruction MSE, as a number.</param>
/// <param name="Vq">The quantizer's output (its loss, per-level terms, dead codes).</param>
public sealed record RqVaeOutput(Tensor Reconstruction, int[] Codes, Tensor Loss, float ReconstructionLoss, VqOutput Vq);

/// <summary>
/// RQ-VAE (Lee et al. 2022; TIGER's semantic-ID tokenizer): x -> encoder MLP -> z [N, d] -> residual VQ
/// (straight-through) -> decoder MLP -> x'. Loss = ||x - x'||^2 + VQ loss (element means). With plain codebooks,
/// k-means init and dead-code reset it is the RQ-VAE recipe; with SimVQ codebooks it is a residual SimVQ-VAE.
/// </summary>
public sealed class RqVae : Module
{
    /// <summary>The shape.</summary>
    public RqVaeConfig Config { get; }

    /// <summary>x [N, InputDim] -> z [N, LatentDim].</summary>
    public Mlp Encoder { get; }

    /// <summary>The residual quantizer over z.</summary>
    public ResidualVectorQuantizer Quantizer { get; }

    /// <summary>Quantized z [N, LatentDim] -> x' [N, InputDim].</summary>
    public Mlp Decoder { get; }

    /// <summary>A model of <paramref name="config"/>'s shape, seeded.</summary>
    public RqVae(RqVaeConfig config)
    {
        config.Validate();
        Config = config;
        var rng = new Rng((ulong)config.Seed);
        int[] down = [config.InputDim, .. config.HiddenDims, config.LatentDim];
        Encoder = RegisterModule("encoder", new Mlp(down, rng));
        Quantizer = RegisterModule("quantizer", new ResidualVectorQuantizer(config.LatentDim, config.Quantizer));
        Decoder = RegisterModule("decoder", new Mlp(down.Reverse().ToArray(), rng));
    }

    /// <summary>Encodes, quantizes and decodes x [N, InputDim].</summary>
    public RqVaeOutput Forward(Tensor x)
    {
        var z = Encoder.Forward(x);
        var vq = Quantizer.Forward(z);
        var reconstruction = Decoder.Forward(vq.Quantized);
        var reconstructionLoss = (reconstruction - x).Square().MeanAll();
        float recon = reconstructionLoss.Item();
        return new RqVaeOutput(reconstruction, vq.Codes, reconstructionLoss + vq.Loss, recon, vq);
    }

    /// <summary>Codes [N, L] of x [N, InputDim] (no gradient).</summary>
    public int[] Encode(Tensor x)
    {
        using var _ = Tensor.NoGrad();
        return Quantizer.Encode(Encoder.Forward(x));
    }

    /// <summary>Reconstruction [N, InputDim] of codes [N, L] (no gradient).</summary>
    public Tensor Decode(ReadOnlySpan<int> codes, int count)
    {
        var z = Quantizer.Decode(codes, count);
        using var _ = Tensor.NoGrad();
        return Decoder.Forward(z);
    }
}
