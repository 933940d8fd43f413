using GenSearch.Tensors.Kernels;

namespace GenSearch.Tensors.Tests;

public class GemmTests
{
    [Fact]
    public void ReferenceMatchesHandComputedProduct()
    {
        // [1 2; 3 4] * [5 6; 7 8] = [19 22; 43 50]
        float[] a = [1, 2, 3, 4], b = [5, 6, 7, 8], c = new float[4];
        GemmReference.Sgemm(false, false, 2, 2, 2, 1f, a, 2, b, 2, 0f, c, 2);
        Assert.Equal([19f, 22f, 43f, 50f], c);
        // A^T * B with A^T = [1 3; 2 4]: [26 30; 38 44]
        GemmReference.Sgemm(true, false, 2, 2, 2, 1f, a, 2, b, 2, 0f, c, 2);
        Assert.Equal([26f, 30f, 38f, 44f], c);
    }
}
