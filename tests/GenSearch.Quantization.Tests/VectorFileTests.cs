using System.Buffers.Binary;
using System.Text;
using GenSearch.Tensors.IO;

namespace GenSearch.Quantization.Tests;

public sealed class VectorFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("gensearch-vec-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);
    private string PathOf(string name) => Path.Combine(_dir, name);

    /// <summary>A .npy v1.0 file as numpy writes it, with the given header dict and data bytes.</summary>
    private static byte[] Npy(string dict, byte[] data)
    {
        int total = (10 + dict.Length + 1 + 63) / 64 * 64;
        string header = dict.PadRight(total - 11) + "\n";
        var bytes = new List<byte> { 0x93 };
        bytes.AddRange(Encoding.ASCII.GetBytes("NUMPY"));
        bytes.AddRange([1, 0, (byte)(header.Length & 0xff), (byte)(header.Length >> 8)]);
        bytes.AddRange(Encoding.ASCII.GetBytes(header));
        bytes.AddRange(data);
        return [.. bytes];
    }

    private static byte[] Floats(params float[] v) { var b = new byte[v.Length * 4]; for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(i * 4), v[i]); return b; }

    [Fact]
    public void NpyRoundTripsAndReadsFloat64()
    {
        var m = new VectorMatrix([1, 2, 3, 4, 5, 6], 2, 3);
        VectorFile.WriteNpy(PathOf("a.npy"), m);
        var back = VectorFile.Read(PathOf("a.npy"));
        Assert.Equal((2, 3), (back.Rows, back.Dimension));
        Assert.Equal(m.Data, back.Data);
        Assert.Equal(0, (File.ReadAllBytes(PathOf("a.npy")).Length - 24) % 64); // header padded to 64 bytes

        var d = new byte[16];
        BinaryPrimitives.WriteDoubleLittleEndian(d, 0.5);
        BinaryPrimitives.WriteDoubleLittleEndian(d.AsSpan(8), -2.25);
        File.WriteAllBytes(PathOf("d.npy"), Npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }", d));
        Assert.Equal([0.5f, -2.25f], VectorFile.Read(PathOf("d.npy")).Data);
    }

    [Fact]
    public void ReadsFvecsAndSafeTensors()
    {
        var bytes = new List<byte>();
        foreach (var row in new[] { new float[] { 1, 2 }, [3, 4], [5, 6] })
        {
            bytes.AddRange(BitConverter.GetBytes(2));
            bytes.AddRange(Floats(row));
        }
        File.WriteAllBytes(PathOf("v.fvecs"), [.. bytes]);
        var f = VectorFile.Read(PathOf("v.fvecs"));
        Assert.Equal((3, 2), (f.Rows, f.Dimension));
        Assert.Equal([1f, 2, 3, 4, 5, 6], f.Data);

        SafeTensors.Save(PathOf("m.safetensors"), [SafeTensorEntry.F32("items", [2, 2], [1, 2, 3, 4]), SafeTensorEntry.F32("queries", [1, 2], [5, 6])]);
        Assert.Contains("name one with --tensor", Assert.Throws<InvalidDataException>(() => VectorFile.Read(PathOf("m.safetensors"))).Message);
        Assert.Equal([1f, 2, 3, 4], VectorFile.Read(PathOf("m.safetensors"), "items").Data);
    }

    public static TheoryData<string, string, byte[], string> BadFiles => new()
    {
        { "magic.npy", "not a .npy", Encoding.ASCII.GetBytes("hello world, this is text"), "" },
        { "trunc.npy", "needs 24 data bytes but the file has 20 (truncated?)", Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", Floats(1, 2, 3, 4, 5)), "" },
        { "int.npy", "dtype '<i4' is not supported", Npy("{'descr': '<i4', 'fortran_order': False, 'shape': (1, 1), }", Floats(1)), "" },
        { "cube.npy", "3 dimensions, expected 2", Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1), }", Floats(1)), "" },
        { "fortran.npy", "fortran_order arrays are not supported", Npy("{'descr': '<f4', 'fortran_order': True, 'shape': (1, 1), }", Floats(1)), "" },
        { "nan.npy", "row 1, column 0 is NaN", Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", Floats(1, 2, float.NaN, 4)), "" },
        { "trunc.fvecs", "not a whole number of 2-d records", [.. BitConverter.GetBytes(2), .. Floats(1, 2), .. BitConverter.GetBytes(2), .. Floats(3)], "" },
        { "ragged.fvecs", "vector 1 has dimension 1, the first has 2", [.. BitConverter.GetBytes(2), .. Floats(1, 2), .. BitConverter.GetBytes(1), .. Floats(3), .. Floats(4)], "" },
        { "x.csv", "unknown vectors format '.csv'", Floats(1), "" },
    };

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void BadFilesGiveErrorsNamingTheFileAndTheProblem(string name, string expected, byte[] bytes, string unused)
    {
        _ = unused;
        File.WriteAllBytes(PathOf(name), bytes);
        var e = Assert.Throws<InvalidDataException>(() => VectorFile.Read(PathOf(name)));
        Assert.StartsWith(PathOf(name) + ":", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void MissingFileSaysSo()
        => Assert.Contains("no such vectors file", Assert.Throws<FileNotFoundException>(() => VectorFile.Read(PathOf("none.npy"))).Message);
}
