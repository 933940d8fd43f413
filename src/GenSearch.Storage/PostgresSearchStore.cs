using System.Runtime.CompilerServices;
using Npgsql;

namespace GenSearch.Storage;

/// <summary>
/// The store on a PostgreSQL server (through Npgsql's pooled data source), for servers that share one
/// catalog and log. A commit returns after PostgreSQL has flushed its write-ahead log (its default
/// <c>synchronous_commit=on</c>). Catalog writes are serialised within this process; tables are
/// created when missing.
/// </summary>
public sealed class PostgresSearchStore : ISearchStore
{
    private readonly NpgsqlDataSource _source;
    private readonly SemaphoreSlim _catalogLock = new(1, 1);

    private PostgresSearchStore(NpgsqlDataSource source, string description)
    {
        _source = source; Description = description;
    }

    /// <inheritdoc/>
    public string Description { get; }

    /// <summary>Connects with <paramref name="connectionString"/> and creates the tables when missing.</summary>
    public static async Task<PostgresSearchStore> OpenAsync(string connectionString, CancellationToken cancel = default)
    {
        NpgsqlConnectionStringBuilder builder;
        try { builder = new NpgsqlConnectionStringBuilder(connectionString); }
        catch (ArgumentException e) { throw new ArgumentException($"--store postgres:...: not a valid connection string: {e.Message}", e); }
        string description = $"postgres:Host={builder.Host};Port={builder.Port};Database={builder.Database};Username={builder.Username}";
        var source = NpgsqlDataSource.Create(builder);
        try
        {
            await using var command = source.CreateCommand("""
                CREATE TABLE IF NOT EXISTS gensearch_catalog_changes (
                    seq BIGSERIAL PRIMARY KEY, item_id TEXT NOT NULL, title TEXT, body TEXT, removed BOOLEAN NOT NULL);
                CREATE TABLE IF NOT EXISTS gensearch_feedback (
                    seq BIGSERIAL PRIMARY KEY, user_id TEXT NOT NULL, query TEXT NOT NULL, item_id TEXT, ts DOUBLE PRECISION NOT NULL, signals TEXT NOT NULL);
                """);
            await command.ExecuteNonQueryAsync(cancel);
        }
        catch (Exception e) when (e is NpgsqlException or PostgresException or System.Net.Sockets.SocketException)
        {
            await source.DisposeAsync();
            throw new IOException($"{description}: cannot open the PostgreSQL store: {e.Message}", e);
        }
        return new PostgresSearchStore(source, description);
    }

    /// <inheritdoc/>
    public async Task WriteCatalogAsync(IReadOnlyList<CatalogEdit> edits, Action apply, CancellationToken cancel = default)
    {
        await _catalogLock.WaitAsync(cancel);
        try
        {
            await using var connection = await _source.OpenConnectionAsync(cancel);
            await using var tx = await connection.BeginTransactionAsync(cancel);
            await using (var batch = new NpgsqlBatch(connection, tx))
            {
                foreach (var edit in edits)
                {
                    var command = new NpgsqlBatchCommand("INSERT INTO gensearch_catalog_changes (item_id, title, body, removed) VALUES ($1, $2, $3, $4)");
                    command.Parameters.Add(new NpgsqlParameter { Value = edit.Id });
                    command.Parameters.Add(new NpgsqlParameter { Value = (object?)edit.Item?.Title ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
                    command.Parameters.Add(new NpgsqlParameter { Value = (object?)edit.Item?.Text ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
                    command.Parameters.Add(new NpgsqlParameter { Value = edit.IsRemoval });
                    batch.BatchCommands.Add(command);
                }
                if (batch.BatchCommands.Count > 0) await batch.ExecuteNonQueryAsync(cancel);
            }
            apply(); // throws: the transaction is disposed uncommitted, so rolled back
            await tx.CommitAsync(CancellationToken.None);
        }
        finally { _catalogLock.Release(); }
    }

    /// <inheritdoc/>
    public async IAsyncEnumerable<CatalogEdit> ReadCatalogAsync([EnumeratorCancellation] CancellationToken cancel = default)
    {
        await using var command = _source.CreateCommand("SELECT item_id, title, body, removed FROM gensearch_catalog_changes ORDER BY seq");
        await using var rows = await command.ExecuteReaderAsync(cancel);
        while (await rows.ReadAsync(cancel))
        {
            string id = rows.GetString(0);
            yield return rows.GetBoolean(3) ? new CatalogEdit(id, null)
                : new CatalogEdit(id, new Document(id, rows.IsDBNull(1) ? "" : rows.GetString(1), rows.IsDBNull(2) ? "" : rows.GetString(2)));
        }
    }

    /// <inheritdoc/>
    public async Task AppendFeedbackAsync(Interaction feedback, CancellationToken cancel = default)
    {
        await using var command = _source.CreateCommand("INSERT INTO gensearch_feedback (user_id, query, item_id, ts, signals) VALUES ($1, $2, $3, $4, $5)");
        command.Parameters.Add(new NpgsqlParameter { Value = feedback.User });
        command.Parameters.Add(new NpgsqlParameter { Value = feedback.Query });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)feedback.Item ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = feedback.Timestamp });
        command.Parameters.Add(new NpgsqlParameter { Value = SearchStores.SignalsJson(feedback.Signals) });
        await command.ExecuteNonQueryAsync(cancel); // autocommit: returns after the commit
    }

    /// <inheritdoc/>
    public async IAsyncEnumerable<Interaction> ReadFeedbackAsync([EnumeratorCancellation] CancellationToken cancel = default)
    {
        await using var command = _source.CreateCommand("SELECT user_id, query, item_id, ts, signals FROM gensearch_feedback ORDER BY seq");
        await using var rows = await command.ExecuteReaderAsync(cancel);
        while (await rows.ReadAsync(cancel))
            yield return new Interaction(rows.GetString(0), rows.GetString(1), rows.IsDBNull(2) ? null : rows.GetString(2), rows.GetDouble(3),
                SearchStores.ParseSignals(rows.GetString(4)));
    }

    /// <inheritdoc/>
    public async Task<long> FeedbackCountAsync(CancellationToken cancel = default)
    {
        await using var command = _source.CreateCommand("SELECT COUNT(*) FROM gensearch_feedback");
        return (long)(await command.ExecuteScalarAsync(cancel))!;
    }

    /// <inheritdoc/>
    public async Task PingAsync(CancellationToken cancel = default)
    {
        await using var command = _source.CreateCommand("SELECT 1");
        await command.ExecuteScalarAsync(cancel);
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await _catalogLock.WaitAsync(); // a catalog write in progress commits first
        _catalogLock.Release();
        await _source.DisposeAsync();
    }
}
