using System.Text;

namespace GenSearch.Evaluation;

/// <summary>
/// Writes a file all or nothing: to a temporary file beside it, then renamed over it. When writing
/// fails, the temporary file is removed and whatever was at the path before is left as it was, so a
/// failed write never leaves an empty or half-written run or report.
/// </summary>
public static class AtomicFile
{
    /// <summary>Writes what <paramref name="write"/> writes, as UTF-8 without a byte-order mark, to <paramref name="path"/>.</summary>
    public static void Write(string path, Action<TextWriter> write)
    {
        string full = Path.GetFullPath(path);
        string temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var writer = new StreamWriter(temp, false, new UTF8Encoding(false)))
                write(writer);
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>Writes <paramref name="text"/> to <paramref name="path"/>.</summary>
    public static void WriteAllText(string path, string text) => Write(path, w => w.Write(text));
}
