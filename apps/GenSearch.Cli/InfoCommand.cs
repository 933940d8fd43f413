using System.CommandLine;
using System.Runtime.Intrinsics.X86;
using GenSearch.Tensors.Kernels;

namespace GenSearch.Cli;

/// <summary><c>gensearch info</c>: what the engine will use on this machine.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var command = new Command("info", "Show the runtime, SIMD support and kernel threads the engine will use.");
        command.SetAction(_ =>
        {
            Console.WriteLine($"runtime:        .NET {Environment.Version}");
            Console.WriteLine($"processors:     {Environment.ProcessorCount}");
            Console.WriteLine($"kernel threads: {KernelThreads.Count}");
            Console.WriteLine($"avx2:           {Avx2.IsSupported}");
            Console.WriteLine($"fma:            {Fma.IsSupported}");
            Console.WriteLine($"avx512f:        {Avx512F.IsSupported}");
            return 0;
        });
        return command;
    }
}
