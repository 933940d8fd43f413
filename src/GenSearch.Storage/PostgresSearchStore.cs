using System.Runtime.CompilerServices;
using Npgsql;

namespace GenSearch.Storage;

/// <summary>
/// The store on a PostgreSQL server (through Npgsql's pooled data source), for servers that share one
/// catalog and log. A commit returns after PostgreSQL has flushed its write-ahead log (its default
/// <c>synchronous_commit=on</c>). Catalog writes are serialised across every server on the database
/// (a transaction-scoped advisory lock) and announced on <see cref="Channel"/> (NOTIFY at commit), so
/// replicas over one database follow each other's changes; tables are created when missing.
/// </summary>
public sealed class PostgresSearchStore : ISearchStore
{
    private readonly NpgsqlDataSource _source;
    private readonly SemaphoreSlim _catalogLock = new(1, 1);
    private long _seen; // the last catalog change this instance applied or wrote (under _catalogLock)
    private NpgsqlConnection? _listener; // LISTENs on Channel; used by one waiter at a time

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
    public async Task WriteCatalogAsync(IReadOnlyList<CatalogEdit> edits, Action<IReadOnlyList<CatalogEdit>> apply, CancellationToken cancel = default)
    {
        await _catalogLock.WaitAsync(cancel);
        try
        {
            await using var connection = await _source.OpenConnectionAsync(cancel);
            await using var tx = await connection.BeginTransactionAsync(cancel);
            // One writer at a time across every server on this database, held to the commit: sequence
            // numbers are then taken in commit order, so a follower that has seen seq N has seen all below it.
            await using (var locking = new NpgsqlCommand($"SELECT pg_advisory_xact_lock({WriterLock})", connection, tx))
                await locking.ExecuteNonQueryAsync(cancel);
            var (unseen, unseenTo) = await ReadSince(connection, tx, _seen, cancel);
            long last = unseenTo;
            await using (var batch = new NpgsqlBatch(connection, tx))
            {
                foreach (var edit in edits)
                {
                    var command = new NpgsqlBatchCommand("INSERT INTO gensearch_catalog_changes (item_id, title, body, removed) VALUES ($1, $2, $3, $4) RETURNING seq");
                    command.Parameters.Add(new NpgsqlParameter { Value = edit.Id });
                    command.Parameters.Add(new NpgsqlParameter { Value = (object?)edit.Item?.Title ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
                    command.Parameters.Add(new NpgsqlParameter { Value = (object?)edit.Item?.Text ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
                    command.Parameters.Add(new NpgsqlParameter { Value = edit.IsRemoval });
                    batch.BatchCommands.Add(command);
                }
                if (batch.BatchCommands.Count > 0)
                {
                    await using var rows = await batch.ExecuteReaderAsync(cancel);
                    do { while (await rows.ReadAsync(cancel)) last = Math.Max(last, rows.GetInt64(0)); } while (await rows.NextResultAsync(cancel));
                }
            }
            // Delivered to the listeners at the commit, not before; the payload is the last sequence number.
            await using (var notify = new NpgsqlCommand($"SELECT pg_notify('{Channel}', $1)", connection, tx))
            {
                notify.Parameters.Add(new NpgsqlParameter { Value = last.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                await notify.ExecuteNonQueryAsync(cancel);
            }
            _seen = unseenTo; // others' changes are committed already: seen even when apply refuses ours
            apply(unseen); // throws: the transaction is disposed uncommitted, so rolled back
            await tx.CommitAsync(CancellationToken.None);
            _seen = last;
        }
        finally { _catalogLock.Release(); }
    }

    /// <inheritdoc/>
    public async Task<int> CatchUpAsync(Action<IReadOnlyList<CatalogEdit>> apply, CancellationToken cancel = default)
    {
        await _catalogLock.WaitAsync(cancel);
        try
        {
            await using var connection = await _source.OpenConnectionAsync(cancel);
            var (unseen, to) = await ReadSince(connection, null, _seen, cancel);
            if (unseen.Count > 0) apply(unseen);
            _seen = to;
            return unseen.Count;
        }
        finally { _catalogLock.Release(); }
    }

    /// <inheritdoc/>
    public async Task WaitForCatalogChangeAsync(TimeSpan timeout, CancellationToken cancel = default)
    {
        try
        {
            if (_listener is null)
            {
                var listener = await _source.OpenConnectionAsync(cancel);
                await using (var listen = new NpgsqlCommand($"LISTEN {Channel}", listener)) await listen.ExecuteNonQueryAsync(cancel);
                _listener = listener;
                return; // changes committed before LISTEN took effect are found by the caller's catch-up now
            }
            await _listener.WaitAsync(timeout, cancel);
        }
        catch (Exception e) when (e is NpgsqlException or IOException or System.Net.Sockets.SocketException or InvalidOperationException)
        {
            // A lost connection: listen again on the next call; meanwhile the caller polls.
            if (_listener is not null) { await _listener.DisposeAsync(); _listener = null; }
            await Task.Delay(timeout, cancel);
        }
    }

    /// <summary>The notification channel catalog writes signal on.</summary>
    public const string Channel = "gensearch_catalog";

    /// <summary>The transaction-scoped advisory lock that serialises catalog writers (any fixed number; its scope is the database).</summary>
    private const long WriterLock = 0x67656e7365617263; // "gensearc"

    private static async Task<(List<CatalogEdit> Edits, long To)> ReadSince(NpgsqlConnection connection, NpgsqlTransaction? tx, long seen, CancellationToken cancel)
    {
        await using var command = new NpgsqlCommand("SELECT seq, item_id, title, body, removed FROM gensearch_catalog_changes WHERE seq > $1 ORDER BY seq", connection, tx);
        command.Parameters.Add(new NpgsqlParameter { Value = seen });
        await using var rows = await command.ExecuteReaderAsync(cancel);
        var edits = new List<CatalogEdit>();
        long to = seen;
        while (await rows.ReadAsync(cancel))
        {
            to = rows.GetInt64(0);
            string id = rows.GetString(1);
            edits.Add(rows.GetBoolean(4) ? new CatalogEdit(id, null)
                : new CatalogEdit(id, new Document(id, rows.IsDBNull(2) ? "" : rows.GetString(2), rows.IsDBNull(3) ? "" : rows.GetString(3))));
        }
        return (edits, to);
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
        if (_listener is not null) await _listener.DisposeAsync();
        await _source.DisposeAsync();
    }
}
