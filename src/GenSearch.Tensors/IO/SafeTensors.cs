using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace GenSearch.Tensors.IO;

/// <summary>Element types this reader and writer handle; names as in the safetensors header.</summary>
public enum SafeTensorDType
{
    /// <summary>32-bit IEEE float ("F32"): weights, vectors, codebooks.</summary>
    F32,
    /// <summary>32-bit signed integer ("I32"): codes, token ids.</summary>
    I32,
    /// <summary>64-bit signed integer ("I64"): codes as PyTorch writes them.</summary>
    I64,
}

/// <summary>
/// One named array of a safetensors file: row-major, shape <see cref="Shape"/>, elements in
/// <see cref="Data"/> (a <c>float[]</c>, <c>int[]</c> or <c>long[]</c> matching <see cref="DType"/>).
/// Build one with <see cref="F32"/>, <see cref="I32"/> or <see cref="I64"/>.
/// </summary>
public sealed class SafeTensorEntry
{
    private SafeTensorEntry(string name, SafeTensorDType dtype, long[] shape, Array data)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name == SafeTensors.MetadataKey) throw new ArgumentException($"'{name}' is reserved for metadata", nameof(name));
        long count = 1;
        foreach (long s in shape)
        {
            if (s < 0) throw new ArgumentException($"tensor '{name}': negative dimension in shape [{string.Join(", ", shape)}]", nameof(shape));
            count = checked(count * s);
        }
        if (count != data.LongLength)
            throw new ArgumentException($"tensor '{name}': shape [{string.Join(", ", shape)}] holds {count} elements but {data.LongLength} were given", nameof(data));
        Name = name; DType = dtype; Shape = shape; Data = data;
    }

    /// <summary>The tensor's name, unique within a file.</summary>
    public string Name { get; }
    /// <summary>The element type.</summary>
    public SafeTensorDType DType { get; }
    /// <summary>Dimensions, outermost first; empty for a scalar.</summary>
    public long[] Shape { get; }
    /// <summary>The elements, row-major: <c>float[]</c>, <c>int[]</c> or <c>long[]</c>.</summary>
    public Array Data { get; }

    /// <summary>A float tensor.</summary>
    public static SafeTensorEntry F32(string name, long[] shape, float[] data) => new(name, SafeTensorDType.F32, shape, data);
    /// <summary>An int32 tensor.</summary>
    public static SafeTensorEntry I32(string name, long[] shape, int[] data) => new(name, SafeTensorDType.I32, shape, data);
    /// <summary>An int64 tensor.</summary>
    public static SafeTensorEntry I64(string name, long[] shape, long[] data) => new(name, SafeTensorDType.I64, shape, data);

    /// <summary>The elements as floats; throws when the tensor is not F32.</summary>
    public float[] AsF32() => Data as float[] ?? throw new InvalidDataException($"tensor '{Name}' is {DType}, not F32");

    /// <summary>The elements as int32; I64 values are narrowed with a range check.</summary>
    public int[] AsI32()
    {
        if (Data is int[] ints) return ints;
        if (Data is long[] longs)
        {
            var result = new int[longs.Length];
            for (int i = 0; i < longs.Length; i++)
                result[i] = longs[i] is >= int.MinValue and <= int.MaxValue
                    ? (int)longs[i]
                    : throw new InvalidDataException($"tensor '{Name}': element {i} ({longs[i]}) does not fit in int32");
            return result;
        }
        throw new InvalidDataException($"tensor '{Name}' is {DType}, not an integer type");
    }

    internal int ElementSize => DType == SafeTensorDType.I64 ? 8 : 4;
    internal long ByteCount => Data.LongLength * ElementSize;
}

/// <summary>A loaded safetensors file: tensors in file order and the free-form string metadata.</summary>
public sealed class SafeTensorsFile(IReadOnlyList<SafeTensorEntry> tensors, IReadOnlyDictionary<string, string> metadata, string path)
{
    /// <summary>The tensors, in the order of their data in the file.</summary>
    public IReadOnlyList<SafeTensorEntry> Tensors { get; } = tensors;
    /// <summary>The header's <c>__metadata__</c> map (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; } = metadata;
    /// <summary>Where it was read from.</summary>
    public string Path { get; } = path;

    /// <summary>The tensor called <paramref name="name"/>; throws naming the file and the tensors it does hold.</summary>
    public SafeTensorEntry this[string name] => TryGet(name) ?? throw new KeyNotFoundException(
        $"{Path}: no tensor '{name}' (it holds: {string.Join(", ", Tensors.Select(t => t.Name))})");

    /// <summary>The tensor called <paramref name="name"/>, or null.</summary>
    public SafeTensorEntry? TryGet(string name) => Tensors.FirstOrDefault(t => t.Name == name);
}

/// <summary>
/// Reads and writes the safetensors format (huggingface/safetensors): an 8-byte little-endian
/// header length N, N bytes of UTF-8 JSON <c>{name: {"dtype", "shape", "data_offsets": [begin, end]},
/// "__metadata__": {str: str}}</c> (padded with spaces), then the tensors' raw little-endian bytes,
/// contiguous, offsets relative to the end of the header. Files written here load in Python's
/// <c>safetensors</c> and the reverse, for the dtypes in <see cref="SafeTensorDType"/>.
/// </summary>
public static class SafeTensors
{
    /// <summary>The reserved header key for string metadata.</summary>
    public const string MetadataKey = "__metadata__";

    /// <summary>Largest header accepted (the reference implementation's limit): guards against reading garbage as a length.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private static readonly string[] s_knownDTypes =
        ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64", "I64", "U64"];

    /// <summary>
    /// Writes <paramref name="tensors"/> to <paramref name="path"/> atomically: the bytes go to a
    /// temporary file in the same directory, are flushed to disk, and the file is renamed over the
    /// target, so a reader never sees half a file and a crash leaves the old file intact.
    /// </summary>
    public static void Save(string path, IEnumerable<SafeTensorEntry> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors writing needs a little-endian machine");
        var list = tensors.ToList();
        var duplicate = list.GroupBy(t => t.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate != null) throw new ArgumentException($"{path}: tensor name '{duplicate.Key}' appears twice");

        byte[] header = BuildHeader(list, metadata);
        string full = System.IO.Path.GetFullPath(path);
        string dir = System.IO.Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(dir);
        string temp = System.IO.Path.Combine(dir, $".{System.IO.Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                Span<byte> length = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
                stream.Write(length);
                stream.Write(header);
                foreach (var t in list) WriteData(stream, t);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { /* the original error matters more */ }
            throw;
        }
    }

    /// <summary>The header JSON, space-padded to a multiple of 8 bytes so the data that follows is aligned.</summary>
    private static byte[] BuildHeader(List<SafeTensorEntry> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(MetadataKey);
                foreach (var (k, v) in metadata) json.WriteString(k, v);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var t in tensors)
            {
                json.WriteStartObject(t.Name);
                json.WriteString("dtype", t.DType.ToString());
                json.WriteStartArray("shape");
                foreach (long s in t.Shape) json.WriteNumberValue(s);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + t.ByteCount);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += t.ByteCount;
            }
            json.WriteEndObject();
        }
        int padded = (int)((buffer.Length + 7) / 8 * 8);
        while (buffer.Length < padded) buffer.WriteByte((byte)' ');
        return buffer.ToArray();
    }

    private static void WriteData(Stream stream, SafeTensorEntry t)
    {
        // Chunks keep every span under int.MaxValue bytes, whatever the tensor's size.
        const int chunk = 1 << 24;
        switch (t.Data)
        {
            case float[] f: for (int i = 0; i < f.Length; i += chunk) stream.Write(MemoryMarshal.AsBytes(f.AsSpan(i, Math.Min(chunk, f.Length - i)))); break;
            case int[] n: for (int i = 0; i < n.Length; i += chunk) stream.Write(MemoryMarshal.AsBytes(n.AsSpan(i, Math.Min(chunk, n.Length - i)))); break;
            case long[] l: for (int i = 0; i < l.Length; i += chunk) stream.Write(MemoryMarshal.AsBytes(l.AsSpan(i, Math.Min(chunk, l.Length - i)))); break;
        }
    }

    /// <summary>
    /// Reads a safetensors file, validating it: the header length is sane, the JSON well formed,
    /// every dtype known and supported, every shape's byte count equal to its offsets' span, and the
    /// offsets contiguous from 0 to the end of the file. Errors are <see cref="InvalidDataException"/>
    /// naming the file and, where there is one, the tensor.
    /// </summary>
    public static SafeTensorsFile Load(string path)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors reading needs a little-endian machine");
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        long fileLength = stream.Length;
        if (fileLength < 8) throw Bad(path, $"file is {fileLength} bytes, shorter than the 8-byte header length");
        Span<byte> lengthBytes = stackalloc byte[8];
        stream.ReadExactly(lengthBytes);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength < 2 || headerLength > MaxHeaderBytes)
            throw Bad(path, $"header length {headerLength} is not plausible (2..{MaxHeaderBytes}); is this a safetensors file?");
        if ((long)headerLength > fileLength - 8)
            throw Bad(path, $"header length {headerLength} runs past the end of the {fileLength}-byte file (truncated?)");
        var header = new byte[headerLength];
        stream.ReadExactly(header);
        long dataLength = fileLength - 8 - (long)headerLength;

        var (specs, metadata) = ParseHeader(path, header);
        // Offsets must tile the data buffer exactly: sorted by begin, each starts where the last ended.
        specs.Sort((a, b) => a.Begin.CompareTo(b.Begin));
        long expected = 0;
        foreach (var s in specs)
        {
            if (s.Begin != expected)
                throw Bad(path, $"tensor '{s.Name}': data_offsets [{s.Begin}, {s.End}] leave a gap or overlap (expected to begin at {expected})");
            if (s.End > dataLength)
                throw Bad(path, $"tensor '{s.Name}': data_offsets end {s.End} is past the {dataLength} data bytes (truncated?)");
            expected = s.End;
        }
        if (expected != dataLength)
            throw Bad(path, $"{dataLength - expected} bytes after the last tensor are not described by the header");

        var tensors = new List<SafeTensorEntry>(specs.Count);
        foreach (var s in specs)
        {
            long count = s.ElementCount;
            if (count > Array.MaxLength) throw Bad(path, $"tensor '{s.Name}': {count} elements is more than one array can hold");
            switch (s.DType)
            {
                case SafeTensorDType.F32: { var d = new float[count]; ReadInto(stream, MemoryMarshal.AsBytes(d.AsSpan())); tensors.Add(SafeTensorEntry.F32(s.Name, s.Shape, d)); break; }
                case SafeTensorDType.I32: { var d = new int[count]; ReadInto(stream, MemoryMarshal.AsBytes(d.AsSpan())); tensors.Add(SafeTensorEntry.I32(s.Name, s.Shape, d)); break; }
                default: { var d = new long[count]; ReadInto(stream, MemoryMarshal.AsBytes(d.AsSpan())); tensors.Add(SafeTensorEntry.I64(s.Name, s.Shape, d)); break; }
            }
        }
        return new SafeTensorsFile(tensors, metadata, path);
    }

    private static void ReadInto(Stream stream, Span<byte> target)
    {
        const int chunk = 1 << 26;
        for (int i = 0; i < target.Length; i += chunk) stream.ReadExactly(target.Slice(i, Math.Min(chunk, target.Length - i)));
    }

    private sealed record Spec(string Name, SafeTensorDType DType, long[] Shape, long Begin, long End)
    {
        public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
    }

    private static (List<Spec>, Dictionary<string, string>) ParseHeader(string path, byte[] header)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(header); }
        catch (JsonException e) { throw Bad(path, $"header is not well-formed JSON: {e.Message}"); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw Bad(path, "header JSON is not an object");
            var specs = new List<Spec>();
            var metadata = new Dictionary<string, string>();
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (prop.Name == MetadataKey)
                {
                    if (prop.Value.ValueKind != JsonValueKind.Object) throw Bad(path, "__metadata__ is not an object");
                    foreach (var m in prop.Value.EnumerateObject())
                        metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()!
                            : throw Bad(path, $"__metadata__ value '{m.Name}' is not a string");
                    continue;
                }
                specs.Add(ParseSpec(path, prop.Name, prop.Value));
            }
            return (specs, metadata);
        }
    }

    private static Spec ParseSpec(string path, string name, JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Object) throw Bad(path, $"tensor '{name}': header entry is not an object");
        if (!e.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String) throw Bad(path, $"tensor '{name}': missing dtype");
        string dtypeName = dt.GetString()!;
        if (!Enum.TryParse<SafeTensorDType>(dtypeName, ignoreCase: false, out var dtype) || !Enum.IsDefined(dtype) || dtypeName != dtype.ToString())
        {
            throw Bad(path, s_knownDTypes.Contains(dtypeName)
                ? $"tensor '{name}': dtype {dtypeName} is not supported here (F32, I32, I64)"
                : $"tensor '{name}': unknown dtype '{dtypeName}'");
        }
        if (!e.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array) throw Bad(path, $"tensor '{name}': missing shape");
        var shape = new long[sh.GetArrayLength()];
        int i = 0;
        long count = 1;
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long v) || v < 0) throw Bad(path, $"tensor '{name}': shape entry {d} is not a non-negative integer");
            shape[i++] = v;
            try { count = checked(count * v); } catch (OverflowException) { throw Bad(path, $"tensor '{name}': shape [{string.Join(", ", shape)}] overflows"); }
        }
        if (!e.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw Bad(path, $"tensor '{name}': data_offsets must be [begin, end]");
        if (!off[0].TryGetInt64(out long begin) || !off[1].TryGetInt64(out long end) || begin < 0 || end < begin)
            throw Bad(path, $"tensor '{name}': data_offsets {off} are not 0 <= begin <= end");
        long elementSize = dtype == SafeTensorDType.I64 ? 8 : 4;
        long bytes;
        try { bytes = checked(count * elementSize); } catch (OverflowException) { throw Bad(path, $"tensor '{name}': shape overflows"); }
        if (end - begin != bytes)
            throw Bad(path, $"tensor '{name}': shape [{string.Join(", ", shape)}] of {dtype} needs {bytes} bytes but data_offsets [{begin}, {end}] span {end - begin}");
        return new Spec(name, dtype, shape, begin, end);
    }

    private static InvalidDataException Bad(string path, string message) => new($"{path}: {message}");
}
