using GenSearch.Cli;

return Commands.Run(args);
