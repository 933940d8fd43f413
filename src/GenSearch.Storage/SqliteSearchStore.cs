using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;

namespace GenSearch.Storage;

/// <summary>
/// The embedded store: one SQLite file, nothing to install. Write-ahead logging lets searches' readers
/// run beside the one writer; <c>synchronous=FULL</c> syncs the log at every commit, so an acknowledged
/// change survives a power cut as well as a killed process (NORMAL would survive only the latter, and
/// acknowledged feedback must not be lost). Writes go through one connection, one at a time; catalog writes queued behind one another commit together (group commit, see <see cref="WriteCatalogAsync"/>).
/// </summary>
public sealed class SqliteSearchStore : ISearchStore
{
    private readonly string _connectionString;
    private readonly SqliteConnection _writer;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private long _seen; // the last catalog change this instance applied or wrote (under _writeLock)
    private readonly object _pendingLock = new();
    private List<PendingWrite> _pending = []; // catalog writes waiting for the next group commit

    private SqliteSearchStore(string path, SqliteConnection writer, string connectionString)
    {
        Path = path; _writer = writer; _connectionString = connectionString;
    }

    /// <summary>The database file.</summary>
    public string Path { get; }

    /// <inheritdoc/>
    public string Description => $"sqlite:{Path}";

    /// <summary>Opens (creating when missing) the store in <paramref name="path"/>; its folder must exist.</summary>
    public static async Task<SqliteSearchStore> OpenAsync(string path, CancellationToken cancel = default)
    {
        string full = System.IO.Path.GetFullPath(path);
        string? dir = System.IO.Path.GetDirectoryName(full);
        if (dir is not null && !Directory.Exists(dir)) throw new DirectoryNotFoundException($"{path}: the folder {dir} does not exist");
        string cs = new SqliteConnectionStringBuilder { DataSource = full, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = true }.ToString();
        var writer = new SqliteConnection(cs);
        try
        {
            await writer.OpenAsync(cancel);
            await Execute(writer, """
                PRAGMA journal_mode=WAL;
                PRAGMA synchronous=FULL;
                CREATE TABLE IF NOT EXISTS catalog_changes (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT, item_id TEXT NOT NULL, title TEXT, body TEXT, removed INTEGER NOT NULL);
                CREATE TABLE IF NOT EXISTS feedback (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT NOT NULL, query TEXT NOT NULL, item_id TEXT, ts REAL NOT NULL, signals TEXT NOT NULL);
                """, cancel);
        }
        catch (SqliteException e)
        {
            await writer.DisposeAsync();
            throw new IOException($"{path}: cannot open as an SQLite store: {e.Message}", e);
        }
        return new SqliteSearchStore(full, writer, cs);
    }

    private static async Task Execute(SqliteConnection connection, string sql, CancellationToken cancel)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancel);
    }

    private async Task<SqliteConnection> Reader(CancellationToken cancel)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancel);
        return connection;
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Group commit: writes that arrive while one is committing wait for the write lock, and the next
    /// holder commits all of them in one transaction, each in a savepoint of its own (a refused write
    /// rolls back to its savepoint; the others stand), with one sync. Each sync costs about 3.3 ms on
    /// this machine's disk, so one commit per write held catalog writes below 300 a second, and items
    /// PUT at 100 a second (with 100 DELETEs) under search load waited up to 1.4 s in the queue.
    /// </remarks>
    public async Task WriteCatalogAsync(IReadOnlyList<CatalogEdit> edits, Action<IReadOnlyList<CatalogEdit>> apply, CancellationToken cancel = default)
    {
        cancel.ThrowIfCancellationRequested();
        var write = new PendingWrite(edits, apply);
        lock (_pendingLock) _pending.Add(write);
        // Not cancellable once queued: an earlier holder of the lock may already be committing it.
        await _writeLock.WaitAsync(CancellationToken.None);
        try
        {
            List<PendingWrite> group;
            lock (_pendingLock) { group = _pending; _pending = []; }
            if (group.Count > 0) await CommitGroup(group);
        }
        finally { _writeLock.Release(); }
        await write.Done.Task;
    }

    private sealed record PendingWrite(IReadOnlyList<CatalogEdit> Edits, Action<IReadOnlyList<CatalogEdit>> Apply)
    {
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private async Task CommitGroup(List<PendingWrite> group)
    {
        var failed = new Dictionary<PendingWrite, Exception>();
        try
        {
            // BEGIN IMMEDIATE (Microsoft.Data.Sqlite's default) takes the file's write lock now, so another
            // process's change cannot commit between reading the unseen changes and committing ours.
            await using var tx = (SqliteTransaction)await _writer.BeginTransactionAsync();
            var (unseen, unseenTo) = await ReadSince(_writer, tx, _seen, CancellationToken.None);
            _seen = unseenTo; // others' changes are committed already: seen even when an apply refuses its own
            await using var command = _writer.CreateCommand();
            command.Transaction = tx;
            command.CommandText = "INSERT INTO catalog_changes (item_id, title, body, removed) VALUES ($id, $title, $body, $removed) RETURNING seq";
            var id = command.Parameters.Add("$id", SqliteType.Text);
            var title = command.Parameters.Add("$title", SqliteType.Text);
            var body = command.Parameters.Add("$body", SqliteType.Text);
            var removed = command.Parameters.Add("$removed", SqliteType.Integer);
            long last = unseenTo;
            IReadOnlyList<CatalogEdit> others = unseen; // the first write of the group applies them
            foreach (var write in group)
            {
                await Execute(_writer, tx, "SAVEPOINT write");
                long writeLast = last;
                try
                {
                    foreach (var edit in write.Edits)
                    {
                        id.Value = edit.Id;
                        title.Value = (object?)edit.Item?.Title ?? DBNull.Value;
                        body.Value = (object?)edit.Item?.Text ?? DBNull.Value;
                        removed.Value = edit.IsRemoval ? 1 : 0;
                        writeLast = (long)(await command.ExecuteScalarAsync())!;
                    }
                    var given = others;
                    others = [];
                    write.Apply(given);
                    await Execute(_writer, tx, "RELEASE write");
                    last = writeLast;
                }
                catch (Exception e)
                {
                    failed[write] = e;
                    await Execute(_writer, tx, "ROLLBACK TO write; RELEASE write");
                }
            }
            await tx.CommitAsync(CancellationToken.None); // once the changes are in memory, they are committed whatever the callers' tokens say
            _seen = last;
        }
        catch (Exception e)
        {
            foreach (var write in group) write.Done.TrySetException(failed.GetValueOrDefault(write, e));
            return;
        }
        foreach (var write in group)
            if (failed.TryGetValue(write, out var e)) write.Done.TrySetException(e);
            else write.Done.TrySetResult();
    }

    private static async Task Execute(SqliteConnection connection, SqliteTransaction tx, string sql)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = tx;
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    /// <inheritdoc/>
    public async Task<int> CatchUpAsync(Action<IReadOnlyList<CatalogEdit>> apply, CancellationToken cancel = default)
    {
        await _writeLock.WaitAsync(cancel);
        try
        {
            var (unseen, to) = await ReadSince(_writer, null, _seen, cancel);
            if (unseen.Count > 0) apply(unseen);
            _seen = to;
            return unseen.Count;
        }
        finally { _writeLock.Release(); }
    }

    /// <inheritdoc/>
    public Task WaitForCatalogChangeAsync(TimeSpan timeout, CancellationToken cancel = default)
        => Task.Delay(timeout < PollInterval ? timeout : PollInterval, cancel);

    /// <summary>
    /// How often a server over this file looks for changes other processes made: a primary-key range
    /// query that finds nothing costs microseconds, and a change is seen within this time.
    /// </summary>
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(200);

    private static async Task<(List<CatalogEdit> Edits, long To)> ReadSince(SqliteConnection connection, SqliteTransaction? tx, long seen, CancellationToken cancel)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = tx;
        command.CommandText = "SELECT seq, item_id, title, body, removed FROM catalog_changes WHERE seq > $seen ORDER BY seq";
        command.Parameters.AddWithValue("$seen", seen);
        await using var rows = await command.ExecuteReaderAsync(cancel);
        var edits = new List<CatalogEdit>();
        long to = seen;
        while (await rows.ReadAsync(cancel))
        {
            to = rows.GetInt64(0);
            string id = rows.GetString(1);
            edits.Add(rows.GetInt64(4) != 0 ? new CatalogEdit(id, null)
                : new CatalogEdit(id, new Document(id, rows.IsDBNull(2) ? "" : rows.GetString(2), rows.IsDBNull(3) ? "" : rows.GetString(3))));
        }
        return (edits, to);
    }

    /// <inheritdoc/>
    public async IAsyncEnumerable<CatalogEdit> ReadCatalogAsync([EnumeratorCancellation] CancellationToken cancel = default)
    {
        await using var connection = await Reader(cancel);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT item_id, title, body, removed FROM catalog_changes ORDER BY seq";
        await using var rows = await command.ExecuteReaderAsync(cancel);
        while (await rows.ReadAsync(cancel))
        {
            string id = rows.GetString(0);
            yield return rows.GetInt64(3) != 0 ? new CatalogEdit(id, null)
                : new CatalogEdit(id, new Document(id, rows.IsDBNull(1) ? "" : rows.GetString(1), rows.IsDBNull(2) ? "" : rows.GetString(2)));
        }
    }

    /// <inheritdoc/>
    public async Task AppendFeedbackAsync(Interaction feedback, CancellationToken cancel = default)
    {
        await _writeLock.WaitAsync(cancel);
        try
        {
            await using var command = _writer.CreateCommand();
            command.CommandText = "INSERT INTO feedback (user_id, query, item_id, ts, signals) VALUES ($user, $query, $item, $ts, $signals)";
            command.Parameters.AddWithValue("$user", feedback.User);
            command.Parameters.AddWithValue("$query", feedback.Query);
            command.Parameters.AddWithValue("$item", (object?)feedback.Item ?? DBNull.Value);
            command.Parameters.AddWithValue("$ts", feedback.Timestamp);
            command.Parameters.AddWithValue("$signals", SearchStores.SignalsJson(feedback.Signals));
            await command.ExecuteNonQueryAsync(cancel); // autocommit: returns after the commit (and its sync)
        }
        finally { _writeLock.Release(); }
    }

    /// <inheritdoc/>
    public async IAsyncEnumerable<Interaction> ReadFeedbackAsync([EnumeratorCancellation] CancellationToken cancel = default)
    {
        await using var connection = await Reader(cancel);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT user_id, query, item_id, ts, signals FROM feedback ORDER BY seq";
        await using var rows = await command.ExecuteReaderAsync(cancel);
        while (await rows.ReadAsync(cancel))
            yield return new Interaction(rows.GetString(0), rows.GetString(1), rows.IsDBNull(2) ? null : rows.GetString(2), rows.GetDouble(3),
                SearchStores.ParseSignals(rows.GetString(4)));
    }

    /// <inheritdoc/>
    public async Task<long> FeedbackCountAsync(CancellationToken cancel = default)
    {
        await using var connection = await Reader(cancel);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM feedback";
        return (long)(await command.ExecuteScalarAsync(cancel))!;
    }

    /// <inheritdoc/>
    public async Task PingAsync(CancellationToken cancel = default)
    {
        await using var connection = await Reader(cancel);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT 1";
        await command.ExecuteScalarAsync(cancel);
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await _writeLock.WaitAsync(); // a write in progress finishes (and commits) first
        try
        {
            await Execute(_writer, "PRAGMA wal_checkpoint(TRUNCATE);", CancellationToken.None);
            await _writer.DisposeAsync();
        }
        finally { _writeLock.Release(); }
        SqliteConnection.ClearPool(new SqliteConnection(_connectionString));
    }
}
