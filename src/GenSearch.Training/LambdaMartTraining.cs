using GenSearch.Data;
using GenSearch.Models.Ranking;
using GenSearch.Nn;
using GenSearch.Serving;
using GenSearch.Serving.Ranking;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers.LightGbm;

namespace GenSearch.Training;

/// <summary>Settings of <see cref="LambdaMartTraining"/> (LightGBM's lambdarank objective; defaults are LightGBM's usual ones for a few thousand queries).</summary>
public sealed record LambdaMartTrainingOptions
{
    /// <summary>The retriever expression whose top <see cref="Depth"/> are the training candidates.</summary>
    public string Retriever { get; init; } = "bm25+model";
    /// <summary>How <see cref="Retriever"/>'s terms are fused ("zscore" or "rrf"); recorded, and a fused search the ranker reranks must match it.</summary>
    public string Fusion { get; init; } = "zscore";
    /// <summary>Candidates per query.</summary>
    public int Depth { get; init; } = 100;
    /// <summary>The qrels split whose judged queries the ranker trains on: one the feature models never saw (see <see cref="SidCoordTrainingOptions.Split"/>).</summary>
    public string Split { get; init; } = "train";
    /// <summary>Cross-fitting instead of <see cref="Split"/> (see <see cref="SidCoordTrainingOptions.FoldModels"/>).</summary>
    public IReadOnlyDictionary<string, string>? FoldModels { get; init; }
    /// <summary>Train on judgments the feature models were trained on (refused by default: see <see cref="RankingLists.CheckUnseen"/>).</summary>
    public bool AllowSeenQueries { get; init; }
    /// <summary>A unified model directory whose generator's log P(ID | q) is a feature; null = --from's generator, when --from is unified.</summary>
    public string? GeneratorModel { get; init; }
    /// <summary>Match features the ranker does not read (see <see cref="SidCoordTrainingOptions.DropFeatures"/>): their columns are 0 in training, so no tree splits on them.</summary>
    public IReadOnlyList<string>? DropFeatures { get; init; }
    /// <summary>Boosting rounds (trees).</summary>
    public int Trees { get; init; } = 300;
    /// <summary>Leaves per tree.</summary>
    public int Leaves { get; init; } = 31;
    /// <summary>Shrinkage per tree.</summary>
    public double LearningRate { get; init; } = 0.05;
    /// <summary>Fewest training candidates in a leaf.</summary>
    public int MinLeafExamples { get; init; } = 50;
    /// <summary>Seed of LightGBM (and ML.NET's context).</summary>
    public int Seed { get; init; } = 1;
}

/// <summary>
/// The baseline ranker a practitioner would pick: LambdaMART (LightGBM's lambdarank objective through
/// ML.NET's <c>Microsoft.ML.LightGbm</c>) on the match features only, grouped by query. Why LightGBM: it is
/// the standard LambdaMART implementation (histogram splits, NDCG-gradient boosting) and ML.NET wraps it for
/// .NET; ML.NET's own FastTree ranker is an older port of the same algorithm. The trained trees are exported
/// to flat arrays (<see cref="TreeEnsemble"/>, model.safetensors) so serving needs neither ML.NET nor the
/// native library; a test holds the exported trees to ML.NET's own predictions.
/// </summary>
public static class LambdaMartTraining
{
    /// <summary>Whether a run needs --from: unless it reads no model (<see cref="RankingLists.ReadsModels"/>).</summary>
    public static bool NeedsFrom(LambdaMartTrainingOptions options) => RankingLists.ReadsModels(options.Retriever, RankingLists.FeatureColumns(options.DropFeatures));

    /// <summary>Trains and writes the ranker to <paramref name="outDir"/>; returns NaN (LightGBM reports no loss we log).</summary>
    /// <remarks><paramref name="from"/>, the feature model, may be null only for a ranker that reads no model (<see cref="RankingLists.ReadsModels"/>).</remarks>
    public static float Run(BeirDataset set, string? from, string outDir, LambdaMartTrainingOptions options, Action<string>? note = null)
    {
        RankingLists.CheckModelSettings(options.GeneratorModel, null, options.FoldModels);
        var dropped = RankingLists.FeatureColumns(options.DropFeatures);
        string? featureModel = RankingLists.FeatureModel(from, options.Retriever, dropped);
        var dir = new ModelDirectory(outDir);
        Directory.CreateDirectory(outDir);
        string? generatorModel = options.GeneratorModel is null ? null : Path.GetFullPath(options.GeneratorModel);
        if (!options.AllowSeenQueries && RankingLists.ReadsModels(options.Retriever, dropped)) RankingLists.CheckUnseen(set, options.Split, options.FoldModels, featureModel!, generatorModel);
        var fusion = RetrieverSpec.ParseFusion(options.Fusion, "fusion");
        var lists = RankingLists.Build(set, options.Split, options.FoldModels, featureModel, generatorModel, options.Retriever, options.Depth, note, fusion, dropped);
        if (lists.Count == 0) throw new InvalidDataException($"{set.QrelsPath(options.Split)}: no {options.Split} query has a judged item above grade 0 among its candidates");
        var (trees, _) = Train(lists, options, note);
        LambdaMartFormat.Save(dir.WeightsPath, trees);
        var served = RankingLists.ServedModels(options.Retriever, dropped, featureModel, generatorModel);
        dir.WriteConfig(new LambdaMartConfig(LambdaMartFormat.Name, [.. MatchFeatures.Names], served.FeatureModel, served.GeneratorModel, options.Retriever, options.Depth, trees.Trees, ModelKinds.ToJson(options),
            RetrieverSpec.FusionName(fusion)));
        return float.NaN;
    }

    /// <summary>Rows ML.NET reads: one candidate, its query's group and its grade.</summary>
    private sealed class Row
    {
        [VectorType] public float[] Features { get; set; } = [];
        public float Label { get; set; }
        public uint Group { get; set; }
    }

    /// <summary>
    /// Trains LightGBM's lambdarank on <paramref name="lists"/> and returns the exported trees and a function
    /// giving ML.NET's own score of a feature vector (for tests).
    /// </summary>
    public static (TreeEnsemble Trees, Func<float[], float> MlNetScore) Train(IReadOnlyList<RankingList> lists, LambdaMartTrainingOptions options, Action<string>? note = null)
    {
        int F = MatchFeatures.Count;
        var ml = new MLContext(options.Seed);
        var rows = new List<Row>();
        for (int q = 0; q < lists.Count; q++)
            for (int i = 0; i < lists[q].Ids.Length; i++)
                rows.Add(new Row { Features = lists[q].Features.AsSpan(i * F, F).ToArray(), Label = lists[q].Grades[i], Group = (uint)q });
        var schema = SchemaDefinition.Create(typeof(Row));
        schema[nameof(Row.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, F);
        var data = ml.Data.LoadFromEnumerable(rows, schema);
        var trainer = ml.Ranking.Trainers.LightGbm(new LightGbmRankingTrainer.Options
        {
            LabelColumnName = nameof(Row.Label), FeatureColumnName = nameof(Row.Features), RowGroupColumnName = "GroupKey",
            NumberOfIterations = options.Trees, NumberOfLeaves = options.Leaves, LearningRate = options.LearningRate,
            MinimumExampleCountPerLeaf = options.MinLeafExamples, Seed = options.Seed, NumberOfThreads = Environment.ProcessorCount,
        });
        var pipeline = ml.Transforms.Conversion.MapValueToKey("GroupKey", nameof(Row.Group)).Append(trainer);
        note?.Invoke($"LambdaMART: LightGBM lambdarank on {rows.Count:N0} candidates of {lists.Count:N0} queries, {options.Trees} trees of {options.Leaves} leaves");
        var model = pipeline.Fit(data);
        var ensemble = model.LastTransformer.Model.TrainedTreeEnsemble;
        var trees = Export(ensemble);
        // Made on first use (tests): the row type's vector size is given by the schema, as for training.
        var engine = new Lazy<PredictionEngine<Row, Prediction>>(() => ml.Model.CreatePredictionEngine<Row, Prediction>(model.LastTransformer, inputSchemaDefinition: schema));
        return (trees, x => engine.Value.Predict(new Row { Features = x }).Score);
    }

    private sealed class Prediction
    {
        public float Score { get; set; }
    }

    /// <summary>ML.NET's tree ensemble as flat arrays (numerical splits only: every feature is a number).</summary>
    public static TreeEnsemble Export(Microsoft.ML.Trainers.FastTree.RegressionTreeEnsemble ensemble)
    {
        var nodeStart = new List<int> { 0 };
        var leafStart = new List<int> { 0 };
        var left = new List<int>();
        var right = new List<int>();
        var feature = new List<int>();
        var threshold = new List<float>();
        var leaves = new List<float>();
        foreach (var tree in ensemble.Trees)
        {
            for (int n = 0; n < tree.NumberOfNodes; n++)
            {
                if (tree.CategoricalSplitFlags[n]) throw new InvalidDataException($"LightGBM made a categorical split at node {n}; the match features are all numerical");
                left.Add(tree.LeftChild[n]);
                right.Add(tree.RightChild[n]);
                feature.Add(tree.NumericalSplitFeatureIndexes[n]);
                threshold.Add(tree.NumericalSplitThresholds[n]);
            }
            leaves.AddRange(tree.LeafValues.Select(v => (float)v));
            nodeStart.Add(left.Count);
            leafStart.Add(leaves.Count);
        }
        return new TreeEnsemble([.. nodeStart], [.. leafStart], [.. left], [.. right], [.. feature], [.. threshold], [.. leaves],
            [.. ensemble.TreeWeights.Select(w => (float)w)], (float)ensemble.Bias);
    }
}
