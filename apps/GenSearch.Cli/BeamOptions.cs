using System.CommandLine;
using GenSearch.Serving;

namespace GenSearch.Cli;

/// <summary>
/// The generative search's settings a command may override for one run, without editing the model's
/// config.json: --beam, and for unified models --steered-levels and --sketch-directions. One definition
/// for eval, search, serve and beam-survival, so the four read them alike.
/// </summary>
internal sealed class BeamOptions
{
    public readonly Option<int?> Beam;
    public readonly Option<int?> SteeredLevels = new("--steered-levels")
    {
        Description = "Unified models: code levels, counted from the last, whose scores carry the best similarity of the items under them " +
                      "(0: the items' level only; the model's levels or more: every level). Default: the model's config.json.",
    };
    public readonly Option<int?> SketchDirections = new("--sketch-directions")
    {
        Description = "Unified models: directions of the latent sketch that steers the levels above the last (the latent width or more: exact " +
                      "similarities throughout). Default: the model's config.json.",
    };

    public BeamOptions(string beamDescription = "Generative retrieval: beams per query (default: the model's, 50).")
        => Beam = new Option<int?>("--beam") { Description = beamDescription };

    /// <summary>Adds the three options to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        command.Options.Add(Beam);
        command.Options.Add(SteeredLevels);
        command.Options.Add(SketchDirections);
    }

    /// <summary>Refuses values out of range, by option name; returns <paramref name="parse"/>'s values.</summary>
    public (int? Beam, int? SteeredLevels, int? SketchDirections) Read(ParseResult parse)
    {
        var values = (parse.GetValue(Beam), parse.GetValue(SteeredLevels), parse.GetValue(SketchDirections));
        if (values.Item1 is { } beam) CliSupport.Range("--beam", beam, 1, 10_000);
        if (values.Item2 is { } levels) CliSupport.Range("--steered-levels", levels, 0, 1_000);
        if (values.Item3 is { } directions) CliSupport.Range("--sketch-directions", directions, 1, 100_000);
        return values;
    }

    /// <summary>
    /// Refuses --steered-levels and --sketch-directions unless <paramref name="modelDir"/> is a unified model
    /// (another kind, or BM25 alone, would ignore them silently).
    /// </summary>
    public static void CheckUnifiedOnly(int? steeredLevels, int? sketchDirections, string? modelDir)
    {
        if (steeredLevels is null && sketchDirections is null) return;
        string given = string.Join(" and ", new[] { steeredLevels is null ? null : "--steered-levels", sketchDirections is null ? null : "--sketch-directions" }.OfType<string>());
        if (modelDir is null) throw new CliException($"{given}: unified models only, and no --model is given");
        string kind = ModelFormats.KindOf(new ModelDirectory(modelDir));
        if (kind != UnifiedFormat.Name) throw new CliException($"{given}: unified models only; {modelDir} is a {kind} model");
    }

    /// <summary><paramref name="options"/> with the values given on the command line.</summary>
    public ModelOpenOptions Apply(ParseResult parse, ModelOpenOptions options)
    {
        var (beam, levels, directions) = Read(parse);
        CheckUnifiedOnly(levels, directions, parse.GetValue<string?>("--model"));
        return options with { BeamSize = beam, SteeredLevels = levels, SketchDirections = directions };
    }
}
