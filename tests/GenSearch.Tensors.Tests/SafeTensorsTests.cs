using System.Buffers.Binary;
using System.Text;
using GenSearch.Tensors.IO;

namespace GenSearch.Tensors.Tests;

public sealed class SafeTensorsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("gensearch-st-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    /// <summary>File bytes laid out exactly as huggingface/safetensors writes them: u64 LE length, space-padded JSON, data.</summary>
    private static byte[] Build(string json, byte[] data, bool pad = true)
    {
        var header = Encoding.UTF8.GetBytes(json).ToList();
        while (pad && header.Count % 8 != 0) header.Add((byte)' ');
        var bytes = new byte[8 + header.Count + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Count);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Count);
        return bytes;
    }

    private static byte[] Floats(params float[] v) { var b = new byte[v.Length * 4]; for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(i * 4), v[i]); return b; }
    private static byte[] Longs(params long[] v) { var b = new byte[v.Length * 8]; for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(i * 8), v[i]); return b; }

    [Fact]
    public void ReadsAFileLaidOutAsPythonWritesIt()
    {
        // What `safetensors.torch.save_file({"w": torch.tensor([[1.,2.],[3.,-4.5]]), "codes": torch.tensor([7, -1, 1 << 40])},
        // path, metadata={"format": "pt"})` produces: the I64 tensor first (larger alignment), then F32.
        string json = "{\"__metadata__\":{\"format\":\"pt\"},\"codes\":{\"dtype\":\"I64\",\"shape\":[3],\"data_offsets\":[0,24]},"
                    + "\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[24,40]}}";
        byte[] data = [.. Longs(7, -1, 1L << 40), .. Floats(1, 2, 3, -4.5f)];
        File.WriteAllBytes(PathOf("py.safetensors"), Build(json, data));

        var file = SafeTensors.Load(PathOf("py.safetensors"));
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal([2L, 2L], file["w"].Shape);
        Assert.Equal([1f, 2f, 3f, -4.5f], file["w"].AsF32());
        Assert.Equal(SafeTensorDType.I64, file["codes"].DType);
        Assert.Equal([7L, -1L, 1L << 40], (long[])file["codes"].Data);
        Assert.Throws<InvalidDataException>(() => file["codes"].AsI32()); // 2^40 does not fit
    }

    [Fact]
    public void RoundTripsEveryDTypeScalarsAndEmptyTensors()
    {
        var rng = new Random(5);
        var f = Enumerable.Range(0, 3 * 5).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        SafeTensorEntry[] tensors =
        [
            SafeTensorEntry.F32("level0.codebook", [3, 5], f),
            SafeTensorEntry.I32("codes", [2, 3], [0, 1, 2, 255, 254, int.MinValue]),
            SafeTensorEntry.I64("count", [], [42L]),
            SafeTensorEntry.F32("empty", [0, 4], []),
        ];
        string path = PathOf("sub/dir/model.safetensors");
        SafeTensors.Save(path, tensors, new Dictionary<string, string> { ["method"] = "rqkmeans", ["levels"] = "3" });
        var back = SafeTensors.Load(path);
        Assert.Equal("rqkmeans", back.Metadata["method"]);
        Assert.Equal(f, back["level0.codebook"].AsF32());
        Assert.Equal([0, 1, 2, 255, 254, int.MinValue], back["codes"].AsI32());
        Assert.Equal([42L], (long[])back["count"].Data);
        Assert.Empty(back["count"].Shape);
        Assert.Equal([0L, 4L], back["empty"].Shape);
        // Header padded so the data starts 8-byte aligned; no temporary file left behind.
        long headerLength = BinaryPrimitives.ReadInt64LittleEndian(File.ReadAllBytes(path));
        Assert.Equal(0, headerLength % 8);
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(path)!));
    }

    [Fact]
    public void SaveReplacesAnExistingFile()
    {
        string path = PathOf("m.safetensors");
        SafeTensors.Save(path, [SafeTensorEntry.F32("a", [1], [1f])]);
        SafeTensors.Save(path, [SafeTensorEntry.F32("b", [2], [2f, 3f])]);
        var back = SafeTensors.Load(path);
        Assert.Null(back.TryGet("a"));
        Assert.Equal([2f, 3f], back["b"].AsF32());
    }

    [Fact]
    public void RejectsBadEntriesAtConstruction()
    {
        Assert.Throws<ArgumentException>(() => SafeTensorEntry.F32("x", [2, 2], [1f, 2f, 3f]));
        Assert.Throws<ArgumentException>(() => SafeTensorEntry.F32("__metadata__", [1], [1f]));
        Assert.Throws<ArgumentException>(() => SafeTensors.Save(PathOf("d.safetensors"), [SafeTensorEntry.F32("x", [1], [1f]), SafeTensorEntry.F32("x", [1], [2f])]));
    }

    public static TheoryData<string, string, string> Corruptions => new()
    {
        // case, header JSON (data = 16 bytes: 4 floats), words the error must contain
        { "not json", "{\"w\":{\"dtype\":\"F32\"", "well-formed JSON" },
        { "unknown dtype", "{\"w\":{\"dtype\":\"F33\",\"shape\":[4],\"data_offsets\":[0,16]}}", "'w': unknown dtype 'F33'" },
        { "unsupported dtype", "{\"w\":{\"dtype\":\"F16\",\"shape\":[8],\"data_offsets\":[0,16]}}", "'w': dtype F16 is not supported" },
        { "shape vs bytes", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,16]}}", "'w': shape [2, 3] of F32 needs 24 bytes" },
        { "gap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", "'b': data_offsets [8, 16] leave a gap" },
        { "past end", "{\"w\":{\"dtype\":\"F32\",\"shape\":[8],\"data_offsets\":[0,32]}}", "'w': data_offsets end 32 is past the 16 data bytes" },
        { "trailing bytes", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", "8 bytes after the last tensor" },
        { "negative shape", "{\"w\":{\"dtype\":\"F32\",\"shape\":[-4],\"data_offsets\":[0,16]}}", "'w': shape entry -4" },
        { "bad metadata", "{\"__metadata__\":{\"n\":3},\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", "__metadata__ value 'n'" },
    };

    [Theory]
    [MemberData(nameof(Corruptions))]
    public void RejectsCorruptHeadersNamingFileAndTensor(string name, string json, string expected)
    {
        string path = PathOf(name.Replace(' ', '_') + ".safetensors");
        File.WriteAllBytes(path, Build(json, Floats(1, 2, 3, 4)));
        var e = Assert.Throws<InvalidDataException>(() => SafeTensors.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void RejectsTruncatedFilesAndImplausibleLengths()
    {
        string path = PathOf("t.safetensors");
        SafeTensors.Save(path, [SafeTensorEntry.F32("w", [4], [1, 2, 3, 4])]);
        byte[] good = File.ReadAllBytes(path);

        File.WriteAllBytes(path, good[..^3]);
        Assert.Contains("past the 13 data bytes", Assert.Throws<InvalidDataException>(() => SafeTensors.Load(path)).Message);

        File.WriteAllBytes(path, good[..20]);
        Assert.Contains("runs past the end", Assert.Throws<InvalidDataException>(() => SafeTensors.Load(path)).Message);

        File.WriteAllBytes(path, good[..5]);
        Assert.Contains("shorter than the 8-byte header length", Assert.Throws<InvalidDataException>(() => SafeTensors.Load(path)).Message);

        var garbage = (byte[])good.Clone();
        BinaryPrimitives.WriteUInt64LittleEndian(garbage, ulong.MaxValue / 3);
        File.WriteAllBytes(path, garbage);
        Assert.Contains("not plausible", Assert.Throws<InvalidDataException>(() => SafeTensors.Load(path)).Message);
    }
}
