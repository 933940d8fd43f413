using GenSearch.Data;

namespace GenSearch.Storage.Tests;

/// <summary>
/// The contract of <see cref="ISearchStore"/>, run against every kind: <see cref="SqliteSearchStoreTests"/>
/// and <see cref="PostgresSearchStoreTests"/> only say how to open a fresh store and reopen it.
/// </summary>
public abstract class SearchStoreTests
{
    /// <summary>A new, empty store, and the expression that opens it again; null only when the kind's tests are skipped on purpose.</summary>
    protected abstract Task<(ISearchStore Store, string Expression)?> CreateAsync();

    private static Interaction Event(int i, string? item = "100011") => new($"u{i % 3}", $"query {i} ünïcode ✓", item, 1_700_000_000 + i * 0.5,
        new Dictionary<string, double> { ["click"] = i % 2, ["dwell_s"] = i * 1.25 });

    [Fact]
    public async Task CatalogChangesComeBackInTheOrderWritten()
    {
        if (await CreateAsync() is not (ISearchStore store, string _)) return;
        await using var _ = store;
        await store.WriteCatalogAsync([new("a", new Document("a", "Rot Bohrer ✓", "text a")), new("b", new Document("b", "b title", ""))], _ => { });
        await store.WriteCatalogAsync([new("a", null)], _ => { });
        await store.WriteCatalogAsync([new("a", new Document("a", "again", "x"))], _ => { });
        var edits = await store.ReadCatalogAsync().ToListAsync();
        Assert.Equal(["a", "b", "a", "a"], edits.Select(e => e.Id));
        Assert.Equal("Rot Bohrer ✓", edits[0].Item!.Title);
        Assert.Equal("text a", edits[0].Item!.Text);
        Assert.Equal("", edits[1].Item!.Text);
        Assert.True(edits[2].IsRemoval);
        Assert.Equal("again", edits[3].Item!.Title);
    }

    [Fact]
    public async Task ACatalogChangeWhoseApplyThrowsIsNotStored()
    {
        if (await CreateAsync() is not (ISearchStore store, string _)) return;
        await using var _ = store;
        await store.WriteCatalogAsync([new("kept", new Document("kept", "t", ""))], _ => { });
        await Assert.ThrowsAsync<ArgumentException>(() => store.WriteCatalogAsync(
            [new("x", new Document("x", "t", "")), new("y", null)], _ => throw new ArgumentException("refused")));
        Assert.Equal(["kept"], (await store.ReadCatalogAsync().ToListAsync()).Select(e => e.Id));
        bool applied = false;
        await store.WriteCatalogAsync([new("z", null)], _ => applied = true); // the store still takes writes
        Assert.True(applied);
        Assert.Equal(2, (await store.ReadCatalogAsync().ToListAsync()).Count);
    }

    [Fact]
    public async Task TwoInstancesOverOneStoreFollowEachOthersChangesInCommitOrder()
    {
        if (await CreateAsync() is not (ISearchStore a, string expression)) return;
        await using var _ = a;
        await using var b = await SearchStores.OpenAsync(expression);
        var doc = (string id) => new Document(id, $"title {id}", "");
        await a.WriteCatalogAsync([new("x", doc("x"))], others => Assert.Empty(others));
        var seen = new List<string>();
        Assert.Equal(1, await b.CatchUpAsync(e => seen.AddRange(e.Select(c => c.Id)))); // the first catch-up is the replay
        Assert.Equal(["x"], seen);
        Assert.Equal(0, await b.CatchUpAsync(_ => Assert.Fail("nothing is new")));

        await a.WriteCatalogAsync([new("y", null)], others => Assert.Empty(others)); // a has seen its own x
        IReadOnlyList<CatalogEdit>? given = null;
        await b.WriteCatalogAsync([new("z", doc("z"))], others => given = others);
        Assert.Equal(["y"], given!.Select(e => e.Id)); // b applies a's y before its own z
        Assert.True(given![0].IsRemoval);

        // A refused write still counts the others' changes as seen (they are committed), and stores nothing.
        await Assert.ThrowsAsync<ArgumentException>(() => a.WriteCatalogAsync([new("w", doc("w"))], others =>
        {
            Assert.Equal(["z"], others.Select(e => e.Id));
            throw new ArgumentException("refused");
        }));
        Assert.Equal(0, await a.CatchUpAsync(_ => Assert.Fail("z was seen")));
        Assert.Equal(["x", "y", "z"], (await b.ReadCatalogAsync().ToListAsync()).Select(e => e.Id));
        Assert.Equal(0, await b.CatchUpAsync(_ => Assert.Fail("b wrote z itself")));
    }

    [Fact]
    public async Task ConcurrentCatalogWritesAreEachStoredOrRefusedOnTheirOwn()
    {
        if (await CreateAsync() is not (ISearchStore store, string _)) return;
        await using var _ = store;
        // 64 writers at once (SQLite commits those that queue up together); every 8th is refused.
        var applied = new System.Collections.Concurrent.ConcurrentBag<string>();
        var writes = Enumerable.Range(0, 64).Select(i => Task.Run(() => store.WriteCatalogAsync([new($"c{i}", new Document($"c{i}", "t", ""))], _ =>
        {
            if (i % 8 == 0) throw new ArgumentException($"refused c{i}");
            applied.Add($"c{i}");
        }))).ToList();
        foreach (var (write, i) in writes.Select((w, i) => (w, i)))
        {
            if (i % 8 == 0) Assert.Equal($"refused c{i}", (await Assert.ThrowsAsync<ArgumentException>(() => write)).Message);
            else await write;
        }
        var expected = Enumerable.Range(0, 64).Where(i => i % 8 != 0).Select(i => $"c{i}").Order().ToList();
        Assert.Equal(expected, applied.Order());
        var stored = await store.ReadCatalogAsync().ToListAsync();
        Assert.Equal(expected, stored.Select(e => e.Id).Order());
        // Stored in the order they were applied in memory, which is the order replicas apply them in.
        Assert.Equal(stored.Count, stored.Select(e => e.Id).Distinct().Count());
    }

    /// <summary>Whether <see cref="ISearchStore.WaitForCatalogChangeAsync"/> is told of a commit (PostgreSQL) rather than polling.</summary>
    protected virtual bool SignalsCommits => false;

    [Fact]
    public async Task AWaiterIsToldOfAnotherInstancesCommit()
    {
        if (await CreateAsync() is not (ISearchStore a, string expression)) return;
        await using var _ = a;
        await using var b = await SearchStores.OpenAsync(expression);
        await b.WaitForCatalogChangeAsync(TimeSpan.FromMilliseconds(1)); // starts listening where the kind listens
        // A store that is told returns at the commit; one that polls returns within its poll interval. With a
        // 10-minute timeout, a lost signal shows as the 2-minute guard below firing.
        var waiting = b.WaitForCatalogChangeAsync(SignalsCommits ? TimeSpan.FromMinutes(10) : SqliteSearchStore.PollInterval);
        await a.WriteCatalogAsync([new("n", new Document("n", "t", ""))], _ => { });
        Assert.Same(waiting, await Task.WhenAny(waiting, Task.Delay(TimeSpan.FromMinutes(2))));
        var seen = new List<string>();
        await b.CatchUpAsync(e => seen.AddRange(e.Select(c => c.Id)));
        Assert.Equal(["n"], seen);
    }

    [Fact]
    public async Task FeedbackComesBackWithEveryField()
    {
        if (await CreateAsync() is not (ISearchStore store, string _)) return;
        await using var _ = store;
        Assert.Equal(0, await store.FeedbackCountAsync());
        await store.AppendFeedbackAsync(Event(1));
        await store.AppendFeedbackAsync(Event(2, item: null) with { Signals = new Dictionary<string, double>() });
        var log = await store.ReadFeedbackAsync().ToListAsync();
        Assert.Equal(2, await store.FeedbackCountAsync());
        Assert.Equal(Event(1).User, log[0].User);
        Assert.Equal(Event(1).Query, log[0].Query);
        Assert.Equal("100011", log[0].Item);
        Assert.Equal(Event(1).Timestamp, log[0].Timestamp);
        Assert.Equal(Event(1).Signals, log[0].Signals);
        Assert.Null(log[1].Item);
        Assert.Empty(log[1].Signals);
    }

    [Fact]
    public async Task EverythingWrittenIsThereAfterReopening()
    {
        if (await CreateAsync() is not (ISearchStore store, string expression)) return;
        await Task.WhenAll(Enumerable.Range(0, 64).Select(i => store.AppendFeedbackAsync(Event(i)))); // concurrent writers
        await store.WriteCatalogAsync([new("new-item", new Document("new-item", "title", "body"))], _ => { });
        await store.DisposeAsync();
        await using var again = await SearchStores.OpenAsync(expression);
        await again.PingAsync();
        var log = await again.ReadFeedbackAsync().ToListAsync();
        Assert.Equal(64, log.Count);
        Assert.Equal(Enumerable.Range(0, 64).Select(i => Event(i).Query).Order(), log.Select(e => e.Query).Order());
        Assert.Equal("new-item", Assert.Single(await again.ReadCatalogAsync().ToListAsync()).Id);
    }

    [Fact]
    public async Task AnExportedLogReadsBackThroughTheInteractionReader()
    {
        if (await CreateAsync() is not (ISearchStore store, string _)) return;
        await using var _ = store;
        for (int i = 0; i < 5; i++) await store.AppendFeedbackAsync(i == 3 ? Event(i, item: null) : Event(i));
        string path = Path.Combine(Path.GetTempPath(), $"gensearch-log-{Guid.NewGuid():N}.jsonl");
        try
        {
            Assert.Equal(5, InteractionWriter.Write(path, await store.ReadFeedbackAsync().ToListAsync()));
            var read = InteractionReader.Read(path).ToList();
            Assert.Equal(5, read.Count);
            for (int i = 0; i < 5; i++)
            {
                var expected = i == 3 ? Event(i, item: null) : Event(i);
                Assert.Equal(expected.User, read[i].User);
                Assert.Equal(expected.Query, read[i].Query);
                Assert.Equal(expected.Item, read[i].Item);
                Assert.Equal(expected.Timestamp, read[i].Timestamp);
                Assert.Equal(expected.Signals, read[i].Signals);
            }
        }
        finally { File.Delete(path); }
    }
}

public sealed class SqliteSearchStoreTests : SearchStoreTests
{
    protected override async Task<(ISearchStore, string)?> CreateAsync()
    {
        string expression = $"sqlite:{GenSearch.Tests.TestTemp.File("store.db")}";
        return (await SearchStores.OpenAsync(expression), expression);
    }

    [Fact]
    public async Task TheFileIsInWriteAheadLogModeWithFullSync()
    {
        if (await CreateAsync() is not (ISearchStore store, string _)) return;
        await using var _ = store;
        var path = ((SqliteSearchStore)store).Path;
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path}");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode";
        Assert.Equal("wal", (string)(await command.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task AStoreInAMissingFolderOrOfAnUnknownKindIsRefused()
    {
        await Assert.ThrowsAsync<DirectoryNotFoundException>(() => SearchStores.OpenAsync("sqlite:/no/such/folder/x.db"));
        var e = await Assert.ThrowsAsync<ArgumentException>(() => SearchStores.OpenAsync("mysql:x"));
        Assert.Contains("sqlite:PATH", e.Message);
    }
}

/// <summary>
/// The same tests on PostgreSQL. <c>run-tests</c> starts a throwaway server (scripts/test-postgres.sh)
/// and passes its connection string in GENSEARCH_TEST_POSTGRES; each test gets a database of its own.
/// Without it these tests fail, unless GENSEARCH_SKIP_POSTGRES=1 (for a machine without PostgreSQL;
/// CI never sets it).
/// </summary>
public sealed class PostgresSearchStoreTests : SearchStoreTests
{
    /// <summary>The admin connection string, or null when skipping is allowed.</summary>
    public static string? AdminConnection()
    {
        string? connection = Environment.GetEnvironmentVariable("GENSEARCH_TEST_POSTGRES");
        if (!string.IsNullOrEmpty(connection)) return connection;
        if (Environment.GetEnvironmentVariable("GENSEARCH_SKIP_POSTGRES") == "1") return null;
        throw new InvalidOperationException("the PostgreSQL store tests need a server: GENSEARCH_TEST_POSTGRES is not set " +
                                            "(./run-tests starts one; set GENSEARCH_SKIP_POSTGRES=1 to skip them on a machine without PostgreSQL)");
    }

    /// <summary>A connection string to a new, empty database on the test server.</summary>
    public static async Task<string> NewDatabaseAsync(string admin)
    {
        string name = "gs_" + Guid.NewGuid().ToString("N");
        await using (var source = Npgsql.NpgsqlDataSource.Create(admin))
        await using (var command = source.CreateCommand($"CREATE DATABASE {name}"))
            await command.ExecuteNonQueryAsync();
        return new Npgsql.NpgsqlConnectionStringBuilder(admin) { Database = name }.ToString();
    }

    protected override bool SignalsCommits => true;

    protected override async Task<(ISearchStore, string)?> CreateAsync()
    {
        if (AdminConnection() is not { } admin) return null;
        string expression = SearchStores.PostgresPrefix + await NewDatabaseAsync(admin);
        return (await SearchStores.OpenAsync(expression), expression);
    }
}

