using GenSearch.Retrieval.Generative;

namespace GenSearch.Serving;

/// <summary>
/// Where relevant items leave a unified model's beam. For each judged query and each relevant item in
/// the catalog: whether the beam still held the item's ID prefix after each level, whether the item
/// was returned, and whether it was in the same model's exact dense top <c>DenseDepth</c> (nearest
/// latents to q), so the beam's losses can be told from the model's.
/// </summary>
/// <param name="Items">Relevant (query, item) pairs measured.</param>
/// <param name="KeptAfterLevel">Share of them whose prefix through level n + 1 the beam kept.</param>
/// <param name="Returned">Share returned by the generative search (within the beam's items).</param>
/// <param name="InDense">Share in the dense top <paramref name="DenseDepth"/>.</param>
/// <param name="ReturnedOfDense">Of those in the dense top, the share the generative search returned.</param>
/// <param name="BeamSize">Beams per level.</param>
/// <param name="DenseDepth">Depth of the dense comparison.</param>
public sealed record BeamSurvivalReport(int Items, double[] KeptAfterLevel, double Returned, double InDense, double ReturnedOfDense, int BeamSize, int DenseDepth)
{
    /// <summary>The report as a Markdown table.</summary>
    public string ToTable()
    {
        var lines = new List<string> { "| where | share of relevant items |", "|---|---:|" };
        for (int n = 0; n < KeptAfterLevel.Length; n++) lines.Add($"| prefix in the beam after level {n + 1} | {KeptAfterLevel[n]:0.000} |");
        lines.Add($"| returned (beam {BeamSize}) | {Returned:0.000} |");
        lines.Add($"| in the same model's dense top {DenseDepth} | {InDense:0.000} |");
        lines.Add($"| returned, of those in the dense top {DenseDepth} | {ReturnedOfDense:0.000} |");
        lines.Add($"({Items:N0} relevant (query, item) pairs)");
        return string.Join('\n', lines);
    }

    /// <summary>
    /// Measures <paramref name="retriever"/> on <paramref name="queries"/>, whose relevant item ids are
    /// <paramref name="relevant"/>[i] (items not in the catalog are left out).
    /// </summary>
    public static BeamSurvivalReport Measure(UnifiedRetriever retriever, IReadOnlyList<Query> queries, IReadOnlyList<IReadOnlyCollection<string>> relevant,
        int beamSize, int denseDepth = 100)
    {
        if (queries.Count != relevant.Count) throw new ArgumentException($"{queries.Count} queries, {relevant.Count} relevance sets");
        var snapshot = retriever.Catalog.Current;
        var trie = snapshot.Trie;
        var vocabulary = retriever.Catalog.Vocabulary;
        int levels = retriever.Model.Config.Levels, p = retriever.Model.Config.Dim;
        var position = new Dictionary<string, int>(snapshot.Count, StringComparer.Ordinal);
        for (int i = 0; i < snapshot.Count; i++) position[snapshot.ItemIds[i]] = i;
        var latents = new float[snapshot.Count][];
        for (int i = 0; i < snapshot.Count; i++) latents[i] = retriever.Item(snapshot.ItemIds[i])?.Latent ?? [];

        var trace = queries.Select(_ => new List<HashSet<int>>()).ToArray();
        var hits = retriever.Search(queries, beamSize, trace);
        var q = retriever.EncodeQueries(queries);
        long items = 0, returned = 0, inDense = 0, returnedOfDense = 0;
        var kept = new long[levels];
        for (int j = 0; j < queries.Count; j++)
        {
            var found = hits[j].Select(h => h.Id).ToHashSet(StringComparer.Ordinal);
            var query = q.AsSpan(j * p, p);
            var dense = DenseTop(query, latents, denseDepth);
            foreach (var id in relevant[j])
            {
                if (!position.TryGetValue(id, out int item)) continue;
                items++;
                var tokens = vocabulary.Tokens(snapshot.Codes(item));
                int state = trie.Root;
                for (int n = 0; n < levels; n++)
                {
                    state = trie.Advance(state, tokens[n]);
                    if (n < trace[j].Count && trace[j][n].Contains(state)) kept[n]++;
                }
                bool got = found.Contains(id);
                if (got) returned++;
                if (dense.Contains(item)) { inDense++; if (got) returnedOfDense++; }
            }
        }
        double Share(long x, long of) => of == 0 ? double.NaN : (double)x / of;
        return new BeamSurvivalReport((int)items, kept.Select(x => Share(x, items)).ToArray(), Share(returned, items), Share(inDense, items),
            Share(returnedOfDense, inDense), beamSize, denseDepth);
    }

    private static HashSet<int> DenseTop(ReadOnlySpan<float> query, float[][] latents, int depth)
    {
        var scores = new float[latents.Length];
        for (int i = 0; i < latents.Length; i++) scores[i] = latents[i].Length == 0 ? float.NegativeInfinity : UnifiedRetriever.Similarity(query, latents[i]);
        var order = Enumerable.Range(0, latents.Length).ToArray();
        Array.Sort(scores.Select(s => -s).ToArray(), order);
        return order.Take(depth).ToHashSet();
    }
}
