namespace GenSearch.Text;

/// <summary>
/// The lexical features of a text that an n-gram tower embeds, after Amazon's semantic product
/// search (Nigam et al., KDD 2019): its words ("w:drill"), adjacent word pairs ("b:cordless drill")
/// and the character trigrams of each word with boundary marks ("c:#dr", "c:dri", ..., "c:ll#").
/// Words come from <see cref="WordSplitter"/> (normalised, sizes and units canonical; symbols
/// dropped). Trigrams let a misspelt or inflected word ("drils", "dril") share most of its features
/// with the word it means; pairs keep a little word order ("pipe wrench" is not "wrench pipe").
/// </summary>
public static class NgramFeaturizer
{
    /// <summary>Appends the features of <paramref name="text"/> to <paramref name="features"/>, repeats kept.</summary>
    public static void Features(string text, List<string> features)
    {
        var normalized = TextNormalizer.Normalize(text);
        var split = new List<Word>();
        WordSplitter.Split(normalized, split);
        string? previous = null;
        foreach (var w in split)
        {
            if (w.Kind == WordKind.Symbol) continue;
            string word = w.Text(normalized).ToString();
            features.Add("w:" + word);
            if (previous is not null) features.Add("b:" + previous + " " + word);
            previous = word;
            string marked = "#" + word + "#";
            for (int i = 0; i + 3 <= marked.Length; i++) features.Add(string.Concat("c:", marked.AsSpan(i, 3)));
        }
    }

    /// <summary>The features of <paramref name="text"/> as a new list.</summary>
    public static List<string> Features(string text)
    {
        var features = new List<string>();
        Features(text, features);
        return features;
    }
}

/// <summary>
/// Numbers the n-gram features (<see cref="NgramFeaturizer"/>) seen in a training collection, in
/// order of first appearance, so a tower's embedding table has one row per feature. Features never
/// seen in training are dropped when encoding: they have no trained row. Saved as a text file of one
/// feature per line (line n is row n - 1).
/// </summary>
public sealed class NgramVocabulary
{
    private readonly Dictionary<string, int> _ids;
    private readonly string[] _features;

    private NgramVocabulary(string[] features, Dictionary<string, int> ids)
    {
        _features = features;
        _ids = ids;
    }

    /// <summary>Number of features (rows of the embedding table).</summary>
    public int Count => _features.Length;

    /// <summary>The feature of row <paramref name="id"/>.</summary>
    public string this[int id] => _features[id];

    /// <summary>Every feature of <paramref name="texts"/> seen at least <paramref name="minCount"/> times, numbered by first appearance.</summary>
    public static NgramVocabulary Build(IEnumerable<string> texts, int minCount = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(minCount, 1);
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        var order = new List<string>();
        var features = new List<string>();
        foreach (var text in texts)
        {
            features.Clear();
            NgramFeaturizer.Features(text, features);
            foreach (var f in features)
            {
                counts.TryGetValue(f, out int c);
                if (c == 0) order.Add(f);
                counts[f] = c + 1;
            }
        }
        var kept = order.Where(f => counts[f] >= minCount).ToArray();
        return new NgramVocabulary(kept, Index(kept, null));
    }

    /// <summary>Row ids of the known features of <paramref name="text"/>, repeats kept; empty when none is known.</summary>
    public int[] Encode(string text)
    {
        var features = NgramFeaturizer.Features(text);
        var ids = new List<int>(features.Count);
        foreach (var f in features)
            if (_ids.TryGetValue(f, out int id)) ids.Add(id);
        return [.. ids];
    }

    /// <summary>Writes one feature per line.</summary>
    public void Save(string path)
    {
        string temp = path + ".tmp";
        File.WriteAllLines(temp, _features);
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>Reads a file written by <see cref="Save"/>; an empty or repeated line is an error naming the file and line.</summary>
    public static NgramVocabulary Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: the n-gram vocabulary is missing", path);
        var features = File.ReadAllLines(path);
        return new NgramVocabulary(features, Index(features, path));
    }

    private static Dictionary<string, int> Index(string[] features, string? path)
    {
        var ids = new Dictionary<string, int>(features.Length, StringComparer.Ordinal);
        for (int i = 0; i < features.Length; i++)
        {
            if (features[i].Length == 0) throw new InvalidDataException($"{path}:{i + 1}: empty feature");
            if (!ids.TryAdd(features[i], i)) throw new InvalidDataException($"{path}:{i + 1}: feature '{features[i]}' repeats line {ids[features[i]] + 1}");
        }
        return ids;
    }
}
