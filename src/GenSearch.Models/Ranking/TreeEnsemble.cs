namespace GenSearch.Models.Ranking;

/// <summary>
/// A boosted ensemble of regression trees (what LambdaMART learns), held in flat arrays so that a
/// ranker trained by LightGBM through ML.NET is served without ML.NET: score = bias + sum_t w_t leaf_t(x).
/// Node n of tree t is row <c>NodeStart[t] + n</c>; at a node, x[Feature] &lt;= Threshold goes to
/// <c>Left</c>, else to <c>Right</c>; a child c &lt; 0 is leaf ~c of the tree (ML.NET's convention), whose
/// value is <c>LeafValues[LeafStart[t] + ~c]</c>. A tree of one leaf has no nodes.
/// </summary>
public sealed record TreeEnsemble(int[] NodeStart, int[] LeafStart, int[] Left, int[] Right, int[] Feature, float[] Threshold,
    float[] LeafValues, float[] Weights, float Bias)
{
    /// <summary>Trees in the ensemble.</summary>
    public int Trees => Weights.Length;

    /// <summary>Checks the arrays against each other; a problem is an <see cref="InvalidDataException"/> naming <paramref name="source"/>.</summary>
    public TreeEnsemble Validate(string source, int features)
    {
        int T = Weights.Length;
        if (NodeStart.Length != T + 1 || LeafStart.Length != T + 1) throw new InvalidDataException($"{source}: {T} trees need {T + 1} node and leaf offsets");
        if (Left.Length != NodeStart[T] || Right.Length != NodeStart[T] || Feature.Length != NodeStart[T] || Threshold.Length != NodeStart[T] || LeafValues.Length != LeafStart[T])
            throw new InvalidDataException($"{source}: the node and leaf arrays do not match their offsets");
        for (int t = 0; t < T; t++)
        {
            int nodes = NodeStart[t + 1] - NodeStart[t], leaves = LeafStart[t + 1] - LeafStart[t];
            if (nodes < 0 || leaves != nodes + 1) throw new InvalidDataException($"{source}: tree {t} has {nodes} nodes and {leaves} leaves (a binary tree has one leaf more)");
            for (int n = NodeStart[t]; n < NodeStart[t + 1]; n++)
            {
                if ((uint)Feature[n] >= (uint)features) throw new InvalidDataException($"{source}: tree {t} splits on feature {Feature[n]} of {features}");
                foreach (int c in (int[])[Left[n], Right[n]])
                    if (c >= nodes || (c < 0 && ~c >= leaves)) throw new InvalidDataException($"{source}: tree {t} node {n - NodeStart[t]} has child {c} outside the tree");
                if (float.IsNaN(Threshold[n])) throw new InvalidDataException($"{source}: tree {t} node {n - NodeStart[t]} has threshold NaN; the file is damaged");
            }
            CheckShape(source, t, nodes, leaves);
        }
        for (int i = 0; i < LeafValues.Length; i++)
            if (!float.IsFinite(LeafValues[i])) throw new InvalidDataException($"{source}: leaf value {i} is {LeafValues[i]}; the file is damaged");
        for (int t = 0; t < T; t++)
            if (!float.IsFinite(Weights[t])) throw new InvalidDataException($"{source}: tree {t} has weight {Weights[t]}; the file is damaged");
        if (!float.IsFinite(Bias)) throw new InvalidDataException($"{source}: the bias is {Bias}; the file is damaged");
        return this;
    }

    /// <summary>
    /// Walks tree <paramref name="t"/> from its root: every node and leaf must be reached exactly once. A child
    /// pointing back up (a cycle, which would make <see cref="Score"/> loop for ever) or a shared or unreachable
    /// node is damage, reported before any query is scored.
    /// </summary>
    private void CheckShape(string source, int t, int nodes, int leaves)
    {
        if (nodes == 0) return;
        var seenNode = new bool[nodes];
        var seenLeaf = new bool[leaves];
        var stack = new Stack<int>();
        stack.Push(0);
        seenNode[0] = true;
        int reached = 1;
        while (stack.Count > 0)
        {
            int n = stack.Pop();
            foreach (int c in (int[])[Left[NodeStart[t] + n], Right[NodeStart[t] + n]])
            {
                if (c < 0)
                {
                    if (seenLeaf[~c]) throw new InvalidDataException($"{source}: tree {t} reaches leaf {~c} twice; the file is damaged");
                    seenLeaf[~c] = true;
                }
                else
                {
                    if (seenNode[c]) throw new InvalidDataException($"{source}: tree {t} reaches node {c} twice (a cycle or a shared branch); the file is damaged");
                    seenNode[c] = true;
                    reached++;
                    stack.Push(c);
                }
            }
        }
        if (reached != nodes) throw new InvalidDataException($"{source}: tree {t} reaches {reached} of its {nodes} nodes from the root; the file is damaged");
    }

    /// <summary>The ensemble's score of one feature vector.</summary>
    public float Score(ReadOnlySpan<float> x)
    {
        double sum = Bias;
        for (int t = 0; t < Weights.Length; t++)
        {
            int start = NodeStart[t];
            int node = NodeStart[t + 1] == start ? -1 : 0; // a tree of one leaf is leaf 0
            while (node >= 0)
            {
                int row = start + node;
                node = x[Feature[row]] <= Threshold[row] ? Left[row] : Right[row];
            }
            sum += Weights[t] * LeafValues[LeafStart[t] + ~node];
        }
        return (float)sum;
    }
}
