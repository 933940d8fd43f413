using GenSearch.Tensors.Kernels;

namespace GenSearch.Tensors.Tests;

[Collection(KernelThreadsCollection.Name)]
public class DropoutMaskTests
{
    [Fact]
    public void VectorisedMaskEqualsScalarTwinAtEveryLength()
    {
        foreach (int n in Enumerable.Range(0, 65).Concat([DropoutMask.ChunkSize - 3, 3 * DropoutMask.ChunkSize + 5]))
        {
            float[] fast = new float[n], slow = new float[n];
            DropoutMask.Fill(fast, 0.3f, 42);
            DropoutMask.FillReference(slow, 0.3f, 42);
            Assert.Equal(slow, fast);
        }
    }

    [Fact]
    public void FillAndApplyEqualsFillThenMultiplyAtAnyThreadCount()
    {
        int saved = KernelThreads.Count;
        try
        {
            foreach (int threads in new[] { 1, 2, 3 })
            {
                KernelThreads.Count = threads;
                foreach (int n in Enumerable.Range(0, 65).Concat([DropoutMask.ChunkSize + 1, 9 * DropoutMask.ChunkSize - 7]))
                {
                    var x = Twins.RandomArray(n, n, -3f, 3f);
                    float[] mask = new float[n], y = new float[n], expectedMask = new float[n];
                    DropoutMask.FillAndApply(x, mask, y, 0.2f, 99);
                    DropoutMask.FillReference(expectedMask, 0.2f, 99);
                    Assert.Equal(expectedMask, mask);
                    Assert.Equal(x.Select((v, i) => v * expectedMask[i]).ToArray(), y);
                }
            }
        }
        finally { KernelThreads.Count = saved; }
        Assert.Throws<ArgumentException>(() => DropoutMask.FillAndApply(new float[3], new float[4], new float[4], 0.1f, 1));
    }

    [Fact]
    public void MaskDependsOnSeedNotOnThreads()
    {
        int saved = KernelThreads.Count;
        try
        {
            var one = new float[10 * DropoutMask.ChunkSize]; var two = new float[one.Length];
            KernelThreads.Count = 1; DropoutMask.Fill(one, 0.1f, 7);
            KernelThreads.Count = 2; DropoutMask.Fill(two, 0.1f, 7);
            Assert.Equal(one, two);
            var other = new float[one.Length];
            DropoutMask.Fill(other, 0.1f, 8);
            Assert.NotEqual(one, other);
        }
        finally { KernelThreads.Count = saved; }
    }

    [Fact]
    public void KeepRateAndScaleMatchTheProbability()
    {
        var mask = new float[1 << 20];
        DropoutMask.Fill(mask, 0.25f, 3);
        double kept = mask.Count(v => v != 0f) / (double)mask.Length;
        Assert.InRange(kept, 0.745, 0.755);
        Assert.All(mask.Where(v => v != 0f).Take(1000), v => Assert.Equal(1f / 0.75f, v));
    }
}
