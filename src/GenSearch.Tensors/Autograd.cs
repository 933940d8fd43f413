using System.Numerics.Tensors;

namespace GenSearch.Tensors;

public sealed partial class Tensor
{
    [ThreadStatic] private static int t_noGradDepth;

    /// <summary>Whether ops on this thread record a graph (false inside <see cref="NoGrad"/>).</summary>
    public static bool GradEnabled => t_noGradDepth == 0;

    /// <summary>
    /// A scope in which no op records a graph: inference, evaluation, optimizer updates.
    /// <c>using (Tensor.NoGrad()) { ... }</c>
    /// </summary>
    public static NoGradScope NoGrad() => new();

    /// <summary>The scope returned by <see cref="NoGrad"/>.</summary>
    public readonly struct NoGradScope : IDisposable
    {
        /// <summary>Enters the scope.</summary>
        public NoGradScope() => t_noGradDepth++;

        /// <summary>Leaves the scope.</summary>
        public void Dispose() => t_noGradDepth--;
    }

    /// <summary>True when an op over these inputs must record a graph node.</summary>
    internal static bool NeedsGrad(Tensor a) => t_noGradDepth == 0 && a.RequiresGrad;

    internal static bool NeedsGrad(Tensor a, Tensor b) => t_noGradDepth == 0 && (a.RequiresGrad || b.RequiresGrad);

    internal static bool NeedsGrad(ReadOnlySpan<Tensor> inputs)
    {
        if (t_noGradDepth != 0) return false;
        foreach (var t in inputs) if (t.RequiresGrad) return true;
        return false;
    }

    /// <summary>Makes <paramref name="output"/> a graph node over <paramref name="inputs"/>.</summary>
    internal static Tensor Record(Tensor output, Tensor[] inputs, Action<Tensor> backward)
    {
        output.RequiresGrad = true;
        output.Inputs = inputs;
        output.BackwardFn = backward;
        return output;
    }

    /// <summary>
    /// Set once <see cref="Backward()"/> has run this node and dropped its inputs: a later Backward
    /// through it could not reach them, so it throws instead of leaving their gradients short.
    /// </summary>
    internal bool Released;

    /// <summary>Adds <paramref name="gradient"/> into this tensor's gradient (allocating it at first).</summary>
    internal void AccumulateGrad(ReadOnlySpan<float> gradient)
    {
        if (!RequiresGrad) return;
        _gradRowsOf = null; // a dense write: any row may be non-zero
        if (Grad is null)
        {
            Grad = GradientPool.RentUninitialized(gradient.Length);
            gradient.CopyTo(Grad);
        }
        else
        {
            TensorPrimitives.Add(Grad, gradient, Grad);
        }
    }

    /// <summary>Like <see cref="AccumulateGrad"/>, but may keep <paramref name="gradient"/> itself, which the caller gives up.</summary>
    internal void AccumulateGradOwned(float[] gradient)
    {
        if (!RequiresGrad) return;
        _gradRowsOf = null;
        if (Grad is null)
        {
            Grad = gradient;
        }
        else
        {
            TensorPrimitives.Add(Grad, gradient, Grad);
            GradientPool.Return(gradient);
        }
    }

    /// <summary>
    /// Adds <paramref name="output"/>'s gradient (same size as this tensor) into this one's, taking the
    /// array itself when this tensor has none yet: a pass-through backward (reshape, residual add)
    /// then moves no data. The output gives its gradient up, so Backward does not recycle it.
    /// </summary>
    internal void TakeGrad(Tensor output)
    {
        if (!RequiresGrad) return;
        _gradRowsOf = null;
        var gradient = output.Grad!;
        if (gradient.Length != Size) Throw.InvalidOperation($"gradient of {gradient.Length} elements passed to a tensor of {Size}");
        if (Grad is null)
        {
            Grad = gradient;
            output.Grad = null;
        }
        else
        {
            TensorPrimitives.Add(Grad, gradient, Grad);
        }
    }

    /// <summary>This tensor's gradient buffer, zero-filled when first asked for; kernels add into it in place (anywhere).</summary>
    internal float[] GradBuffer()
    {
        _gradRowsOf = null;
        return Grad ??= GradientPool.RentZeroed(Size);
    }

    // Row-sparse gradients (RowSparse leaves such as n-gram tables): the gradient array is kept from step
    // to step, and the rows the sparse ops (Embedding, EmbeddingBag) add into are remembered, so a step
    // neither clears nor scans the whole table: the optimizer updates the listed rows and ZeroGrad clears
    // just them. Measured on the unified model (a 182k x 256 table, 186 MB): a fresh zeroed gradient per
    // step, twice faulted in and cleared, was a third of training's CPU time. Any other write into the
    // gradient (GradBuffer, AccumulateGrad, TakeGrad) makes the rows unknown, and then every row counts.
    private float[]? _cleanGrad;      // a zeroed array ready to be the next gradient
    private float[]? _gradRowsOf;     // the gradient array that _gradRows describes (null: none)
    private List<int>? _gradRows;     // rows written since that array was issued, each once
    private bool[]? _gradRowListed;

    /// <summary>
    /// The gradient buffer for an op that adds into rows <paramref name="rows"/> only (along the first
    /// axis). On a <see cref="RowSparse"/> tensor the rows are remembered (see <see cref="GradRows"/>).
    /// </summary>
    internal float[] RowGradBuffer(ReadOnlySpan<int> rows)
    {
        if (!RowSparse || Rank < 1) return GradBuffer();
        if (Grad is null)
        {
            Grad = _cleanGrad ?? GradientPool.RentZeroed(Size);
            _cleanGrad = null;
            _gradRowListed ??= new bool[Shape[0]];
            if (_gradRows is null) _gradRows = [];
            else
            {
                foreach (int r in _gradRows) _gradRowListed[r] = false; // left by a gradient dropped unseen
                _gradRows.Clear();
            }
            _gradRowsOf = Grad;
        }
        if (!ReferenceEquals(_gradRowsOf, Grad)) return Grad;
        foreach (int r in rows)
            if (!_gradRowListed![r])
            {
                _gradRowListed[r] = true;
                _gradRows!.Add(r);
            }
        return Grad;
    }

    /// <summary>
    /// For a <see cref="RowSparse"/> tensor whose gradient only sparse ops wrote: the rows (first axis)
    /// that may be non-zero, each once, in the order first written. Null when any row may be non-zero.
    /// </summary>
    public IReadOnlyList<int>? GradRows => Grad is not null && ReferenceEquals(_gradRowsOf, Grad) ? _gradRows : null;

    /// <summary>
    /// Drops the gradient (<see cref="Grad"/> becomes null). A <see cref="RowSparse"/> tensor whose written
    /// rows are known clears just those and keeps the array for its next gradient.
    /// </summary>
    public void ZeroGrad()
    {
        if (Grad is not null && GradRows is { } rows)
        {
            int width = Size / Shape[0];
            foreach (int r in rows)
            {
                Grad.AsSpan(r * width, width).Clear();
                _gradRowListed![r] = false;
            }
            _gradRows!.Clear();
            _cleanGrad = Grad;
        }
        _gradRowsOf = null;
        Grad = null;
    }

    /// <summary>Backpropagates from a one-element tensor (a loss).</summary>
    public void Backward()
    {
        if (Size != 1) Throw.InvalidOperation($"Backward() without a gradient needs a one-element tensor, this is {ShapeString}");
        Backward([1f]);
    }

    /// <summary>
    /// Backpropagates <paramref name="seed"/> (this tensor's gradient) through the graph that produced it.
    /// Leaves (parameters, inputs that require a gradient) keep their <see cref="Grad"/>; the graph is
    /// released afterwards, as in PyTorch, so intermediate activations can be collected.
    /// </summary>
    public void Backward(float[] seed)
    {
        if (!RequiresGrad) Throw.InvalidOperation("Backward() on a tensor that does not require a gradient");
        if (seed.Length != Size) Throw.Argument($"Backward seed has {seed.Length} elements, tensor has {Size}");
        var order = TopologicalOrder(this); // throws before any gradient moves if part of the graph is released
        AccumulateGrad(seed);
        for (int i = order.Count - 1; i >= 0; i--)
        {
            var node = order[i];
            if (node.BackwardFn is null) continue;
            if (node.Grad is not null) node.BackwardFn(node);
            // Release the node: its closure holds activations, and its gradient is not a leaf's, so
            // nothing references it any more and the next backward can reuse it.
            node.BackwardFn = null;
            node.Inputs = [];
            if (node.Grad is not null) GradientPool.Return(node.Grad);
            node.Grad = null;
            node.Released = true;
        }
    }

    /// <summary>Nodes reachable from <paramref name="root"/>, every node after its inputs (iterative DFS: deep graphs do not overflow the stack).</summary>
    private static List<Tensor> TopologicalOrder(Tensor root)
    {
        var order = new List<Tensor>();
        var visited = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<(Tensor Node, int NextInput)>();
        if (root.Released) ThrowReleased(root);
        stack.Push((root, 0));
        visited.Add(root);
        while (stack.Count > 0)
        {
            var (node, next) = stack.Pop();
            if (next < node.Inputs.Length)
            {
                stack.Push((node, next + 1));
                var input = node.Inputs[next];
                if (input.RequiresGrad && visited.Add(input))
                {
                    if (input.Released) ThrowReleased(input);
                    stack.Push((input, 0));
                }
            }
            else
            {
                order.Add(node);
            }
        }
        return order;
    }

    private static void ThrowReleased(Tensor node) => Throw.InvalidOperation(
        $"Backward() reaches a {node.ShapeString}{(node.Name is null ? "" : " " + node.Name)} node that an earlier Backward() already released, " +
        "so its inputs' gradients would be lost; add the losses and call Backward() once");

    /// <summary>The same values, cut from the graph: no gradient flows through it (stop-gradient).</summary>
    public Tensor Detach() => new(Data, Shape);
}
