using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace GenSearch.Tensors;

/// <summary>Throw helpers kept out of line so that hot callers stay small and inlinable.</summary>
internal static class Throw
{
    [DoesNotReturn, MethodImpl(MethodImplOptions.NoInlining)]
    public static void Argument(string message) => throw new ArgumentException(message);

    [DoesNotReturn, MethodImpl(MethodImplOptions.NoInlining)]
    public static void InvalidOperation(string message) => throw new InvalidOperationException(message);

    [DoesNotReturn, MethodImpl(MethodImplOptions.NoInlining)]
    public static void Shape(string op, string message) => throw new ArgumentException($"{op}: {message}");
}
