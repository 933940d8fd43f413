namespace GenSearch.Tensors.Tests;

/// <summary>
/// Finite-difference gradient checks: the analytic gradient of L = sum(f(inputs) * R), for a fixed
/// random R, against central differences (L(x + eps) - L(x - eps)) / 2 eps for every input element.
/// The loss is summed in double so that float32 rounding in the forward pass stays below the tolerance.
/// </summary>
public static class GradCheck
{
    public static void Check(Func<Tensor[], Tensor> f, Tensor[] inputs, float eps = 3e-3f, float atol = 3e-3f, float rtol = 2e-2f)
    {
        foreach (var t in inputs) { t.RequiresGrad = true; t.Grad = null; }
        var output = f(inputs);
        var rng = new Rng(99);
        var projection = new float[output.Size];
        rng.FillUniform(projection, -1f, 1f);
        var loss = Tensor.Mul(output, new Tensor(projection, output.Shape)).Reshape(output.Size).Sum(0);
        loss.Backward();

        double Loss()
        {
            using var _ = Tensor.NoGrad();
            var y = f(inputs);
            double s = 0;
            for (int i = 0; i < y.Size; i++) s += (double)y.Data[i] * projection[i];
            return s;
        }

        for (int ti = 0; ti < inputs.Length; ti++)
        {
            var t = inputs[ti];
            var analytic = t.Grad ?? new float[t.Size];
            for (int i = 0; i < t.Size; i++)
            {
                float saved = t.Data[i];
                t.Data[i] = saved + eps; double plus = Loss();
                t.Data[i] = saved - eps; double minus = Loss();
                t.Data[i] = saved;
                double numeric = (plus - minus) / (2 * eps);
                double diff = Math.Abs(numeric - analytic[i]);
                Assert.True(diff <= atol + rtol * Math.Abs(numeric),
                    $"input {ti} element {i}: analytic {analytic[i]:G6} vs numeric {numeric:G6} (shape {t.ShapeString})");
            }
        }
    }

    public static Tensor Random(int seed, params int[] shape) => Tensor.Randn(new Rng((ulong)seed), 1f, shape);

    public static Tensor Positive(int seed, params int[] shape) => Tensor.Uniform(new Rng((ulong)seed), 0.5f, 2f, shape);
}
