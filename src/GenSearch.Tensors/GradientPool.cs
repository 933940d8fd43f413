namespace GenSearch.Tensors;

/// <summary>
/// Recycles the large gradient arrays of one backward pass for the next. A training step allocates
/// hundreds of megabytes of intermediate gradients that all die inside <see cref="Tensor.Backward(float[])"/>;
/// left to the GC they become large-object garbage whose pages go back to the OS and are faulted in
/// again next step (about a tenth of a step's CPU time in the kernel). Backward hands each released
/// node's gradient back here, and the ops that make gradients rent from here.
/// </summary>
/// <remarks>
/// Only arrays nobody else references come back: a node's gradient when Backward releases the node,
/// and an owned gradient that was added into an existing one. Free lists are keyed by exact length,
/// since every consumer assumes a gradient is exactly its tensor's size; arrays below
/// <see cref="MinLength"/> are left to the GC, and at most <see cref="MaxPooledFloats"/> floats are kept.
/// </remarks>
internal static class GradientPool
{
    /// <summary>Shorter arrays are not pooled: they live in the small-object heap, where the GC recycles them cheaply.</summary>
    internal const int MinLength = 1 << 15;

    /// <summary>Most floats held across steps (1 GiB): bounds what an idle process keeps.</summary>
    internal const long MaxPooledFloats = 1L << 28;

    private static readonly Dictionary<int, Stack<float[]>> s_free = [];
    private static long s_pooled;

    /// <summary>An array of exactly <paramref name="length"/> floats with arbitrary contents.</summary>
    public static float[] RentUninitialized(int length)
    {
        if (length >= MinLength)
        {
            lock (s_free)
            {
                if (s_free.TryGetValue(length, out var stack) && stack.Count > 0)
                {
                    s_pooled -= length;
                    return stack.Pop();
                }
            }
        }
        return GC.AllocateUninitializedArray<float>(length);
    }

    /// <summary>An array of exactly <paramref name="length"/> zeros.</summary>
    public static float[] RentZeroed(int length)
    {
        if (length < MinLength) return new float[length];
        var array = RentUninitialized(length);
        array.AsSpan().Clear();
        return array;
    }

    /// <summary>Takes back an array that no one references any more.</summary>
    public static void Return(float[] array)
    {
        if (array.Length < MinLength) return;
        lock (s_free)
        {
            if (s_pooled + array.Length > MaxPooledFloats) return;
            if (!s_free.TryGetValue(array.Length, out var stack)) s_free[array.Length] = stack = new Stack<float[]>();
            stack.Push(array);
            s_pooled += array.Length;
        }
    }
}
