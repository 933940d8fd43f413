using GenSearch.Serving;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace GenSearch.Server;

/// <summary>What serves: the retriever, and for a trained model its kind, config and training files.</summary>
/// <param name="Retriever">The retriever's name, e.g. "bm25", "generative" or "bm25+generative".</param>
/// <param name="Model">The model's training record; null when BM25 alone serves.</param>
/// <param name="HowToTrain">When BM25 alone serves: the commands that train a model and serve it.</param>
/// <param name="Error">When the model's directory can no longer be read (it was served, then changed on disk).</param>
public sealed record ModelResponse(string Retriever, TrainingReport? Model, string? HowToTrain, string? Error);

/// <summary>GET /model: read-only; the training files are read on each request, so a page shows what is on disk now.</summary>
internal static class ModelEndpoints
{
    public static string HowToTrain(string dataDir) =>
        $"./gensearch train --data {dataDir} --model unified --out runs/unified, then ./gensearch serve --data {dataDir} --model runs/unified";

    public static void Map(IEndpointRouteBuilder app, ServedCatalog served, ServerOptions options)
    {
        app.MapGet("/model", () =>
            {
                if (options.ModelDir is null) return new ModelResponse(served.Catalog.Name, null, HowToTrain(options.DataDir), null);
                try { return new ModelResponse(served.Catalog.Name, TrainingFiles.Read(options.ModelDir), null, null); }
                catch (Exception e) when (e is IOException or InvalidDataException or System.Text.Json.JsonException)
                {
                    return new ModelResponse(served.Catalog.Name, null, null, e.Message);
                }
            })
            .WithName("Model").WithSummary("The served model: kind, config, training curves, codebook health, recall against beam size")
            .WithDescription("Read from the model directory's training-log.tsv, codebook-health.tsv, health.md and beam-recall.tsv; a missing file is null.")
            .Produces<ModelResponse>();
    }
}
