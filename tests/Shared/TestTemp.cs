namespace GenSearch.Tests;

/// <summary>
/// Temporary directories for one test process, all under one folder that is removed when the process
/// exits: a store a later server in the same test reopens, or a test that fails midway, leaves nothing
/// in /tmp (before this, every run of the suite left some 40 directories and database files there).
/// Linked into the test projects that need it (see their .csproj).
/// </summary>
internal static class TestTemp
{
    private static readonly string Root = Path.Combine(Path.GetTempPath(), $"gensearch-tests-{Environment.ProcessId}");

    static TestTemp()
    {
        // Folders of earlier test processes that are gone (killed, or cut short before their exit handler finished).
        foreach (string stale in System.IO.Directory.GetDirectories(Path.GetTempPath(), "gensearch-tests-*"))
            if (int.TryParse(Path.GetFileName(stale)["gensearch-tests-".Length..], out int pid) && pid != Environment.ProcessId && !Running(pid))
                try { System.IO.Directory.Delete(stale, recursive: true); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { System.IO.Directory.Delete(Root, recursive: true); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        };
    }

    private static bool Running(int pid)
    {
        try { using var process = System.Diagnostics.Process.GetProcessById(pid); return !process.HasExited; }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException) { return false; }
    }

    /// <summary>A new, empty directory whose name starts with <paramref name="prefix"/>.</summary>
    public static string Directory(string prefix)
    {
        string dir = Path.Combine(Root, prefix + "-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>A path for a new file under this process's folder (the folder exists; the file does not).</summary>
    public static string File(string name)
    {
        System.IO.Directory.CreateDirectory(Root);
        return Path.Combine(Root, Guid.NewGuid().ToString("N")[..12] + "-" + name);
    }
}
