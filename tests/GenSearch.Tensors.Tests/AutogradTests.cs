namespace GenSearch.Tensors.Tests;

/// <summary>Semantics of the autograd engine: what records, what accumulates, what is released, what errors say.</summary>
public class AutogradTests
{
    private static Tensor Param(int seed, params int[] shape)
    {
        var t = Twins.Random(seed, shape);
        t.RequiresGrad = true;
        return t;
    }

    [Fact]
    public void NoGradRecordsNothing()
    {
        var w = Param(1, 3, 4);
        using (Tensor.NoGrad())
        {
            Assert.False(Tensor.GradEnabled);
            var y = (w * 2f + 1f).Gelu().Softmax();
            Assert.False(y.RequiresGrad);
            Assert.False(Tensor.MatMul(w, w, transB: true).RequiresGrad);
            Assert.False(Tensor.Linear(w, Param(2, 5, 4), Param(3, 5)).RequiresGrad);
            Assert.False(w.Sum(0).RequiresGrad);
            using (Tensor.NoGrad()) Assert.False(w.Exp().RequiresGrad);
            Assert.False(w.Exp().RequiresGrad); // still inside the outer scope
        }
        Assert.True(Tensor.GradEnabled);
        Assert.True(w.Exp().RequiresGrad);
    }

    [Fact]
    public void OpsOnConstantsDoNotRequireGrad()
    {
        var c = Twins.Random(4, 3);
        Assert.False((c * c).Exp().RequiresGrad);
        Assert.True((c * Param(5, 3)).RequiresGrad);
    }

    [Fact]
    public void DetachStopsTheGradient()
    {
        var x = Param(6, 4);
        var detached = x.Detach();
        Assert.False(detached.RequiresGrad);
        Assert.Equal(x.Data, detached.Data);
        // y = x * sg(x): dy/dx = sg(x) only.
        (x * x.Detach()).SumAll().Backward();
        Assert.Equal(x.Data, x.Grad);
    }

    [Fact]
    public void GradientsAccumulateAcrossBackwardCallsUntilZeroGrad()
    {
        var w = Param(7, 3);
        (w * 2f).SumAll().Backward();
        Assert.Equal([2f, 2f, 2f], w.Grad!);
        (w * 3f).SumAll().Backward(); // a second, separate graph
        Assert.Equal([5f, 5f, 5f], w.Grad!);
        w.ZeroGrad();
        Assert.Null(w.Grad);
        (w * 4f).SumAll().Backward();
        Assert.Equal([4f, 4f, 4f], w.Grad!);
    }

    [Fact]
    public void TensorUsedTwiceGetsTheSummedGradient()
    {
        var x = Param(8, 5);
        // y = sum(exp(x) + 3 x): both paths from x meet at the sum.
        (x.Exp() + x * 3f).SumAll().Backward();
        Twins.AssertClose(x.Data.Select(v => Math.Exp(v) + 3).ToArray(), x.Grad!, rtol: 1e-6, context: "two paths");

        var h = Param(9, 2, 3);
        var shared = h.Tanh(); // an intermediate used by two ops
        Tensor.MatMul(shared, shared, transB: true).SumAll().Backward();
        // d/dh sum(S S^T) = 2 * (rowsum over the other rows) ... computed by the twin below.
        var grad = new double[6];
        for (int i = 0; i < 2; i++)
            for (int c = 0; c < 3; c++)
            {
                double s = 0;
                for (int j = 0; j < 2; j++) s += Math.Tanh(h.Data[j * 3 + c]);
                double t = Math.Tanh(h.Data[i * 3 + c]);
                grad[i * 3 + c] = 2 * s * (1 - t * t);
            }
        Twins.AssertClose(grad, h.Grad!, rtol: 1e-5, atol: 1e-6, context: "shared intermediate");
    }

    /// <summary>Every differentiable op, as a function of its inputs, for the accumulation checks.</summary>
    public static TheoryData<string> OpNames => new(AccumulatingOps.Keys);

    private static readonly Dictionary<string, (Func<Tensor[], Tensor> F, Func<Tensor[]> Inputs)> AccumulatingOps = new()
    {
        ["Add"] = (x => x[0] + x[1], () => [Param(1, 3, 4), Param(2, 4)]),
        ["Sub"] = (x => x[0] - x[1], () => [Param(1, 3, 4), Param(2, 3, 1)]),
        ["Mul"] = (x => x[0] * x[1], () => [Param(1, 3, 4), Param(2, 4)]),
        ["Div"] = (x => x[0] / (x[1] * x[1] + 1f), () => [Param(1, 3, 4), Param(2, 4)]),
        ["Unary"] = (x => x[0].Exp() + x[0].Tanh() + x[0].Sigmoid() + x[0].Gelu() + x[0].Relu() + x[0].Square(), () => [Param(1, 3, 5)]),
        ["Reduce"] = (x => x[0].Sum(1) + x[0].Mean(1) + x[0].Max(1), () => [Param(1, 3, 5)]),
        ["Shape"] = (x => x[0].Reshape(5, 3).Transpose(0, 1).Slice(1, 1, 3) + Tensor.Concat([x[0], x[0]], 1).Slice(1, 2, 3), () => [Param(1, 3, 5)]),
        ["Softmax"] = (x => x[0].Softmax() + x[0].LogSoftmax(), () => [Param(1, 3, 5)]),
        ["LayerNorm"] = (x => Tensor.LayerNorm(x[0], x[1], x[2]), () => [Param(1, 3, 5), Param(2, 5), Param(3, 5)]),
        ["MatMul"] = (x => Tensor.MatMul(x[0], x[1], transB: true), () => [Param(1, 2, 3, 4), Param(2, 5, 4)]),
        ["Linear"] = (x => Tensor.Linear(x[0], x[1], x[2]), () => [Param(1, 2, 3, 4), Param(2, 5, 4), Param(3, 5)]),
        ["Embedding"] = (x => Tensor.Embedding(x[0], [1, 3, 1], 3), () => [Param(1, 5, 2)]),
        ["EmbeddingBag"] = (x => Tensor.EmbeddingBag(x[0], [1, 3, 1, 4], [0, 3]), () => [Param(1, 5, 2)]),
        ["MaskedFill"] = (x => x[0].MaskedFill([true, false, false], [3, 1], 0f), () => [Param(1, 3, 4)]),
        ["Dropout"] = (x => x[0].Dropout(0.5f, new Rng(3)), () => [Param(1, 3, 4)]),
        ["StraightThrough"] = (x => Tensor.StraightThrough(x[0], x[0] * 2f), () => [Param(1, 3, 4)]),
        ["CrossEntropy"] = (x => Tensor.CrossEntropy(x[0], [1, Tensor.IgnoreIndex, 4]), () => [Param(1, 3, 5)]),
        ["Pairwise"] = (x => Tensor.PairwiseSquaredDistance(x[0], x[1]), () => [Param(1, 3, 4), Param(2, 5, 4)]),
        ["Attention"] = (x => Tensor.Attention(x[0], x[1], x[2], 2, causal: true), () => [Param(1, 2, 3, 4), Param(2, 2, 3, 4), Param(3, 2, 3, 4)]),
    };

    private static Tensor Projected(Tensor y) => (y * Twins.Random(77, y.Shape)).SumAll();

    [Theory]
    [MemberData(nameof(OpNames))]
    public void EveryOpAddsIntoAnExistingGradient(string op)
    {
        // Once: the reference gradients. Then a second graph without ZeroGrad must double them, and an
        // op used twice in one graph (each input reached through two nodes) must double them too.
        var (f, makeInputs) = AccumulatingOps[op];
        var inputs = makeInputs();
        Projected(f(inputs)).Backward();
        var once = inputs.Select(t => (float[])t.Grad!.Clone()).ToArray();

        Projected(f(inputs)).Backward();
        for (int i = 0; i < inputs.Length; i++)
            Twins.AssertClose(once[i].Select(g => 2f * g).ToArray(), inputs[i].Grad!, rtol: 1e-5, atol: 1e-6, context: $"{op} input {i}, two graphs");

        var fresh = makeInputs();
        (Projected(f(fresh)) + Projected(f(fresh))).Backward();
        for (int i = 0; i < fresh.Length; i++)
            Twins.AssertClose(once[i].Select(g => 2f * g).ToArray(), fresh[i].Grad!, rtol: 1e-5, atol: 1e-6, context: $"{op} input {i}, used twice");
    }

    [Fact]
    public void IntermediateGradientsAreReleasedAndLeavesKeepTheirs()
    {
        var x = Param(10, 3);
        var hidden = x * 2f;
        var loss = hidden.SumAll();
        loss.Backward();
        Assert.Null(hidden.Grad);
        Assert.NotNull(x.Grad);
    }

    [Fact]
    public void BackwardOnNonScalarWithoutSeedIsAClearError()
    {
        var y = Param(11, 2, 3) * 2f;
        var ex = Assert.Throws<InvalidOperationException>(() => y.Backward());
        Assert.Contains("one-element", ex.Message);
        Assert.Contains("[2, 3]", ex.Message);
        Assert.Throws<ArgumentException>(() => y.Backward(new float[5]));
        // With a seed of the right size it works.
        var x = Param(12, 2, 3);
        (x * 2f).Backward([1, 1, 1, 1, 1, 1]);
        Assert.Equal(new float[] { 2, 2, 2, 2, 2, 2 }, x.Grad);
    }

    [Fact]
    public void BackwardOnConstantIsAClearError()
    {
        var ex = Assert.Throws<InvalidOperationException>(() => Tensor.Scalar(1f).Backward());
        Assert.Contains("does not require a gradient", ex.Message);
    }

    [Fact]
    public void BackwardThroughAnAlreadyReleasedGraphIsAnErrorNotASilentLoss()
    {
        // Two losses over one shared intermediate: the first Backward releases the shared node, so a
        // second Backward could not reach x. It must say so rather than leave x's gradient short.
        var x = Param(13, 4);
        var shared = x.Exp();
        var first = shared.SumAll();
        var second = (shared * 2f).SumAll();
        first.Backward();
        var ex = Assert.Throws<InvalidOperationException>(() => second.Backward());
        Assert.Contains("released", ex.Message);
        // Calling Backward twice on the same loss is the same mistake.
        var y = Param(14, 3);
        var loss = (y * y).SumAll();
        loss.Backward();
        Assert.Throws<InvalidOperationException>(() => loss.Backward());
        // Summing the losses and calling Backward once is the supported way.
        var z = Param(15, 4);
        var s = z.Exp();
        (s.SumAll() + (s * 2f).SumAll()).Backward();
        Twins.AssertClose(z.Data.Select(v => 3 * Math.Exp(v)).ToArray(), z.Grad!, rtol: 1e-6, context: "summed losses");
    }

    [Fact]
    public void ShapeErrorsNameTheOpAndShapes()
    {
        var ex = Assert.Throws<ArgumentException>(() => Tensor.Add(Tensor.Zeros(2, 3), Tensor.Zeros(2, 4)));
        Assert.Contains("Add", ex.Message); Assert.Contains("[2, 3]", ex.Message); Assert.Contains("[2, 4]", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Tensor.MatMul(Tensor.Zeros(2, 3), Tensor.Zeros(2, 3)));
        Assert.Contains("MatMul", ex.Message); Assert.Contains("[2, 3]", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Tensor.Zeros(2, 3).Reshape(4, 2));
        Assert.Contains("Reshape", ex.Message); Assert.Contains("[2, 3]", ex.Message); Assert.Contains("[4, 2]", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => new Tensor(new float[5], 2, 3));
        Assert.Contains("5", ex.Message); Assert.Contains("[2, 3]", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Tensor.Zeros(2, -1));
        Assert.Contains("negative", ex.Message);
        Assert.Throws<InvalidOperationException>(() => Tensor.Zeros(2).Item());
    }

    [Fact]
    public void DeepChainBackwardDoesNotOverflowTheStack()
    {
        const int depth = 100_000;
        var x = Param(16, 1);
        var y = x;
        for (int i = 0; i < depth; i++) y = y + 1e-6f;
        y = y * 1f;
        y.SumAll().Backward();
        Assert.Equal([1f], x.Grad!);
    }

    [Fact]
    public void DeepChainOfBinaryOpsWithSharedWeight()
    {
        // 20,000 steps of h = h * w + h, every step using w: w's gradient sums over all of them.
        var w = Tensor.Full(1e-5f, 1);
        w.RequiresGrad = true;
        var h = Tensor.Full(1f, 1);
        int depth = 20_000;
        for (int i = 0; i < depth; i++) h = h * w + h;
        h.SumAll().Backward();
        // h_n = (1 + w)^n, dh/dw = n (1 + w)^(n - 1).
        double expected = depth * Math.Pow(1 + 1e-5, depth - 1);
        Assert.Equal(expected, w.Grad![0], expected * 5e-3);
    }
}
