using System.Numerics.Tensors;
using GenSearch.Tensors.Kernels;

namespace GenSearch.Tensors;

public sealed partial class Tensor
{
    /// <summary>
    /// Multi-head scaled dot-product attention in one op.
    /// Shapes: q [B, Tq, D], k and v [B, Tk, D], D = heads * Dh; head h uses columns h*Dh .. h*Dh+Dh-1,
    /// so no permute into [B, H, T, Dh] is needed. Result [B, Tq, D].
    /// <paramref name="causal"/>: query i sees keys j &lt;= i + (Tk - Tq), which is the usual mask when
    /// Tq == Tk and, with a KV cache (Tq new queries after Tk - Tq cached keys), the same mask again.
    /// <paramref name="keyPadding"/> [B, Tk], true = padding: never attended.
    /// Work is spread over B * heads, each (batch, head) one call of <see cref="AttentionKernels.Head"/>; each
    /// product is small (16 tokens), so it is never split.
    /// </summary>
    public static Tensor Attention(Tensor q, Tensor k, Tensor v, int heads, bool causal = false, bool[]? keyPadding = null)
    {
        if (q.Rank != 3 || k.Rank != 3 || v.Rank != 3 || !k.SameShape(v) || q.Shape[0] != k.Shape[0] || q.Shape[2] != k.Shape[2])
            Throw.Shape("Attention", $"needs q [B, Tq, D] and k, v [B, Tk, D]; got {q.ShapeString}, {k.ShapeString}, {v.ShapeString}");
        int batch = q.Shape[0], tq = q.Shape[1], tk = k.Shape[1], dim = q.Shape[2];
        if (heads <= 0 || dim % heads != 0) Throw.Argument($"Attention: {dim} columns do not split into {heads} heads");
        if (keyPadding is not null && keyPadding.Length != batch * tk) Throw.Shape("Attention", $"key padding has {keyPadding.Length} entries, needs {batch * tk}");
        if (causal && tq > tk) Throw.Shape("Attention", $"causal attention needs Tq <= Tk, got {tq} > {tk}");
        int dh = dim / heads;
        float scale = 1f / MathF.Sqrt(dh);
        var result = Uninitialized(batch, tq, dim);
        var probs = GC.AllocateUninitializedArray<float>(batch * heads * tq * tk); // [B, H, Tq, Tk], kept for the backward
        float[] qd = q.Data, kd = k.Data, vd = v.Data, od = result.Data;

        KernelParallel.For(batch * heads, 4, bh =>
        {
            int b = bh / heads, h = bh % heads;
            int qOff = b * tq * dim + h * dh, kOff = b * tk * dim + h * dh;
            var padding = keyPadding is null ? ReadOnlySpan<bool>.Empty : keyPadding.AsSpan(b * tk, tk);
            AttentionKernels.Head(qd.AsSpan(qOff), dim, kd.AsSpan(kOff), vd.AsSpan(kOff), dim, tq, tk, dh, scale, causal, padding,
                probs.AsSpan(bh * tq * tk, tq * tk), od.AsSpan(qOff), dim);
        });

        if (!NeedsGrad([q, k, v])) return result;
        return Record(result, [q, k, v], output =>
        {
            var g = output.Grad!;
            float[]? dq = q.RequiresGrad ? q.GradBuffer() : null;
            float[]? dk = k.RequiresGrad ? k.GradBuffer() : null;
            float[]? dv = v.RequiresGrad ? v.GradBuffer() : null;
            KernelParallel.For(batch * heads, 4, bh =>
            {
                int b = bh / heads, h = bh % heads;
                int qOff = b * tq * dim + h * dh, kOff = b * tk * dim + h * dh;
                var p = probs.AsSpan(bh * tq * tk, tq * tk);
                // dV_h += P^T dO_h
                if (dv is not null) Gemm.Sgemm(true, false, tk, dh, tq, 1f, p, tk, g.AsSpan(qOff), dim, 1f, dv.AsSpan(kOff), dim);
                if (dq is null && dk is null) return;
                // dP = dO_h V_h^T; dS = P * (dP - rowsum(dP * P)) * scale
                var ds = new float[tq * tk];
                Gemm.Sgemm(false, true, tq, tk, dh, 1f, g.AsSpan(qOff), dim, vd.AsSpan(kOff), dim, 0f, ds, tk);
                for (int i = 0; i < tq; i++)
                {
                    var dsRow = ds.AsSpan(i * tk, tk); var pRow = p.Slice(i * tk, tk);
                    float dot = TensorPrimitives.Dot(dsRow, pRow);
                    TensorPrimitives.Subtract(dsRow, dot, dsRow);
                    TensorPrimitives.Multiply(dsRow, pRow, dsRow);
                    TensorPrimitives.Multiply(dsRow, scale, dsRow);
                }
                // dQ_h += dS K_h; dK_h += dS^T Q_h
                if (dq is not null) Gemm.Sgemm(false, false, tq, dh, tk, 1f, ds, tk, kd.AsSpan(kOff), dim, 1f, dq.AsSpan(qOff), dim);
                if (dk is not null) Gemm.Sgemm(true, false, tk, dh, tq, 1f, ds, tk, qd.AsSpan(qOff), dim, 1f, dk.AsSpan(kOff), dim);
            });
        });
    }

}
