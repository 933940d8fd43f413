namespace GenSearch.Tensors;

/// <summary>
/// Finite-difference gradient checking, as torch.autograd.gradcheck: the analytic gradient of
/// L = sum(f(inputs) * R), for a fixed random R, against central differences
/// (L(x + eps) - L(x - eps)) / 2 eps for every input element. L is summed in double so that float32
/// rounding in the forward pass stays below the tolerance. Every op's tests and every composite
/// loss's tests use it.
/// </summary>
public static class GradientCheck
{
    /// <summary>One element whose analytic and numeric gradients disagree.</summary>
    public sealed record Mismatch(int Input, int Element, double Analytic, double Numeric, string Shape)
    {
        /// <inheritdoc/>
        public override string ToString() => $"input {Input} element {Element}: analytic {Analytic:G6} vs numeric {Numeric:G6} (shape {Shape})";
    }

    /// <summary>
    /// Checks every element of every input; returns the mismatches (|analytic - numeric| &gt;
    /// atol + rtol * |numeric|), empty when the gradient is right. Inputs get RequiresGrad set.
    /// </summary>
    public static List<Mismatch> Run(Func<Tensor[], Tensor> f, Tensor[] inputs, float eps = 3e-3f, float atol = 3e-3f, float rtol = 2e-2f)
    {
        foreach (var t in inputs) { t.RequiresGrad = true; t.Grad = null; }
        var output = f(inputs);
        var projection = new float[output.Size];
        new Rng(99).FillUniform(projection, -1f, 1f);
        (output * new Tensor(projection, output.Shape)).SumAll().Backward();

        double Loss()
        {
            using var _ = Tensor.NoGrad();
            var y = f(inputs);
            double s = 0;
            for (int i = 0; i < y.Size; i++) s += (double)y.Data[i] * projection[i];
            return s;
        }

        var mismatches = new List<Mismatch>();
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
                if (Math.Abs(numeric - analytic[i]) > atol + rtol * Math.Abs(numeric))
                    mismatches.Add(new Mismatch(ti, i, analytic[i], numeric, t.ShapeString));
            }
        }
        return mismatches;
    }
}
