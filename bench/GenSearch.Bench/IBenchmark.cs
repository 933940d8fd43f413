namespace GenSearch.Bench;

/// <summary>
/// One named group of figures. <see cref="Run"/> yields (name, value) pairs as they are measured;
/// the harness prints each as one <c>name: value</c> line, the format scripts read.
/// </summary>
public interface IBenchmark
{
    /// <summary>The name <c>bench/run NAME</c> selects it by, e.g. "gemm".</summary>
    string Name { get; }

    /// <summary>One line on what it measures and against what, for <c>bench/run --list</c>.</summary>
    string Description { get; }

    /// <summary>Measures and yields the figures. Throws <see cref="BenchmarkSkipped"/> when a reference point is missing.</summary>
    IEnumerable<(string Name, double Value)> Run();
}

/// <summary>Thrown when a benchmark cannot run here (say, a reference library is not installed).</summary>
public sealed class BenchmarkSkipped(string reason) : Exception(reason);
