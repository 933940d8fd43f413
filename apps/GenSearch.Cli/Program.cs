using System.CommandLine;
using GenSearch.Cli;

var root = new RootCommand("GenSearch: generative search for .NET. Train, evaluate and serve search over a BEIR catalog.");
root.Subcommands.Add(InfoCommand.Create());
root.Subcommands.Add(TokenizeCommand.Create());
root.Subcommands.Add(EvalCommand.Create());
root.Subcommands.Add(SearchCommand.Create());
root.Subcommands.Add(TokenizerCommand.Create());
root.Subcommands.Add(TrainCommand.Create());
return root.Parse(args).Invoke();
