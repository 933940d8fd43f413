namespace GenSearch.Data;

/// <summary>Thrown for bad input data. The message reads "file:line: what is wrong".</summary>
public sealed class DataFormatException(string file, long line, string problem)
    : Exception(line > 0 ? $"{file}:{line}: {problem}" : $"{file}: {problem}")
{
    /// <summary>The file that holds the problem.</summary>
    public string File { get; } = file;
    /// <summary>1-based line number, or 0 when the problem is the file as a whole.</summary>
    public long Line { get; } = line;
    /// <summary>What is wrong, without the location.</summary>
    public string Problem { get; } = problem;
}
