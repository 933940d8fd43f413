using System.Text.Json;
using System.Text.Json.Nodes;
using GenSearch.Serving;

namespace GenSearch.Training;

/// <summary>
/// Training settings from a JSON file laid out like the "training" section of a model's config.json
/// (snake_case names): only the keys given change, at any depth, so <c>{"trainer": {"epochs": 4}}</c>
/// keeps the other trainer settings. A run's own config.json section can be fed back to repeat it.
/// </summary>
public static class TrainingOptionsFile
{
    // Settings whose default is null (no title cuts, say) must still be keys that a file may set.
    // A key no setting has is refused here too: a record whose default is null (pseudo_queries) is taken whole from the
    // file, so the merge cannot check its keys.
    private static readonly JsonSerializerOptions AllKeys = new(ModelDirectory.Json)
    {
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.Never,
        UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow,
    };

    /// <summary><paramref name="defaults"/> with the values in <paramref name="path"/> laid over them.</summary>
    public static T Apply<T>(T defaults, string path) where T : class
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such options file", path);
        JsonNode? given;
        try { given = JsonNode.Parse(File.ReadAllText(path), documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false }); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: {(e.LineNumber is { } line ? $"line {line + 1}: " : "")}{e.Message}", e); }
        if (given is not JsonObject overrides) throw new InvalidDataException($"{path}: expected a JSON object of settings");
        return Apply(defaults, overrides, path);
    }

    /// <summary>
    /// <paramref name="defaults"/> with <paramref name="overrides"/> laid over them; errors name
    /// <paramref name="source"/> (the options file, or the command-line flags they came from).
    /// </summary>
    public static T Apply<T>(T defaults, JsonObject overrides, string source) where T : class
    {
        var merged = JsonSerializer.SerializeToNode(defaults, AllKeys)!.AsObject();
        Merge(merged, overrides, source, "", typeof(T));
        try
        {
            return merged.Deserialize<T>(AllKeys) ?? throw new InvalidDataException($"{source}: empty");
        }
        catch (JsonException e)
        {
            // The position System.Text.Json adds is in the merged document (defaults and all), not in the user's file: the path names the setting.
            int at = e.Message.IndexOf(" Path: ", StringComparison.Ordinal);
            throw new InvalidDataException($"{source}: {e.Path}: {(at >= 0 ? e.Message[..at] : e.Message)}", e);
        }
    }

    /// <remarks>
    /// <paramref name="type"/>: the settings type <paramref name="target"/> is the JSON of, which says where a key is a
    /// setting (an unknown one is refused) and where it is a map's key (signal_weights: a signal of the user's
    /// own, such as "return", is added beside the defaults, and a default given again is replaced).
    /// </remarks>
    private static void Merge(JsonObject target, JsonObject overrides, string path, string prefix, Type? type)
    {
        bool map = type is not null && IsMap(type);
        foreach (var (key, value) in overrides)
        {
            // An unknown key is a typo that would otherwise silently train with the default.
            if (!map && !target.ContainsKey(key)) throw new InvalidDataException($"{path}: unknown setting '{prefix}{key}'");
            var inner = map ? null : type?.GetProperties().FirstOrDefault(p => JsonNamingPolicy.SnakeCaseLower.ConvertName(p.Name) == key)?.PropertyType;
            if (value is JsonObject given && target[key] is JsonObject existing) Merge(existing, given, path, prefix + key + ".", inner);
            else target[key] = value?.DeepClone();
        }
    }

    private static bool IsMap(Type type) =>
        type.GetInterfaces().Append(type).Any(i => i.IsGenericType && i.GetGenericTypeDefinition() is var d && (d == typeof(IDictionary<,>) || d == typeof(IReadOnlyDictionary<,>)));
}
