using GenSearch.Data;
using GenSearch.Models;
using GenSearch.Nn;
using GenSearch.Training;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;

namespace GenSearch.Web.Tests;

/// <summary>A server on a free loopback port over the homedepot-shaped sample, with an SQLite store of its own.</summary>
public sealed class WebServer : IAsyncDisposable
{
    public static readonly string Sample = Path.Combine(AppContext.BaseDirectory, "Data", "homedepot-sample");

    private WebServer(Server.SearchServer server, string store) { Server = server; Store = store; Http = new HttpClient { BaseAddress = new Uri(Url) }; }

    public Server.SearchServer Server { get; }
    /// <summary>The store expression (sqlite:PATH), for reading what the server stored.</summary>
    public string Store { get; }
    public string Url => Server.Urls[0];
    public HttpClient Http { get; }

    public static async Task<WebServer> StartAsync(string dataDir, string? modelDir = null, string? retriever = null, string? apiKey = null)
    {
        string dir = GenSearch.Tests.TestTemp.Directory("web-store");
        string store = "sqlite:" + Path.Combine(dir, "store.db");
        var server = await GenSearch.Server.SearchServer.StartAsync(new Server.ServerOptions
        {
            DataDir = dataDir, ModelDir = modelDir, Retriever = retriever, Store = store, ApiKey = apiKey,
            Urls = ["http://127.0.0.1:0"], LogLevel = LogLevel.Warning,
        });
        return new WebServer(server, store);
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
    }
}

/// <summary>
/// Debian's Chromium, headless, driven by Playwright for .NET (its driver ships in the NuGet package,
/// so nothing is downloaded). Playwright gives each launch a fresh, empty profile directory.
/// ./run-tests installs Debian's chromium when /usr/bin/chromium is missing; GENSEARCH_CHROMIUM names another.
/// </summary>
public sealed class Chromium : IAsyncLifetime
{
    public static string ExecutablePath => Environment.GetEnvironmentVariable("GENSEARCH_CHROMIUM") is { Length: > 0 } path ? path : "/usr/bin/chromium";

    private IPlaywright? _playwright;
    public IBrowser Browser { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        if (!File.Exists(ExecutablePath))
            throw new InvalidOperationException($"{ExecutablePath}: no Chromium (./run-tests installs Debian's chromium; or set GENSEARCH_CHROMIUM)");
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ExecutablePath, Headless = true, Timeout = 30_000,
            // Without the background-networking flags Chromium keeps trying to reach Google's hosts, which this offline machine refuses.
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync"],
        });
    }

    /// <summary>A new page in a new context (its own storage), failing on any script error the page raises.</summary>
    public async Task<(IPage Page, List<string> Errors)> NewPageAsync()
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1100, Height = 900 } });
        context.SetDefaultTimeout(10_000);
        var page = await context.NewPageAsync();
        var errors = new List<string>();
        page.PageError += (_, message) => { lock (errors) errors.Add(message); };
        page.Console += (_, message) => { if (message.Type == "error") lock (errors) errors.Add(message.Text); };
        return (page, errors);
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.DisposeAsync();
        _playwright?.Dispose();
    }
}

/// <summary>
/// A copy of the sample with a train split (its dev judgments), and a tiny two-stage model trained on it
/// in a few seconds (n-gram towers, then residual k-means IDs and a small generator), so the page can be
/// tested against a generative model: SIDs, explain paths and its training files. Unified training
/// writes codebook-health.tsv and the beam benchmark beam-recall.tsv; two-stage training writes neither,
/// so the fixture writes both in those formats beside the model's own training-log.tsv and health.md.
/// </summary>
public sealed class TinyModel : IDisposable
{
    public TinyModel()
    {
        Root = Directory.CreateTempSubdirectory("gensearch-web-model").FullName;
        DataDir = Path.Combine(Root, "homedepot-sample");
        foreach (var file in Directory.EnumerateFiles(WebServer.Sample, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(DataDir, Path.GetRelativePath(WebServer.Sample, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        File.Copy(Path.Combine(DataDir, "qrels", "dev.tsv"), Path.Combine(DataDir, "qrels", "train.tsv"));
        var set = BeirDataset.Open(DataDir);
        string towers = Path.Combine(Root, "towers");
        ModelDir = Path.Combine(Root, "two-stage");
        NgramTowerTraining.Run(set, towers, new NgramTowerTrainingOptions
        {
            Dim = 16, Temperature = 0.1f, MinPositiveGrade = 2,
            Trainer = new TrainerOptions { BatchSize = 32, Epochs = 4, LearningRate = 0.05f, WarmupSteps = 2, WeightDecay = 0f, ClipNorm = 0f },
        });
        TwoStageTraining.Run(set, towers, ModelDir, new TwoStageTrainingOptions
        {
            Levels = 2, Codes = 8, MaxQueryTokens = 8, BeamSize = 10, Vocabulary = 200, MinPositiveGrade = 2,
            Generator = new EncoderDecoderConfig { Dim = 16, Heads = 2, EncoderLayers = 1, DecoderLayers = 1, FfnDim = 32, Dropout = 0f },
            Trainer = new TrainerOptions { BatchSize = 32, Epochs = 3, LearningRate = 5e-3f, WarmupSteps = 2 },
        });
        File.WriteAllText(Path.Combine(ModelDir, "codebook-health.tsv"),
            "epoch\tchurn\tcollision_rate\tutilisation_1\tperplexity_1\tlargest_bucket_1\tutilisation_2\tperplexity_2\tlargest_bucket_2\n" +
            "0\tNaN\t0.3100\t1.0000\t7.1\t40\t0.8750\t5.2\t61\n" +
            "1\t0.2200\t0.2400\t1.0000\t7.4\t35\t1.0000\t6.3\t44\n" +
            "2\t0.0900\t0.2000\t1.0000\t7.6\t31\t1.0000\t6.9\t38\n");
        File.WriteAllText(Path.Combine(ModelDir, "beam-recall.tsv"), "beam\trecall_at_10\trecall_at_100\n1\t0.21\t0.21\n5\t0.35\t0.40\n10\t0.41\t0.52\n");
    }

    public string Root { get; }
    public string DataDir { get; }
    public string ModelDir { get; }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}
