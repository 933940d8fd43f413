using System.Buffers;
using System.Text.Unicode;

namespace GenSearch.Evaluation;

/// <summary>
/// Streams the lines of a UTF-8 file as byte spans without holding the file: memory is one buffer
/// as long as the longest line. Checks each line is valid UTF-8 so that a bad byte is reported with
/// its own line (a decoding <see cref="StreamReader"/> fails at the line whose read filled its buffer,
/// which can be lines earlier). A UTF-8 byte-order mark and CR before LF are dropped; blank lines are
/// skipped but counted. Shared by the TREC run reader here and the BEIR readers of GenSearch.Data,
/// which pass the exception type of their layer as <c>error(file, line, problem)</c>.
/// </summary>
internal sealed class Utf8Lines : IDisposable
{
    private readonly Stream _stream;
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(1 << 16);
    private int _start, _end;
    private bool _eof;

    public string Name { get; }
    /// <summary>1-based number of the line last returned by <see cref="Next"/>.</summary>
    public long LineNumber { get; private set; }

    private readonly Func<string, long, string, Exception> _error;

    public Utf8Lines(string path, Func<string, long, string, Exception> error)
    {
        Name = path;
        _error = error;
        if (!System.IO.File.Exists(path)) throw error(path, 0, "file not found");
        _stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
    }

    /// <summary>Moves to the next line; false at end of file. Blank lines are skipped but counted.</summary>
    public bool Next(out ReadOnlySpan<byte> line)
    {
        while (true)
        {
            int nl = _buffer.AsSpan(_start, _end - _start).IndexOf((byte)'\n');
            if (nl < 0 && !_eof) { Fill(); continue; }
            if (nl < 0 && _start == _end) { line = default; return false; }
            int len = nl < 0 ? _end - _start : nl;
            var span = _buffer.AsSpan(_start, len);
            _start += nl < 0 ? len : len + 1;
            LineNumber++;
            if (span.Length > 0 && span[^1] == (byte)'\r') span = span[..^1];
            if (LineNumber == 1 && span.StartsWith("\uFEFF"u8)) span = span[3..];
            if (IsBlank(span)) continue;
            if (!Utf8.IsValid(span)) throw _error(Name, LineNumber, "invalid UTF-8");
            line = span;
            return true;
        }
    }

    /// <summary>Spaces and tabs only (what TSV and JSON lines may hold between records).</summary>
    private static bool IsBlank(ReadOnlySpan<byte> span) => span.TrimStart(" \t"u8).IsEmpty;

    /// <summary>The line as text (call after <see cref="Next"/> returned it, so it is valid UTF-8).</summary>
    public static string Text(ReadOnlySpan<byte> line) => System.Text.Encoding.UTF8.GetString(line);

    private void Fill()
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        if (_end == _buffer.Length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(_buffer.Length * 2);
            Buffer.BlockCopy(_buffer, 0, bigger, 0, _end);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
        }
        int read = _stream.Read(_buffer, _end, _buffer.Length - _end);
        if (read == 0) _eof = true;
        _end += read;
    }

    public void Dispose()
    {
        _stream.Dispose();
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
    }
}
