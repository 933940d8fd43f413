using System.Globalization;
using System.Reflection;
using GenSearch.Bench;

// bench/run [NAME...]: runs the named benchmarks (all when none is named), one "name: value" line a figure.
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

var all = typeof(IBenchmark).Assembly.GetTypes()
    .Where(t => typeof(IBenchmark).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
    .Select(t => (IBenchmark)Activator.CreateInstance(t)!)
    .OrderBy(b => b.Name, StringComparer.Ordinal)
    .ToList();

if (args.Contains("--list") || args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine("usage: bench/run [NAME...]   (all when none is named)");
    foreach (var b in all) Console.WriteLine($"  {b.Name,-12} {b.Description}");
    return 0;
}

var unknown = args.Where(a => all.All(b => b.Name != a)).ToList();
if (unknown.Count > 0)
{
    Console.Error.WriteLine($"bench: unknown benchmark(s): {string.Join(", ", unknown)}; known: {string.Join(", ", all.Select(b => b.Name))}");
    return 2;
}

int failures = 0;
foreach (var bench in all.Where(b => args.Length == 0 || args.Contains(b.Name)))
{
    Console.Error.WriteLine($"# {bench.Name}: {bench.Description}");
    try
    {
        foreach (var (name, value) in bench.Run())
            Console.WriteLine($"{name}: {Format(value)}");
    }
    catch (BenchmarkSkipped skipped)
    {
        Console.Error.WriteLine($"# {bench.Name} skipped: {skipped.Message}");
    }
    catch (Exception e) when (e is not OutOfMemoryException)
    {
        Console.Error.WriteLine($"# {bench.Name} failed: {e}");
        failures++;
    }
}
return failures == 0 ? 0 : 1;

static string Format(double v) => Math.Abs(v) >= 100 ? v.ToString("F1") : Math.Abs(v) >= 1 ? v.ToString("F3") : v.ToString("G4");
