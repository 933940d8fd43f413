using GenSearch.Models.Unified;
using GenSearch.Tensors;

namespace GenSearch.Models.Tests;

public class PreferenceLossesTests
{
    private static Tensor R(Rng rng, params int[] shape) => Tensor.Randn(rng, 1f, shape);

    [Fact]
    public void GroupAdvantagesNormaliseWithinEachGroupAndZeroAGroupOfEqualRewards()
    {
        // Group 1: mean 0.5, population std 0.5. Group 2: all equal, no preference. Group 3: mean 2, std sqrt(2).
        var a = PreferenceLosses.GroupAdvantages([1f, 0f, 0f, 1f, 2f, 2f, 2f, 2f, 0f, 4f, 2f, 2f], 4);
        Assert.Equal([1f, -1f, -1f, 1f, 0f, 0f, 0f, 0f], a[..8]);
        float std = MathF.Sqrt(8f / 4f);
        Assert.Equal(-2f / std, a[8], 5); Assert.Equal(2f / std, a[9], 5); Assert.Equal(0f, a[10]); Assert.Equal(0f, a[11]);
        Assert.Throws<ArgumentException>(() => PreferenceLosses.GroupAdvantages([1f, 2f, 3f], 2));
        // Only the known candidates take part: [1, ?, 0, ?] normalises over 1 and 0; one known candidate alone says nothing.
        var partial = PreferenceLosses.GroupAdvantages([1f, 5f, 0f, 9f, 3f, 0f, 0f, 0f], 4, [true, false, true, false, true, false, false, false]);
        Assert.Equal([1f, 0f, -1f, 0f, 0f, 0f, 0f, 0f], partial);
    }

    [Fact]
    public void GroupPolicyGradientAndItsKlTermHaveTheirHandComputedValues()
    {
        // pi = softmax([0, ln 2]) = [1/3, 2/3]; A = [1, -1]: -(1/3 - 2/3) = 1/3.
        // pi_ref = softmax([0, 0]) = [1/2, 1/2]: KL = 1/3 ln(2/3) + 2/3 ln(4/3).
        var scores = Tensor.FromArray([0f, MathF.Log(2f)], 1, 2);
        float kl = 1f / 3 * MathF.Log(2f / 3) + 2f / 3 * MathF.Log(4f / 3);
        Assert.Equal(1f / 3, PreferenceLosses.GroupPolicyGradient(scores, [1f, -1f], [0f, 0f], 0f).Item(), 5);
        Assert.Equal(1f / 3 + 0.5f * kl, PreferenceLosses.GroupPolicyGradient(scores, [1f, -1f], [0f, 0f], 0.5f).Item(), 5);
        // The KL term is zero when the policy is the reference (shifted scores give the same softmax), and two groups average.
        Assert.Equal(0f, PreferenceLosses.GroupPolicyGradient(scores, [0f, 0f], [5f, 5f + MathF.Log(2f)], 1f).Item(), 5);
        var two = Tensor.FromArray([0f, MathF.Log(2f), 0f, MathF.Log(2f)], 2, 2);
        Assert.Equal(1f / 6, PreferenceLosses.GroupPolicyGradient(two, [1f, -1f, 0f, 0f], [0f, 0f, 0f, 0f], 0f).Item(), 5);
        // Bounded: however far the scores part, the loss stays at least minus the largest advantage.
        var apart = Tensor.FromArray([50f, -50f], 1, 2);
        Assert.Equal(-1f, PreferenceLosses.GroupPolicyGradient(apart, [1f, -1f], [0f, 0f], 0f).Item(), 5);
        // The log-likelihood term of a logged candidate: weight 2 on the second, -2 ln(2/3) beside the first term's 1/3.
        Assert.Equal(1f / 3 - 2f * MathF.Log(2f / 3), PreferenceLosses.GroupPolicyGradient(scores, [1f, -1f], [0f, 0f], 0f, [0f, 2f]).Item(), 5);
        Assert.Throws<ArgumentException>(() => PreferenceLosses.GroupPolicyGradient(scores, [1f, -1f], [0f, 0f], 0f, [0f, -1f]));
        Assert.Throws<ArgumentException>(() => PreferenceLosses.GroupPolicyGradient(scores, [1f, -1f], [0f, 0f], 0f, [0f, float.PositiveInfinity]));
        // Averaged over groups like the rest: the second group adds nothing.
        Assert.Equal((1f / 3 - 2f * MathF.Log(2f / 3)) / 2, PreferenceLosses.GroupPolicyGradient(two, [1f, -1f, 0f, 0f], [0f, 0f, 0f, 0f], 0f, [0f, 2f, 0f, 0f]).Item(), 5);
    }

    [Fact]
    public void DpoLossHasItsHandComputedValue()
    {
        // beta ((2 - 0.5) - (1 - 0.5)) = 0.1: -log sigmoid(0.1) = log(1 + e^-0.1) = 0.6443967.
        // Second pair: beta ((0 - 1) - (3 - 0)) = -0.4: log(1 + e^0.4) = 0.9130153. Mean 0.778706.
        var better = Tensor.FromArray([2f, 0f], 2); var worse = Tensor.FromArray([1f, 3f], 2);
        Assert.Equal(0.778706f, PreferenceLosses.Dpo(better, worse, [0.5f, 1f], [0.5f, 0f], 0.1f).Item(), 5);
        // Stable far from zero: a margin of 1000 gives ~0, of -1000 gives ~1000.
        Assert.Equal(0f, PreferenceLosses.Dpo(Tensor.FromArray([1000f], 1), Tensor.FromArray([0f], 1), [0f], [0f], 1f).Item(), 4);
        Assert.Equal(1000f, PreferenceLosses.Dpo(Tensor.FromArray([0f], 1), Tensor.FromArray([1000f], 1), [0f], [0f], 1f).Item(), 1);
    }

    [Fact]
    public void PreferenceLossGradientsMatchFiniteDifferences()
    {
        var rng = new Rng(3);
        Assert.Empty(GradientCheck.Run(x => PreferenceLosses.GroupPolicyGradient(x[0], [1f, -0.5f, -0.5f, 0f, 1.2f, -1.2f], [0.3f, -0.2f, 0.1f, 0.5f, 0f, -1f], 0.7f),
            [R(rng, 2, 3)]));
        Assert.Empty(GradientCheck.Run(x => PreferenceLosses.GroupPolicyGradient(x[0], [1f, -0.5f, -0.5f, 0f, 1.2f, -1.2f], [0.3f, -0.2f, 0.1f, 0.5f, 0f, -1f], 0.7f,
            [0f, 0f, 0.8f, 1.5f, 0f, 0f]), [R(rng, 2, 3)]));
        Assert.Empty(GradientCheck.Run(x => PreferenceLosses.Dpo(x[0], x[1], [0.2f, -0.4f, 1f], [0.1f, 0.3f, -0.5f], 0.8f), [R(rng, 3), R(rng, 3)]));
    }
}
