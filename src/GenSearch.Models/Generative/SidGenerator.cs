using GenSearch.Nn;
using GenSearch.Tensors;

namespace GenSearch.Models.Generative;

/// <summary>
/// How semantic IDs become decoder tokens: token 0 starts decoding; level l's code c is token
/// 1 + (sizes of levels before l) + c, so each level has its own embeddings and output rows and a
/// full ID is one path of tokens. Levels may differ in size (a disambiguation level, say).
/// </summary>
public sealed class SidVocabulary
{
    private readonly int[] _offsets;

    /// <summary>The start token.</summary>
    public const int Start = 0;

    /// <summary>Codebook size of each level.</summary>
    public IReadOnlyList<int> LevelSizes { get; }

    /// <summary>Tokens in all: the start token plus every level's codes.</summary>
    public int Size { get; }

    /// <summary>A vocabulary for levels of the given sizes.</summary>
    public SidVocabulary(IReadOnlyList<int> levelSizes)
    {
        if (levelSizes.Count == 0 || levelSizes.Any(s => s <= 0)) throw new ArgumentException("every level needs a positive codebook size");
        LevelSizes = levelSizes.ToArray();
        _offsets = new int[levelSizes.Count];
        int next = 1;
        for (int l = 0; l < levelSizes.Count; l++) { _offsets[l] = next; next += levelSizes[l]; }
        Size = next;
    }

    /// <summary>Number of levels (the longest ID).</summary>
    public int Levels => LevelSizes.Count;

    /// <summary>The token of code <paramref name="code"/> at level <paramref name="level"/>.</summary>
    public int Token(int level, int code)
    {
        if ((uint)level >= (uint)Levels || (uint)code >= (uint)LevelSizes[level])
            throw new ArgumentOutOfRangeException(nameof(code), $"code {code} at level {level} is outside the vocabulary");
        return _offsets[level] + code;
    }

    /// <summary>Tokens of a whole ID (codes by level).</summary>
    public int[] Tokens(ReadOnlySpan<int> codes)
    {
        var tokens = new int[codes.Length];
        for (int l = 0; l < codes.Length; l++) tokens[l] = Token(l, codes[l]);
        return tokens;
    }

    /// <summary>The codes of a token path (inverse of <see cref="Tokens"/>).</summary>
    public int[] Codes(ReadOnlySpan<int> tokens)
    {
        var codes = new int[tokens.Length];
        for (int l = 0; l < tokens.Length; l++)
        {
            codes[l] = tokens[l] - _offsets[l];
            if ((uint)codes[l] >= (uint)LevelSizes[l]) throw new ArgumentException($"token {tokens[l]} is not a level-{l} code");
        }
        return codes;
    }
}

/// <summary>
/// The search generator of two-stage (TIGER-style) generative retrieval: an encoder-decoder from
/// query subword tokens to the tokens of an item's semantic ID, trained by next-token prediction.
/// Shapes: B queries, S source tokens (padded), L levels.
/// </summary>
public sealed class SidGenerator : Module
{
    /// <summary>The ID layout this generator emits.</summary>
    public SidVocabulary Vocabulary { get; }

    /// <summary>The encoder-decoder underneath.</summary>
    public EncoderDecoder Model { get; }

    /// <summary>The generator's dropout generator, for checkpoints.</summary>
    public Rng Generator { get; }

    /// <summary>A generator over <paramref name="vocabulary"/> with the given sizes (target sizes are set from it).</summary>
    public SidGenerator(SidVocabulary vocabulary, EncoderDecoderConfig config, Rng rng)
    {
        Vocabulary = vocabulary;
        Generator = rng;
        Model = RegisterModule("model", new EncoderDecoder(config with
        {
            TargetVocabulary = vocabulary.Size,
            MaxTargetLength = Math.Max(config.MaxTargetLength, vocabulary.Levels),
        }, rng));
    }

    /// <summary>
    /// Next-token loss of items' IDs given queries: source [B * S] with <paramref name="padding"/>,
    /// codes [B * L] (every row a full ID of L levels), optional per-example weights (grades).
    /// </summary>
    public Tensor Loss(int[] source, bool[] padding, int[] codes, int batch, float[]? weights = null)
    {
        int levels = codes.Length / batch;
        var targetIn = new int[batch * levels];
        var targetOut = new int[batch * levels];
        for (int b = 0; b < batch; b++)
        {
            var tokens = Vocabulary.Tokens(codes.AsSpan(b * levels, levels));
            for (int l = 0; l < levels; l++)
            {
                targetOut[b * levels + l] = tokens[l];
                targetIn[b * levels + l] = l == 0 ? SidVocabulary.Start : tokens[l - 1];
            }
        }
        return Model.Loss(source, targetIn, targetOut, batch, padding, weights);
    }
}
