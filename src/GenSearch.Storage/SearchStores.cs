using System.Text.Json;

namespace GenSearch.Storage;

/// <summary>
/// The kinds of <see cref="ISearchStore"/> by the prefix of a store expression: <c>sqlite:PATH</c>
/// (embedded, the default) and <c>postgres:CONNECTION-STRING</c> (an Npgsql connection string, e.g.
/// <c>postgres:Host=db;Database=gensearch;Username=gs;Password=...</c>).
/// </summary>
public static class SearchStores
{
    /// <summary>The prefix of an SQLite store.</summary>
    public const string SqlitePrefix = "sqlite:";
    /// <summary>The prefix of a PostgreSQL store.</summary>
    public const string PostgresPrefix = "postgres:";

    /// <summary>Opens (creating its tables when missing) the store <paramref name="expression"/> names; an unknown prefix is an <see cref="ArgumentException"/>.</summary>
    public static async Task<ISearchStore> OpenAsync(string expression, CancellationToken cancel = default)
    {
        if (expression.StartsWith(SqlitePrefix, StringComparison.Ordinal))
        {
            string path = expression[SqlitePrefix.Length..];
            if (path.Length == 0) throw new ArgumentException($"--store {expression}: give a file, e.g. sqlite:gensearch.db");
            return await SqliteSearchStore.OpenAsync(path, cancel);
        }
        if (expression.StartsWith(PostgresPrefix, StringComparison.Ordinal))
        {
            string connection = expression[PostgresPrefix.Length..];
            if (connection.Length == 0) throw new ArgumentException($"--store {expression}: give a connection string, e.g. postgres:Host=localhost;Database=gensearch;Username=gs");
            return await PostgresSearchStore.OpenAsync(connection, cancel);
        }
        throw new ArgumentException($"--store {expression}: unknown kind; use {SqlitePrefix}PATH or {PostgresPrefix}CONNECTION-STRING");
    }

    internal static string SignalsJson(IReadOnlyDictionary<string, double> signals) => JsonSerializer.Serialize(signals);

    internal static IReadOnlyDictionary<string, double> ParseSignals(string json)
        => JsonSerializer.Deserialize<Dictionary<string, double>>(json) ?? new Dictionary<string, double>(StringComparer.Ordinal);
}
