using GenSearch.Tensors;

namespace GenSearch.Models.Unified;

/// <summary>
/// The losses of Search Preference Optimization (SPO, DESIGN.md): a group policy gradient with a KL
/// penalty to a frozen copy (candidates from the model's own beam, rewards normalised within each
/// query's group), and DPO on logged (better, worse) pairs of the same query. Both act on item scores
/// s(q, i), the model's own log-score of item i for query q (the unified model's: log P(ID | q) + w (sim - 1));
/// the policy over a group of candidates is softmax(s).
/// </summary>
public static class PreferenceLosses
{
    /// <summary>
    /// Rewards [groups * size] normalised within each group of <paramref name="size"/>: (r - mean) / std
    /// (population std). A group whose rewards are all equal (std below <paramref name="epsilon"/>) gets
    /// zeros: it says nothing about which candidate is better.
    /// </summary>
    public static float[] GroupAdvantages(ReadOnlySpan<float> rewards, int size, float epsilon = 1e-6f) => GroupAdvantages(rewards, size, null, epsilon);

    /// <summary>
    /// As <see cref="GroupAdvantages(ReadOnlySpan{float}, int, float)"/>, but only the candidates whose
    /// <paramref name="known"/> flag is set take part: each group is normalised over them, and the others
    /// get advantage 0 (a reward nobody observed says nothing). Null: all take part.
    /// </summary>
    public static float[] GroupAdvantages(ReadOnlySpan<float> rewards, int size, bool[]? known, float epsilon = 1e-6f)
    {
        if (size <= 0 || rewards.Length % size != 0) throw new ArgumentException($"{rewards.Length} rewards do not split into groups of {size}");
        if (known is not null && known.Length != rewards.Length) throw new ArgumentException($"{known.Length} known flags for {rewards.Length} rewards");
        var result = new float[rewards.Length];
        for (int start = 0; start < rewards.Length; start += size)
        {
            double mean = 0, variance = 0;
            int count = 0;
            for (int i = start; i < start + size; i++)
                if (known is null || known[i]) { mean += rewards[i]; count++; }
            if (count < 2) continue;
            mean /= count;
            for (int i = start; i < start + size; i++)
                if (known is null || known[i]) variance += (rewards[i] - mean) * (rewards[i] - mean);
            double std = Math.Sqrt(variance / count);
            if (std < epsilon) continue;
            for (int i = start; i < start + size; i++)
                if (known is null || known[i]) result[i] = (float)((rewards[i] - mean) / std);
        }
        return result;
    }

    /// <summary>
    /// The group policy-gradient loss with a KL penalty, averaged over groups:
    /// -sum_i pi_i A_i + beta KL(pi || pi_ref), pi = softmax(scores) over each row of
    /// <paramref name="scores"/> [groups, size], pi_ref = softmax(<paramref name="referenceScores"/>)
    /// (the frozen copy's scores of the same candidates, constants). <paramref name="advantages"/> [groups * size]
    /// (see <see cref="GroupAdvantages(ReadOnlySpan{float}, int, bool[], float)"/>) are constants. The first term is minus the expected advantage
    /// under the policy; its gradient, -sum_i pi_i A_i grad log pi_i, is the policy gradient over the
    /// group (the candidates are the beam's best, not samples, so each is weighted by its probability).
    /// REINFORCE's -sum_i A_i log pi_i, as if each candidate had been drawn, has no lower bound: on the
    /// test catalog it drove the losers' scores down without end and the first hit's reward from 97% to 34%.
    /// </summary>
    /// <remarks>
    /// <paramref name="logLikelihoodWeights"/> [groups * size], when given, adds -sum_i w_i log pi_i (w_i at least 0, so
    /// bounded below by 0): for candidates the beam did not rank (logged ones), whose pi_i is near 0, so that the
    /// expected-advantage term's gradient pi_i (A_i - mean) hardly moves them.
    /// </remarks>
    public static Tensor GroupPolicyGradient(Tensor scores, float[] advantages, float[] referenceScores, float klWeight, float[]? logLikelihoodWeights = null)
    {
        if (scores.Rank != 2) throw new ArgumentException($"scores must be [groups, size], got {scores.ShapeString}");
        int groups = scores.Shape[0], size = scores.Shape[1];
        if (advantages.Length != groups * size || referenceScores.Length != groups * size)
            throw new ArgumentException($"{advantages.Length} advantages and {referenceScores.Length} reference scores for {groups} x {size} candidates");
        if (logLikelihoodWeights is not null && (logLikelihoodWeights.Length != groups * size || logLikelihoodWeights.Any(w => !(float.IsFinite(w) && w >= 0))))
            throw new ArgumentException($"{logLikelihoodWeights.Length} log-likelihood weights for {groups} x {size} candidates; each must be finite and at least 0");
        var logPi = scores.LogSoftmax();
        var pi = logPi.Exp();
        var policy = Tensor.Mul(pi, Tensor.FromArray(advantages, groups, size)).SumAll().Scale(-1f);
        if (logLikelihoodWeights is not null) policy = policy - Tensor.Mul(logPi, Tensor.FromArray((float[])logLikelihoodWeights.Clone(), groups, size)).SumAll();
        if (klWeight == 0f) return policy.Scale(1f / groups);
        var logReference = Tensor.FromArray((float[])referenceScores.Clone(), groups, size).LogSoftmax().Detach();
        // KL(pi || pi_ref) = sum_i pi_i (log pi_i - log pi_ref_i).
        var kl = Tensor.Mul(pi, logPi - logReference).SumAll();
        return (policy + kl.Scale(klWeight)).Scale(1f / groups);
    }

    /// <summary>
    /// DPO (Rafailov et al. 2023) on pairs of the same query: the mean over pairs of
    /// -log sigmoid(beta ((s_better - ref_better) - (s_worse - ref_worse))), with the reference
    /// scores constants. <paramref name="better"/> and <paramref name="worse"/> are [pairs].
    /// </summary>
    public static Tensor Dpo(Tensor better, Tensor worse, float[] referenceBetter, float[] referenceWorse, float beta)
    {
        int pairs = better.Size;
        if (worse.Size != pairs || referenceBetter.Length != pairs || referenceWorse.Length != pairs)
            throw new ArgumentException($"DPO needs as many worse items and reference scores as better ones ({pairs})");
        var referenceMargin = new float[pairs];
        for (int i = 0; i < pairs; i++) referenceMargin[i] = referenceBetter[i] - referenceWorse[i];
        var margin = (better.Reshape(pairs, 1) - worse.Reshape(pairs, 1) - Tensor.FromArray(referenceMargin, pairs, 1)).Scale(beta);
        // log sigmoid(x) = log softmax([x, 0])_0: stable for any x.
        var logSigmoid = Tensor.Concat([margin, Tensor.Zeros(pairs, 1)], 1).LogSoftmax().Slice(1, 0, 1);
        return logSigmoid.SumAll().Scale(-1f / pairs);
    }
}
