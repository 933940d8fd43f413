using System.Runtime.Intrinsics;

namespace GenSearch.Tensors.Kernels;

/// <summary>
/// Draws inverted-dropout masks fast: eight xorshift32 lanes in one vector, a float mask holding
/// 1 / (1 - p) where an element is kept and 0 where it is dropped. The stream is cut into fixed
/// chunks, each seeded from (seed, chunk index), so the mask depends on the seed alone, not on how
/// many threads drew it.
/// </summary>
public static class DropoutMask
{
    /// <summary>Elements per independently seeded chunk.</summary>
    public const int ChunkSize = 1 << 14;

    /// <summary>Fills <paramref name="mask"/> for drop probability <paramref name="p"/> from <paramref name="seed"/>.</summary>
    public static void Fill(float[] mask, float p, ulong seed)
    {
        int chunks = (mask.Length + ChunkSize - 1) / ChunkSize;
        float scale = 1f / (1f - p);
        uint threshold = (uint)Math.Min(p * 4294967296.0, uint.MaxValue);
        KernelParallel.For(chunks, 4, chunk =>
        {
            int start = chunk * ChunkSize, end = Math.Min(mask.Length, start + ChunkSize);
            FillChunk(mask.AsSpan(start, end - start), threshold, scale, seed, chunk);
        });
    }

    /// <summary>
    /// Fills <paramref name="mask"/> as <see cref="Fill"/> does and, in the same pass over each chunk,
    /// writes <paramref name="y"/> = <paramref name="x"/> * mask: dropout's forward without reading the
    /// mask back from memory.
    /// </summary>
    public static void FillAndApply(float[] x, float[] mask, float[] y, float p, ulong seed)
    {
        if (x.Length != mask.Length || y.Length != mask.Length)
            throw new ArgumentException($"dropout arrays differ in length: x {x.Length}, mask {mask.Length}, y {y.Length}");
        int chunks = (mask.Length + ChunkSize - 1) / ChunkSize;
        float scale = 1f / (1f - p);
        uint threshold = (uint)Math.Min(p * 4294967296.0, uint.MaxValue);
        KernelParallel.For(chunks, 4, chunk =>
        {
            int start = chunk * ChunkSize, length = Math.Min(mask.Length - start, ChunkSize);
            var m = mask.AsSpan(start, length);
            FillChunk(m, threshold, scale, seed, chunk);
            // The chunk's mask (64 KB) is still in cache here.
            System.Numerics.Tensors.TensorPrimitives.Multiply(x.AsSpan(start, length), m, y.AsSpan(start, length));
        });
    }

    /// <summary>The lanes' starting states for one chunk (never zero, as xorshift needs).</summary>
    internal static uint[] LaneStates(ulong seed, int chunk)
    {
        var states = new uint[8];
        ulong x = seed ^ ((ulong)chunk * 0xD1B54A32D192ED03UL);
        for (int lane = 0; lane < 8; lane++)
        {
            ulong z = x += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            states[lane] = (uint)(z ^ (z >> 31)) | 1u;
        }
        return states;
    }

    private static void FillChunk(Span<float> mask, uint threshold, float scale, ulong seed, int chunk)
    {
        var state = Vector256.Create<uint>(LaneStates(seed, chunk));
        var vThreshold = Vector256.Create(threshold);
        var vScale = Vector256.Create(scale);
        int i = 0;
        for (; i <= mask.Length - 8; i += 8)
        {
            state ^= state << 13; state ^= state >>> 17; state ^= state << 5;
            var keep = Vector256.GreaterThanOrEqual(state, vThreshold).AsSingle();
            (keep & vScale).CopyTo(mask.Slice(i, 8));
        }
        if (i < mask.Length)
        {
            state ^= state << 13; state ^= state >>> 17; state ^= state << 5;
            for (int lane = 0; i < mask.Length; i++, lane++) mask[i] = state[lane] >= threshold ? scale : 0f;
        }
    }

    /// <summary>The scalar twin: the same lanes stepped one at a time.</summary>
    public static void FillReference(float[] mask, float p, ulong seed)
    {
        float scale = 1f / (1f - p);
        uint threshold = (uint)Math.Min(p * 4294967296.0, uint.MaxValue);
        for (int chunk = 0; chunk * ChunkSize < mask.Length; chunk++)
        {
            var lanes = LaneStates(seed, chunk);
            int start = chunk * ChunkSize, end = Math.Min(mask.Length, start + ChunkSize);
            for (int i = start; i < end; i += 8)
            {
                for (int lane = 0; lane < 8; lane++)
                {
                    uint s = lanes[lane];
                    s ^= s << 13; s ^= s >> 17; s ^= s << 5;
                    lanes[lane] = s;
                    if (i + lane < end) mask[i + lane] = s >= threshold ? scale : 0f;
                }
            }
        }
    }
}
