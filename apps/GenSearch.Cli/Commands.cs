using System.CommandLine;

namespace GenSearch.Cli;

/// <summary>The command tree; <see cref="Run"/> is the whole program (tests call it in process).</summary>
internal static class Commands
{
    /// <summary>Every command of <c>gensearch</c>.</summary>
    public static RootCommand Root()
    {
        var root = new RootCommand("GenSearch: generative search for .NET. Train, evaluate and serve search over a BEIR catalog.");
        root.Subcommands.Add(InfoCommand.Create());
        root.Subcommands.Add(TokenizeCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(CompareCommand.Create());
        root.Subcommands.Add(SearchCommand.Create());
        root.Subcommands.Add(TokenizerCommand.Create());
        root.Subcommands.Add(TrainCommand.Create());
        root.Subcommands.Add(BeamSurvivalCommand.Create());
        root.Subcommands.Add(MakeUserLogCommand.Create());
        root.Subcommands.Add(ServeCommand.Create());
        root.Subcommands.Add(ExportLogCommand.Create());
        return root;
    }

    /// <summary>Parses <paramref name="args"/> and runs the command; returns the exit code.</summary>
    public static int Run(string[] args) => Root().Parse(args).Invoke();
}
