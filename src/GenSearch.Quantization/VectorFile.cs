using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using GenSearch.Tensors.IO;

namespace GenSearch.Quantization;

/// <summary>A row-major float32 matrix: <see cref="Rows"/> vectors of <see cref="Dimension"/> floats.</summary>
public sealed record VectorMatrix(float[] Data, int Rows, int Dimension);

/// <summary>
/// Reads and writes float32 matrices, the input of <c>gensearch tokenize</c>. Formats, chosen by extension:
/// <list type="bullet">
/// <item><c>.npy</c>: NumPy's format (<c>np.save(path, x.astype("float32"))</c>): the magic <c>\x93NUMPY</c>, a version,
/// a little-endian header length, a Python-dict header <c>{'descr': '&lt;f4', 'fortran_order': False, 'shape': (rows, dim), }</c>,
/// then rows x dim little-endian floats. <c>'&lt;f8'</c> is read and narrowed to float32.</item>
/// <item><c>.fvecs</c>: the ANN-benchmark format: per vector, an int32 dimension then that many float32s.</item>
/// <item><c>.safetensors</c>: one F32 tensor of shape [rows, dim] (a model's item vectors); named by <c>tensorName</c>
/// when the file holds several.</item>
/// </list>
/// Every value must be finite: a NaN or infinity is reported by row and column, never quantized.
/// </summary>
public static partial class VectorFile
{
    private static readonly byte[] s_npyMagic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Reads a matrix, choosing the format by extension; errors (<see cref="InvalidDataException"/>) name the file.</summary>
    public static VectorMatrix Read(string path, string? tensorName = null)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such vectors file", path);
        string ext = Path.GetExtension(path).ToLowerInvariant();
        var m = ext switch
        {
            ".npy" => ReadNpy(path),
            ".fvecs" => ReadFvecs(path),
            ".safetensors" => ReadSafeTensors(path, tensorName),
            _ => throw new InvalidDataException($"{path}: unknown vectors format '{ext}' (use .npy, .fvecs or .safetensors)"),
        };
        CheckFinite(path, m);
        return m;
    }

    /// <summary>Writes <paramref name="m"/> as a version 1.0 <c>.npy</c> file that <c>np.load</c> reads.</summary>
    public static void WriteNpy(string path, VectorMatrix m)
    {
        string dict = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({m.Rows}, {m.Dimension}), }}";
        // Magic (6) + version (2) + length (2) + header, padded with spaces and a newline to a multiple of 64.
        int total = (10 + dict.Length + 1 + 63) / 64 * 64;
        string header = dict.PadRight(total - 10 - 1) + "\n";
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        stream.Write(s_npyMagic);
        stream.Write([1, 0]);
        Span<byte> len = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(len, (ushort)header.Length);
        stream.Write(len);
        stream.Write(Encoding.ASCII.GetBytes(header));
        var data = m.Data.AsSpan(0, checked(m.Rows * m.Dimension));
        const int chunk = 1 << 24;
        for (int i = 0; i < data.Length; i += chunk) stream.Write(MemoryMarshal.AsBytes(data.Slice(i, Math.Min(chunk, data.Length - i))));
    }

    private static VectorMatrix ReadNpy(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        var prefix = new byte[10];
        if (stream.Read(prefix) < 10 || !prefix.AsSpan(0, 6).SequenceEqual(s_npyMagic))
            throw new InvalidDataException($"{path}: not a .npy file (no \\x93NUMPY magic)");
        int major = prefix[6];
        long headerLength;
        if (major == 1) headerLength = BinaryPrimitives.ReadUInt16LittleEndian(prefix.AsSpan(8));
        else if (major is 2 or 3)
        {
            var rest = new byte[2];
            if (stream.Read(rest) < 2) throw new InvalidDataException($"{path}: truncated .npy header");
            headerLength = BinaryPrimitives.ReadUInt32LittleEndian([prefix[8], prefix[9], rest[0], rest[1]]);
        }
        else throw new InvalidDataException($"{path}: .npy version {major}.{prefix[7]} is not supported (1.0, 2.0, 3.0)");
        if (headerLength > 1 << 20 || stream.Position + headerLength > stream.Length)
            throw new InvalidDataException($"{path}: .npy header length {headerLength} runs past the end of the file (truncated?)");
        var headerBytes = new byte[headerLength];
        stream.ReadExactly(headerBytes);
        string header = Encoding.Latin1.GetString(headerBytes);

        string descr = NpyField(path, header, DescrRegex());
        if (NpyField(path, header, FortranRegex()) == "True")
            throw new InvalidDataException($"{path}: fortran_order arrays are not supported; save np.ascontiguousarray(x)");
        var dims = NpyField(path, header, ShapeRegex()).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out long v) ? v
                : throw new InvalidDataException($"{path}: .npy shape entry '{s}' is not a number")).ToArray();
        if (dims.Length != 2) throw new InvalidDataException($"{path}: .npy array has {dims.Length} dimensions, expected 2 (rows, dim)");
        int width = descr switch
        {
            "<f4" => 4,
            "<f8" => 8,
            _ => throw new InvalidDataException($"{path}: .npy dtype '{descr}' is not supported; save x.astype('float32') ('<f4')"),
        };
        var (rows, dim) = CheckSize(path, dims[0], dims[1]);
        long expected = rows * dim * width;
        long available = stream.Length - stream.Position;
        if (available != expected)
            throw new InvalidDataException($"{path}: shape ({rows}, {dim}) of '{descr}' needs {expected} data bytes but the file has {available}" + (available < expected ? " (truncated?)" : ""));
        var data = new float[rows * dim];
        if (width == 4) ReadFloats(stream, data);
        else
        {
            var buffer = new byte[8 * 4096];
            for (long i = 0; i < data.Length;)
            {
                int n = (int)Math.Min(4096, data.Length - i);
                stream.ReadExactly(buffer, 0, n * 8);
                for (int j = 0; j < n; j++) data[i + j] = (float)BinaryPrimitives.ReadDoubleLittleEndian(buffer.AsSpan(j * 8));
                i += n;
            }
        }
        return new VectorMatrix(data, (int)rows, (int)dim);
    }

    private static string NpyField(string path, string header, Regex regex)
    {
        var match = regex.Match(header);
        return match.Success ? match.Groups[1].Value.Trim() : throw new InvalidDataException($"{path}: .npy header '{header.Trim()}' lacks a field matching {regex}");
    }

    [GeneratedRegex(@"'descr'\s*:\s*'([^']*)'")] private static partial Regex DescrRegex();
    [GeneratedRegex(@"'fortran_order'\s*:\s*(True|False)")] private static partial Regex FortranRegex();
    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")] private static partial Regex ShapeRegex();

    private static VectorMatrix ReadFvecs(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        long length = stream.Length;
        if (length == 0) throw new InvalidDataException($"{path}: empty .fvecs file");
        Span<byte> four = stackalloc byte[4];
        if (stream.Read(four) < 4) throw new InvalidDataException($"{path}: truncated .fvecs file ({length} bytes)");
        int dim = BinaryPrimitives.ReadInt32LittleEndian(four);
        if (dim < 1 || dim > 1 << 20) throw new InvalidDataException($"{path}: first vector's dimension {dim} is not plausible");
        long record = 4 + 4L * dim;
        if (length % record != 0)
            throw new InvalidDataException($"{path}: {length} bytes is not a whole number of {dim}-d records ({record} bytes each; truncated?)");
        var (rows, _) = CheckSize(path, length / record, dim);
        var data = new float[rows * dim];
        stream.Position = 0;
        for (long r = 0; r < rows; r++)
        {
            stream.ReadExactly(four);
            int d = BinaryPrimitives.ReadInt32LittleEndian(four);
            if (d != dim) throw new InvalidDataException($"{path}: vector {r} has dimension {d}, the first has {dim}");
            stream.ReadExactly(MemoryMarshal.AsBytes(data.AsSpan((int)(r * dim), dim)));
        }
        return new VectorMatrix(data, (int)rows, dim);
    }

    private static VectorMatrix ReadSafeTensors(string path, string? tensorName)
    {
        var file = SafeTensors.Load(path);
        SafeTensorEntry t;
        if (tensorName != null) t = file[tensorName];
        else
        {
            var candidates = file.Tensors.Where(x => x.DType == SafeTensorDType.F32 && x.Shape.Length == 2).ToList();
            t = candidates.Count == 1 ? candidates[0] : throw new InvalidDataException(
                $"{path}: holds {candidates.Count} 2-D F32 tensors ({string.Join(", ", candidates.Select(c => c.Name))}); name one with --tensor");
        }
        if (t.Shape.Length != 2) throw new InvalidDataException($"{path}: tensor '{t.Name}' has shape [{string.Join(", ", t.Shape)}], expected [rows, dim]");
        var (rows, dim) = CheckSize(path, t.Shape[0], t.Shape[1]);
        return new VectorMatrix(t.AsF32(), (int)rows, (int)dim);
    }

    private static (long Rows, long Dim) CheckSize(string path, long rows, long dim)
    {
        if (rows < 1 || dim < 1) throw new InvalidDataException($"{path}: matrix is {rows} x {dim}; need at least one row and one column");
        if (rows * dim > Array.MaxLength) throw new InvalidDataException($"{path}: {rows} x {dim} is more floats than one array holds");
        return (rows, dim);
    }

    private static void CheckFinite(string path, VectorMatrix m)
    {
        var data = m.Data.AsSpan(0, m.Rows * m.Dimension);
        for (int i = 0; i < data.Length; i++)
            if (!float.IsFinite(data[i]))
                throw new InvalidDataException($"{path}: row {i / m.Dimension}, column {i % m.Dimension} is {data[i]}; vectors must be finite");
    }

    private static void ReadFloats(Stream stream, float[] data)
    {
        const int chunk = 1 << 24;
        for (int i = 0; i < data.Length; i += chunk)
            stream.ReadExactly(MemoryMarshal.AsBytes(data.AsSpan(i, Math.Min(chunk, data.Length - i))));
    }
}
