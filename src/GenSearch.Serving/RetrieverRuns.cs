using GenSearch.Evaluation;
using GenSearch.Retrieval;

namespace GenSearch.Serving;

/// <summary>The loop from queries to a scored run, shared by eval, the benchmarks and the tests.</summary>
public static class RetrieverRuns
{
    /// <summary>
    /// Searches <paramref name="queries"/> with <paramref name="retriever"/> <paramref name="chunk"/> at a
    /// time (batch-first retrievers amortise their work over a chunk), keeping the top <paramref name="k"/>
    /// of each; <paramref name="progress"/> gets the number of queries done after each chunk.
    /// </summary>
    public static Run Search(IRetriever retriever, IReadOnlyList<Query> queries, int k, int chunk = 256, Action<int>? progress = null)
    {
        if (k <= 0) throw new ArgumentOutOfRangeException(nameof(k), "k must be positive");
        if (chunk <= 0) throw new ArgumentOutOfRangeException(nameof(chunk), "chunk must be positive");
        var run = new Run();
        for (int start = 0; start < queries.Count; start += chunk)
        {
            int count = Math.Min(chunk, queries.Count - start);
            var part = new Query[count];
            for (int i = 0; i < count; i++) part[i] = queries[start + i];
            Set(run, part, retriever.Search(part, k));
            progress?.Invoke(start + count);
        }
        return run;
    }

    /// <summary>Records hits already retrieved (result i answers query i) in <paramref name="run"/>.</summary>
    public static void Set(Run run, IReadOnlyList<Query> queries, IReadOnlyList<IReadOnlyList<SearchHit>> hits)
    {
        if (hits.Count != queries.Count) throw new ArgumentException($"{hits.Count} result lists for {queries.Count} queries");
        for (int i = 0; i < queries.Count; i++)
            run.Set(queries[i].Id, hits[i].Select(h => new RankedDoc(h.Id, h.Score)).ToArray());
    }
}
