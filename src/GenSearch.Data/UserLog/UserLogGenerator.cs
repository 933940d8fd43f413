using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using GenSearch.Evaluation;

namespace GenSearch.Data;

/// <summary>What <see cref="UserLogGenerator"/> makes; every default is the one the README's figures use.</summary>
public sealed record UserLogOptions
{
    /// <summary>Users whose target queries form <c>qrels/train.tsv</c> (and whose target clicks are in the log).</summary>
    public int TrainUsers { get; init; } = 2000;
    /// <summary>Users whose target queries form <c>qrels/dev.tsv</c>; their targets come from the source's dev queries.</summary>
    public int DevUsers { get; init; } = 500;
    /// <summary>Users whose target queries form <c>qrels/heldout.tsv</c>: targets from a tenth of the source's train queries that no train user gets.</summary>
    public int HeldOutUsers { get; init; } = 200;
    /// <summary>A target query needs relevant items of at least this many brands (each with enough history to draw a user from).</summary>
    public int MinBrands { get; init; } = 3;
    /// <summary>Fewest earlier sessions per user.</summary>
    public int MinHistory { get; init; } = 2;
    /// <summary>Most earlier sessions per user.</summary>
    public int MaxHistory { get; init; } = 5;
    /// <summary>Seed of every draw; each split draws from its own generator, so changing one split's size leaves the others as they were.</summary>
    public int Seed { get; init; } = 42;
    /// <summary>The source split that gives train and held-out targets and every history click.</summary>
    public string SourceTrainSplit { get; init; } = "train";
    /// <summary>The source split that gives dev targets.</summary>
    public string SourceDevSplit { get; init; } = "dev";

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> for a value no generation could use.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegative(TrainUsers, "users");
        ArgumentOutOfRangeException.ThrowIfNegative(DevUsers, "dev users");
        ArgumentOutOfRangeException.ThrowIfNegative(HeldOutUsers, "held-out users");
        if (TrainUsers + DevUsers + HeldOutUsers == 0) throw new ArgumentOutOfRangeException("users", "at least one user is needed");
        ArgumentOutOfRangeException.ThrowIfLessThan(MinBrands, 2, "min brands");
        ArgumentOutOfRangeException.ThrowIfLessThan(MinHistory, 1, "min history");
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxHistory, MinHistory, "max history");
    }
}

/// <summary>One generated split: how ambiguous its targets are without history.</summary>
/// <param name="Split">qrels name: train, heldout or dev.</param>
/// <param name="Users">Users, one target query each.</param>
/// <param name="Pool">Ambiguous source queries the targets were drawn from.</param>
/// <param name="MeanBrands">Mean number of brands a target's user could have (the relevant items' brands).</param>
/// <param name="OracleHitAt1">Expected HitRate@1 of an oracle that knows each brand's relevant items but not the user: mean of 1 / brands.</param>
/// <param name="OracleMrr">Expected MRR of that oracle listing one item per brand: mean of H(brands) / brands.</param>
/// <param name="HistoryEvents">Earlier-session clicks in the log.</param>
public sealed record UserLogSplit(string Split, int Users, int Pool, double MeanBrands, double OracleHitAt1, double OracleMrr, int HistoryEvents);

/// <summary>What was generated.</summary>
public sealed record UserLogSummary(IReadOnlyList<UserLogSplit> Splits, int Items, int BrandedItems, int Brands, int Events);

/// <summary>
/// Generates a BEIR directory with users over a real catalog and its judged queries, where the right
/// item depends on the user's history. The recipe (also written to the directory's README.md):
/// <list type="number">
/// <item>Every item gets a brand from its title (<see cref="BrandKeys"/>).</item>
/// <item>A source query is a possible target when its relevant items (grade at or above the source's
/// threshold) span at least <see cref="UserLogOptions.MinBrands"/> brands that each have at least
/// <see cref="UserLogOptions.MaxHistory"/> other items clicked for other source train queries, and its
/// text names none of its brands. Train and held-out targets come from the source's train queries (a
/// hash of the query id sends a tenth to held-out), dev targets from its dev queries.</item>
/// <item>A user draws a target query uniformly from their split's pool, then a brand uniformly from
/// that query's brands: without the history every brand is equally likely.</item>
/// <item>History: 2-5 (<see cref="UserLogOptions.MinHistory"/>..<see cref="UserLogOptions.MaxHistory"/>)
/// earlier sessions, each a real source train query with one of its relevant items of the user's brand
/// clicked (distinct items, none of the target's, never the target's text), hours to days apart; then
/// the target query.</item>
/// <item>Judgments of the target, per user: a judged item keeps its grade when it is relevant and of
/// the user's brand; every other judged item gets at most grade 1 (relevant to the query, not to this
/// user). The query id is <c>&lt;user&gt;-&lt;source query id&gt;</c>.</item>
/// <item>The log (<c>interactions.jsonl</c>) holds every history click and the train users' target
/// clicks; held-out and dev targets are the future and are not in it.</item>
/// </list>
/// </summary>
public static class UserLogGenerator
{
    /// <summary>The first session's time: 2026-01-01T00:00:00Z, plus up to 30 days.</summary>
    private const long Epoch = 1_767_225_600;

    private sealed record Target(string QueryId, string Text, (string Item, int Grade)[] Judged, string[] Brands, HashSet<string> Relevant);

    private sealed record Click(string Text, string Item);

    private sealed record Event(string User, string Query, string Item, long Ts);

    private sealed record Generated(string Split, string User, Target Target, string Brand, long Ts, List<Event> History, int PoolSize);

    /// <summary>
    /// Reads <paramref name="source"/> and writes the generated directory <paramref name="outDir"/>, which
    /// must not exist or be empty; it is written beside it first and moved into place whole.
    /// </summary>
    public static UserLogSummary Generate(BeirDataset source, string outDir, UserLogOptions options)
    {
        options.Validate();
        string outFull = Path.GetFullPath(outDir).TrimEnd(Path.DirectorySeparatorChar);
        if (outFull == Path.GetFullPath(source.Directory).TrimEnd(Path.DirectorySeparatorChar))
            throw new IOException($"{outDir}: the output directory is the source directory");
        if (Directory.Exists(outFull) && Directory.EnumerateFileSystemEntries(outFull).Any())
            throw new IOException($"{outDir}: the output directory is not empty (remove it to generate again)");

        var ids = new List<string>(); var titles = new List<string>();
        foreach (var doc in source.Corpus()) { ids.Add(doc.Id); titles.Add(doc.Title); }
        var brands = BrandKeys.Of(titles);
        var brandOf = new Dictionary<string, string?>(ids.Count, StringComparer.Ordinal);
        for (int i = 0; i < ids.Count; i++) brandOf[ids[i]] = brands[i];
        var docIds = brandOf.Keys.ToHashSet(StringComparer.Ordinal);
        var texts = BeirReader.ReadQueries(source.QueriesPath).ToDictionary(q => q.Id, q => q.Text, StringComparer.Ordinal);
        var queryIds = texts.Keys.ToHashSet(StringComparer.Ordinal);
        int threshold = source.RelevanceThreshold;
        var train = source.Qrels(options.SourceTrainSplit, queryIds, docIds).Qrels;
        var dev = source.Qrels(options.SourceDevSplit, queryIds, docIds).Qrels;

        var clicks = Clicks(train, texts, brandOf, threshold);
        var trainTargets = Targets(train, texts, brandOf, clicks, threshold, options);
        var heldOutPool = trainTargets.Where(t => IsHeldOut(t.QueryId)).ToList();
        var trainPool = trainTargets.Where(t => !IsHeldOut(t.QueryId)).ToList();
        var devPool = Targets(dev, texts, brandOf, clicks, threshold, options);

        var generated = new List<Generated>();
        generated.AddRange(Users("train", 0, options.TrainUsers, trainPool, clicks, options));
        generated.AddRange(Users("heldout", 1, options.HeldOutUsers, heldOutPool, clicks, options));
        generated.AddRange(Users("dev", 2, options.DevUsers, devPool, clicks, options));

        var events = generated.SelectMany(g => g.History).ToList();
        foreach (var g in generated.Where(g => g.Split == "train"))
        {
            // The train user's own click on the target: their best-graded item of their brand (lowest id on ties).
            var clicked = g.Target.Judged.Where(j => g.Target.Relevant.Contains(j.Item) && brandOf[j.Item] == g.Brand)
                .OrderByDescending(j => j.Grade).ThenBy(j => j.Item, StringComparer.Ordinal).First();
            events.Add(new Event(g.User, g.Target.Text, clicked.Item, g.Ts));
        }
        events = events.OrderBy(e => e.Ts).ThenBy(e => e.User, StringComparer.Ordinal).ToList();

        var splits = generated.GroupBy(g => g.Split).Select(s => new UserLogSplit(s.Key, s.Count(), s.First().PoolSize,
            s.Average(g => (double)g.Target.Brands.Length), s.Average(g => 1.0 / g.Target.Brands.Length),
            s.Average(g => Harmonic(g.Target.Brands.Length) / g.Target.Brands.Length), s.Sum(g => g.History.Count))).ToList();
        var summary = new UserLogSummary(splits, ids.Count, brands.Count(b => b != null), brands.Where(b => b != null).Distinct().Count(), events.Count);

        string temp = outFull + ".tmp-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        Directory.CreateDirectory(Path.Combine(temp, "qrels"));
        try
        {
            // Copied, not linked: 6 MB for homedepot, and the directory stays whole when moved to another machine.
            File.Copy(source.CorpusPath, Path.Combine(temp, "corpus.jsonl"));
            WriteQueries(Path.Combine(temp, "queries.jsonl"), generated);
            WriteInteractions(Path.Combine(temp, "interactions.jsonl"), events);
            foreach (var split in generated.GroupBy(g => g.Split))
                WriteQrels(Path.Combine(temp, "qrels", split.Key + ".tsv"), split, brandOf, threshold);
            WriteManifest(Path.Combine(temp, DatasetManifest.FileName), source.Manifest);
            File.WriteAllText(Path.Combine(temp, "README.md"), Readme(source, options, summary), new UTF8Encoding(false));
            if (Directory.Exists(outFull)) Directory.Delete(outFull);
            Directory.Move(temp, outFull);
        }
        catch
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
            throw;
        }
        return summary;
    }

    /// <summary>Per brand, the (query text, item) pairs of relevant judgments, in query-id then item-id order.</summary>
    private static Dictionary<string, List<Click>> Clicks(Qrels qrels, Dictionary<string, string> texts, Dictionary<string, string?> brandOf, int threshold)
    {
        var clicks = new Dictionary<string, List<Click>>(StringComparer.Ordinal);
        foreach (var q in qrels.QueryIds.Order(StringComparer.Ordinal))
            foreach (var (item, grade) in qrels.For(q).OrderBy(kv => kv.Key, StringComparer.Ordinal))
                if (grade >= threshold && brandOf[item] is { } brand)
                {
                    if (!clicks.TryGetValue(brand, out var list)) clicks[brand] = list = [];
                    list.Add(new Click(texts[q], item));
                }
        return clicks;
    }

    /// <summary>The history a user of <paramref name="brand"/> may draw for <paramref name="target"/>: one click per distinct item.</summary>
    private static List<Click> HistoryPool(Dictionary<string, List<Click>> clicks, string brand, Target target) =>
        !clicks.TryGetValue(brand, out var all) ? [] :
        all.Where(c => !target.Relevant.Contains(c.Item) && c.Text != target.Text).DistinctBy(c => c.Item).ToList();

    private static List<Target> Targets(Qrels qrels, Dictionary<string, string> texts, Dictionary<string, string?> brandOf,
        Dictionary<string, List<Click>> clicks, int threshold, UserLogOptions options)
    {
        var targets = new List<Target>();
        foreach (var q in qrels.QueryIds.Order(StringComparer.Ordinal))
        {
            var judged = qrels.For(q).OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => (kv.Key, kv.Value)).ToArray();
            var relevant = judged.Where(j => j.Value >= threshold).Select(j => j.Key).ToHashSet(StringComparer.Ordinal);
            var candidateBrands = relevant.Select(i => brandOf[i]).OfType<string>().Distinct().Order(StringComparer.Ordinal).ToArray();
            if (candidateBrands.Length < options.MinBrands || candidateBrands.Any(b => BrandKeys.Mentions(texts[q], b))) continue;
            var target = new Target(q, texts[q], judged, candidateBrands, relevant);
            var eligible = candidateBrands.Where(b => HistoryPool(clicks, b, target).Count >= options.MaxHistory).ToArray();
            if (eligible.Length >= options.MinBrands) targets.Add(target with { Brands = eligible });
        }
        return targets;
    }

    private static IEnumerable<Generated> Users(string split, int splitIndex, int count, List<Target> pool, Dictionary<string, List<Click>> clicks, UserLogOptions options)
    {
        if (count == 0) yield break;
        if (pool.Count == 0)
            throw new InvalidDataException($"no {split} target queries: none has relevant items of {options.MinBrands}+ brands, each with {options.MaxHistory}+ other clicked items (try a smaller --min-brands or --max-history)");
        var rng = new Random(unchecked(options.Seed * 1_000_003 + splitIndex));
        int width = Math.Max(4, count.ToString(CultureInfo.InvariantCulture).Length);
        for (int u = 1; u <= count; u++)
        {
            string user = split + "-" + u.ToString("D" + width, CultureInfo.InvariantCulture);
            var target = pool[rng.Next(pool.Count)];
            string brand = target.Brands[rng.Next(target.Brands.Length)];
            var history = HistoryPool(clicks, brand, target);
            int sessions = rng.Next(options.MinHistory, options.MaxHistory + 1);
            for (int i = 0; i < sessions; i++)
            {
                int swap = i + rng.Next(history.Count - i);   // a partial Fisher-Yates shuffle: the first `sessions` are a uniform draw
                (history[i], history[swap]) = (history[swap], history[i]);
            }
            long ts = Epoch + rng.NextInt64(30 * 86_400);
            var events = new List<Event>(sessions);
            foreach (var click in history.Take(sessions))
            {
                events.Add(new Event(user, click.Text, click.Item, ts));
                ts += Gap(rng);
            }
            yield return new Generated(split, user, target, brand, ts, events, pool.Count);
        }
    }

    /// <summary>Time between sessions: one hour to a week.</summary>
    private static long Gap(Random rng) => 3_600 + rng.NextInt64(7 * 86_400 - 3_600);

    /// <summary>A tenth of the source train queries, by a hash of the id that does not depend on the seed or the process.</summary>
    private static bool IsHeldOut(string queryId)
    {
        uint h = 2_166_136_261;
        foreach (char c in queryId) h = (h ^ c) * 16_777_619;
        return h % 10 == 0;
    }

    private static double Harmonic(int n)
    {
        double h = 0;
        for (int i = 1; i <= n; i++) h += 1.0 / i;
        return h;
    }

    private static readonly JsonWriterOptions JsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static void WriteQueries(string path, List<Generated> generated)
    {
        using var stream = File.Create(path);
        foreach (var g in generated)
            WriteLine(stream, w =>
            {
                w.WriteString("_id", QueryId(g));
                w.WriteString("text", g.Target.Text);
                w.WriteString("user", g.User);
                w.WriteNumber("ts", g.Ts);
            });
    }

    private static void WriteInteractions(string path, List<Event> events)
    {
        using var stream = File.Create(path);
        foreach (var e in events)
            WriteLine(stream, w =>
            {
                w.WriteString("user", e.User);
                w.WriteString("query", e.Query);
                w.WriteString("item", e.Item);
                w.WriteNumber("ts", e.Ts);
                w.WriteStartObject("signals");
                w.WriteNumber("click", 1);
                w.WriteEndObject();
            });
    }

    private static void WriteLine(Stream stream, Action<Utf8JsonWriter> body)
    {
        using (var w = new Utf8JsonWriter(stream, JsonOptions))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        stream.WriteByte((byte)'\n');
    }

    private static string QueryId(Generated g) => g.User + "-" + g.Target.QueryId;

    /// <summary>Per user: a relevant item of their brand keeps its grade; every other judged item gets at most 1.</summary>
    private static void WriteQrels(string path, IEnumerable<Generated> generated, Dictionary<string, string?> brandOf, int threshold)
    {
        using var writer = new StreamWriter(path, false, new UTF8Encoding(false));
        writer.Write("query-id\tcorpus-id\tscore\n");
        foreach (var g in generated)
            foreach (var (item, grade) in g.Target.Judged)
            {
                int forUser = grade >= threshold && brandOf[item] == g.Brand ? grade : Math.Min(grade, 1);
                writer.Write($"{QueryId(g)}\t{item}\t{forUser.ToString(CultureInfo.InvariantCulture)}\n");
            }
    }

    private static void WriteManifest(string path, DatasetManifest source)
    {
        using var stream = File.Create(path);
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        w.WriteStartObject();
        w.WriteString("description", "Generated by gensearch make-user-log: users with a brand preference over a real catalog; see README.md.");
        w.WriteNumber("relevance_threshold", source.RelevanceThreshold);
        w.WriteStartArray("grades");
        w.WriteNumberValue(source.Grades.Min);
        w.WriteNumberValue(source.Grades.Max);
        w.WriteEndArray();
        if (source.Bm25K1 is { } k1 && source.Bm25B is { } b)
        {
            // The corpus is the source's, so are its BM25 parameters (tuned on its own train split).
            w.WriteStartObject("bm25");
            w.WriteNumber("k1", k1);
            w.WriteNumber("b", b);
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    private static string Readme(BeirDataset source, UserLogOptions o, UserLogSummary s)
    {
        var t = new StringBuilder();
        string name = Path.GetFileName(Path.GetFullPath(source.Directory).TrimEnd(Path.DirectorySeparatorChar));
        t.Append(CultureInfo.InvariantCulture, $"""
            # Generated user-context data over {name}

            GENERATED, not observed: the catalog and the query texts and judgments it draws on are real
            ({name}), but the users, their sessions, clicks and times are made up by `gensearch make-user-log`
            (seed {o.Seed}). It measures whether a retriever uses a user's history; it says nothing about how
            real shoppers behave. The source's terms apply to this copy of its text: do not redistribute.

            Regenerate: `gensearch make-user-log --data {source.Directory} --out DIR --users {o.TrainUsers} --dev-users {o.DevUsers} --heldout-users {o.HeldOutUsers} --seed {o.Seed} --min-brands {o.MinBrands} --min-history {o.MinHistory} --max-history {o.MaxHistory}`

            ## Recipe

            1. Brand: every item's brand is read from its title (the first word, extended by the next word
               while at least 80% of the titles starting with the shorter prefix go on with it: "Hampton Bay",
               "Simpson Strong-Tie", "Delta"). {s.BrandedItems:N0} of {s.Items:N0} items get one of {s.Brands:N0} brands.
            2. Ambiguous queries: a source query whose relevant items (grade >= {source.RelevanceThreshold}) span at
               least {o.MinBrands} brands, each with at least {o.MaxHistory} other items clicked for other source
               train queries, and whose text names none of them. Train and held-out targets come from the
               source's `{o.SourceTrainSplit}` queries (a tenth, by a hash of the query id, is held out), dev targets
               from its `{o.SourceDevSplit}` queries, so no target text is in two splits. Users are disjoint too.
            3. A user draws a target query uniformly from their split's pool, then a brand uniformly among
               that query's brands: without history every one of those brands is equally likely.
            4. History: {o.MinHistory}-{o.MaxHistory} earlier sessions, one hour to a week apart, each a real
               source train query with one of its relevant items of the user's brand clicked (distinct items,
               none relevant to the target, never the target's text). Then the target query.
            5. Judgments per (user, target): a judged item keeps its grade when it is relevant and of the user's
               brand; every other judged item gets at most grade 1 (right for the query, wrong for this user).
               Query id `<user>-<source query id>`; `queries.jsonl` lines carry `"user"` and `"ts"`.
            6. `interactions.jsonl` holds every history click and the train users' target clicks
               (`{"{"}"user", "query", "item", "ts", "signals": {"{"}"click": 1{"}"}{"}"}`); held-out and dev targets are the
               future and are not in it. Readers give each query the user's events before its `ts` as context.

            ## Splits

            | split | users (= queries) | target pool | brands per target | oracle HitRate@1 without history | oracle MRR without history | history clicks |
            |---|---:|---:|---:|---:|---:|---:|

            """);
        foreach (var x in s.Splits)
            t.Append(CultureInfo.InvariantCulture, $"| {x.Split} | {x.Users:N0} | {x.Pool:N0} | {x.MeanBrands:F2} | {x.OracleHitAt1:F3} | {x.OracleMrr:F3} | {x.HistoryEvents:N0} |\n");
        t.Append("""

            The oracle knows every target's relevant items and their brands but not the user: its best first
            item is right with probability 1 / brands, and listing one item per brand gives MRR H(brands) / brands.
            With the history (every earlier click is of the user's brand) the same oracle is always right.

            """);
        return t.ToString();
    }
}
