namespace GenSearch.Tensors.Tests;

/// <summary>
/// Tests that change the process-wide <see cref="Kernels.KernelThreads.Count"/> run in this
/// collection, which xUnit runs alone: otherwise one test's setting would change how another test's
/// kernels split their work while it runs.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class KernelThreadsCollection
{
    public const string Name = "changes KernelThreads.Count";
}
