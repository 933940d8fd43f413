using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using GenSearch.Quantization;
using GenSearch.Tensors.IO;

namespace GenSearch.Cli;

/// <summary><c>gensearch tokenize</c>: vectors in, semantic IDs and the codebook health report out.</summary>
internal static class TokenizeCommand
{
    public static Command Create()
    {
        var vectors = new Option<FileInfo>("--vectors") { Description = "Float32 matrix of item vectors: .npy (np.save of a float32 [rows, dim] array), .fvecs, or .safetensors (a model's item vectors).", Required = true };
        var tensor = new Option<string?>("--tensor") { Description = "Tensor to read when a .safetensors file holds several." };
        var ids = new Option<FileInfo?>("--ids") { Description = "Item ids, one per line in row order (default: row numbers)." };
        var method = new Option<string>("--method") { Description = "Quantization method.", DefaultValueFactory = _ => ResidualKMeans.MethodName };
        method.AcceptOnlyFromAmong([.. QuantizerMethods.Names]);
        var levels = new Option<int>("--levels") { Description = "Codes per item (ID length before the disambiguating token).", DefaultValueFactory = _ => 3 };
        var codes = new Option<int>("--codes") { Description = "Codebook size per level.", DefaultValueFactory = _ => 256 };
        var seed = new Option<int>("--seed") { Description = "Seed of every random choice.", DefaultValueFactory = _ => 1234 };
        var balance = new Option<double>("--balance") { Description = "Cap buckets at ceil(BALANCE x items / codes) per level (balanced k-means); 0 = off, else >= 1.", DefaultValueFactory = _ => 0 };
        var mitigation = new Option<string>("--mitigation") { Description = "Hourglass mitigation: none, remove-level, drop-top (variable-length IDs), merge-top.", DefaultValueFactory = _ => "none" };
        mitigation.AcceptOnlyFromAmong("none", "remove-level", "drop-top", "merge-top");
        var mitigationLevel = new Option<int>("--mitigation-level") { Description = "Level to mitigate; -1 = the most concentrated after the first.", DefaultValueFactory = _ => -1 };
        var topTokens = new Option<int>("--top-tokens") { Description = "Tokens to drop or merge; 0 = those over 4x a uniform share.", DefaultValueFactory = _ => 0 };
        var suffix = new Option<string>("--suffix") { Description = "Disambiguating last token on every ID (always) or only on colliding ones (collisions).", DefaultValueFactory = _ => "always" };
        suffix.AcceptOnlyFromAmong("always", "collisions");
        var output = new Option<DirectoryInfo>("--out") { Description = "Output directory: sids.tsv, sids.safetensors, quantizer.safetensors, health.json, health.md, training.tsv.", Required = true };

        var command = new Command("tokenize", "Quantize item vectors into semantic IDs and report codebook health.");
        foreach (var o in new Option[] { vectors, tensor, ids, method, levels, codes, seed, balance, mitigation, mitigationLevel, topTokens, suffix, output })
            command.Options.Add(o);
        command.SetAction(r => CliSupport.Guard(() =>
        {
            CliSupport.Range("--levels", r.GetValue(levels), 1, 16);
            CliSupport.Range("--codes", r.GetValue(codes), 2, 65536);
            if (r.GetValue(balance) is var bal && bal != 0) CliSupport.Range("--balance", bal, 1, 1000);
            CliSupport.Range("--top-tokens", r.GetValue(topTokens), 0);
            CliSupport.Range("--mitigation-level", r.GetValue(mitigationLevel), -1, 15);
            try
            {
                return Run(r.GetValue(vectors)!.FullName, r.GetValue(tensor), r.GetValue(ids)?.FullName, r.GetValue(method)!,
                    new QuantizerSpec(0, r.GetValue(levels), r.GetValue(codes), r.GetValue(seed), r.GetValue(balance)),
                    new SemanticIdOptions
                    {
                        Mitigation = r.GetValue(mitigation) switch
                        {
                            "remove-level" => HourglassMitigation.RemoveLevel,
                            "drop-top" => HourglassMitigation.DropTopTokens,
                            "merge-top" => HourglassMitigation.MergeTopTokens,
                            _ => HourglassMitigation.None,
                        },
                        MitigationLevel = r.GetValue(mitigationLevel),
                        TopTokens = r.GetValue(topTokens),
                        AlwaysAppendSuffix = r.GetValue(suffix) == "always",
                    },
                    r.GetValue(output)!.FullName);
            }
            catch (ArgumentException e)
            {
                // The quantizers check what the flags above cannot (a level to mitigate beyond --levels, say).
                throw new CliException(e.Message);
            }
        }));
        return command;
    }

    private static int Run(string vectorsPath, string? tensor, string? idsPath, string method, QuantizerSpec spec, SemanticIdOptions sidOptions, string outDir)
    {
        var clock = Stopwatch.StartNew();
        var m = VectorFile.Read(vectorsPath, tensor);
        string[]? itemIds = null;
        if (idsPath != null)
        {
            itemIds = File.ReadAllLines(idsPath);
            if (itemIds.Length != m.Rows) throw new InvalidDataException($"{idsPath}: {itemIds.Length} ids for {m.Rows} vectors in {vectorsPath}");
        }
        Console.Error.WriteLine($"read {m.Rows} x {m.Dimension} vectors from {vectorsPath} ({clock.Elapsed.TotalSeconds:F1} s)");

        var quantizer = QuantizerMethods.Create(method, spec with { Dimension = m.Dimension });
        var steps = quantizer.Train(m.Data, m.Rows);
        Console.Error.WriteLine($"trained {method} {spec.Levels}x{spec.Codes} in {steps.Sum(s => s.Seconds):F1} s ({steps.Count} iterations)");

        var codes = new int[m.Rows * quantizer.Levels];
        if (quantizer is ResidualKMeans rq && spec.BalanceFactor > 0) rq.EncodeBalanced(m.Data, m.Rows, codes);
        else quantizer.Encode(m.Data, m.Rows, codes);
        var ids = SemanticIds.Build(codes, m.Rows, quantizer.CodebookSizes, sidOptions);
        var health = CodebookHealth.Compute(ids);

        // Relative reconstruction error: how much of the vectors' energy the codes leave unexplained.
        var back = new float[m.Data.Length];
        quantizer.Decode(codes, m.Rows, back);
        double err = 0, energy = 0;
        for (int i = 0; i < back.Length; i++) { double diff = m.Data[i] - back[i]; err += diff * diff; energy += (double)m.Data[i] * m.Data[i]; }

        Directory.CreateDirectory(outDir);
        ids.WriteTsv(Path.Combine(outDir, "sids.tsv"), itemIds);
        SafeTensors.Save(Path.Combine(outDir, "sids.safetensors"), ids.ToTensors(),
            new Dictionary<string, string> { ["method"] = method, ["vectors"] = vectorsPath });
        QuantizerMethods.Save(quantizer, Path.Combine(outDir, "quantizer.safetensors"));
        string table = health.ToTable();
        File.WriteAllText(Path.Combine(outDir, "health.md"), table);
        File.WriteAllText(Path.Combine(outDir, "health.json"), health.ToJson());
        using (var log = new StreamWriter(Path.Combine(outDir, "training.tsv")))
        {
            log.WriteLine("level\titeration\tobjective\tchanged\tempty_codes\tseconds");
            foreach (var s in steps)
                log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{s.Level}\t{s.Iteration}\t{s.Objective:G9}\t{s.Changed}\t{s.EmptyCodes}\t{s.Seconds:F4}"));
        }

        Console.WriteLine(table);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"relative reconstruction error: {(energy > 0 ? err / energy : 0):F4}"));
        if (ids.MitigatedTokens.Count > 0) Console.WriteLine($"hourglass mitigation {sidOptions.Mitigation}: tokens {string.Join(" ", ids.MitigatedTokens)}");
        Console.WriteLine($"wrote {outDir}/sids.tsv, sids.safetensors, quantizer.safetensors, health.md, health.json, training.tsv ({clock.Elapsed.TotalSeconds:F1} s)");
        return 0;
    }
}
