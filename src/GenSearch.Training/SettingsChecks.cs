using GenSearch.Nn;

namespace GenSearch.Training;

/// <summary>
/// The ranges of every kind's settings, checked before any work starts: each problem names the
/// setting as config.json spells it, its value and its valid range.
/// </summary>
public static class SettingsChecks
{
    /// <summary>Problems of the training loop's settings.</summary>
    public static IEnumerable<string> Trainer(TrainerOptions t)
    {
        var c = new Checker("trainer.");
        c.AtLeast("epochs", t.Epochs, 1);
        c.AtLeast("batch_size", t.BatchSize, 1);
        c.Above("learning_rate", t.LearningRate, 0);
        c.AtLeast("min_learning_rate", t.MinLearningRate, 0);
        c.AtLeast("warmup_steps", t.WarmupSteps, 0);
        c.AtLeast("weight_decay", t.WeightDecay, 0);
        c.AtLeast("clip_norm", t.ClipNorm, 0);
        c.AtLeast("checkpoint_every", t.CheckpointEvery, 0);
        return c.Problems;
    }

    /// <summary>Problems of SID-Coord ranker settings.</summary>
    public static IEnumerable<string> SidCoord(SidCoordTrainingOptions o)
    {
        var c = new Checker("");
        c.AtLeast("depth", o.Depth, 1);
        if (string.IsNullOrWhiteSpace(o.Split)) c.Problems.Add("split is empty; it names a qrels file, e.g. \"train\"");
        c.AtLeast("dim", o.Dim, 1);
        c.AtLeast("hidden", o.Hidden, 1);
        c.AtLeast("item_buckets", o.ItemBuckets, 1);
        c.AtLeast("word_buckets", o.WordBuckets, 1);
        // Each fold keeps its own item tables (item_buckets + SID rows, each of dim floats): 16 is far past any
        // measured use (2, the default; 4 was worse) and keeps a mistyped count from writing gigabytes.
        c.Between("memory_folds", o.MemoryFolds, 1, 16);
        ModelPath(c, "sid_model", o.SidModel);
        ModelPath(c, "generator_model", o.GeneratorModel);
        FoldModels(c, o.FoldModels);
        Retriever(c, o.Retriever);
        c.Between("validation_share", o.ValidationShare, 0, 0.5);
        Fusion(c, o.Fusion);
        DropFeatures(c, o.DropFeatures, itemsLeft: o.Items != GenSearch.Models.Ranking.ItemRepresentation.None);
        if (!Enum.IsDefined(o.Items)) c.Problems.Add($"items is {o.Items}; it must be one of {string.Join(", ", Enum.GetNames<GenSearch.Models.Ranking.ItemRepresentation>())}");
        return c.Problems.Concat(Trainer(o.Trainer));
    }

    /// <summary>Problems of LambdaMART settings.</summary>
    public static IEnumerable<string> LambdaMart(LambdaMartTrainingOptions o)
    {
        var c = new Checker("");
        c.AtLeast("depth", o.Depth, 1);
        if (string.IsNullOrWhiteSpace(o.Split)) c.Problems.Add("split is empty; it names a qrels file, e.g. \"train\"");
        c.AtLeast("trees", o.Trees, 1);
        c.AtLeast("leaves", o.Leaves, 2);
        c.Above("learning_rate", o.LearningRate, 0);
        c.AtLeast("min_leaf_examples", o.MinLeafExamples, 1);
        ModelPath(c, "generator_model", o.GeneratorModel);
        FoldModels(c, o.FoldModels);
        Retriever(c, o.Retriever);
        Fusion(c, o.Fusion);
        DropFeatures(c, o.DropFeatures, itemsLeft: false);
        return c.Problems;
    }

    /// <summary>drop_features names match features, and leaves the ranker something to read (SID-Coord's item tables count).</summary>
    private static void DropFeatures(Checker c, IReadOnlyList<string>? names, bool itemsLeft)
    {
        int[] columns;
        try { columns = RankingLists.FeatureColumns(names); }
        catch (ArgumentException e) { c.Problems.Add(e.Message); return; }
        if (!itemsLeft && columns.Length == GenSearch.Serving.Ranking.MatchFeatures.Count)
            c.Problems.Add("drop_features drops every match feature and the ranker reads nothing else");
    }

    /// <summary>A model directory setting, when given, names something: an empty string is a typo, not "none" (null is).</summary>
    private static void ModelPath(Checker c, string name, string? path)
    {
        if (path is not null && string.IsNullOrWhiteSpace(path)) c.Problems.Add($"{name} is empty; give a model directory or leave the setting out");
    }

    private static void FoldModels(Checker c, IReadOnlyDictionary<string, string>? folds)
    {
        foreach (var (fold, path) in folds ?? new Dictionary<string, string>())
            ModelPath(c, $"fold_models.{fold}", path);
    }

    private static void Retriever(Checker c, string retriever)
    {
        try { GenSearch.Serving.RetrieverSpec.Parse(retriever ?? ""); }
        catch (ArgumentException e) { c.Problems.Add($"retriever: {e.Message.Replace("--retriever ", "", StringComparison.Ordinal)}"); }
    }

    private static void Fusion(Checker c, string fusion)
    {
        if (!GenSearch.Serving.RetrieverSpec.FusionNames.Contains(fusion?.ToLowerInvariant()))
            c.Problems.Add($"fusion is '{fusion}'; it must be one of {string.Join(", ", GenSearch.Serving.RetrieverSpec.FusionNames)}");
    }

    /// <summary>Problems of n-gram tower settings.</summary>
    public static IEnumerable<string> NgramTowers(NgramTowerTrainingOptions o)
    {
        var c = new Checker("");
        c.AtLeast("dim", o.Dim, 1);
        c.AtLeast("judged_negatives", o.JudgedNegatives, 0);
        Towers(c, o.Temperature, o.MinPositiveGrade, o.IndexingWeight, o.IndexingPairsPerItem, o.HardNegatives, o.HardNegativePool,
            o.ListwiseWeight, o.ListwiseCandidates, o.PseudoQueries);
        return c.Problems.Concat(Trainer(o.Trainer));
    }

    /// <summary>Problems of transformer tower settings.</summary>
    public static IEnumerable<string> TransformerTowers(TwoTowerTrainingOptions o)
    {
        var c = new Checker("");
        c.AtLeast("encoder.dim", o.Encoder.Dim, 1);
        c.AtLeast("encoder.heads", o.Encoder.Heads, 1);
        if (o.Encoder.Heads > 0 && o.Encoder.Dim % o.Encoder.Heads != 0) c.Problems.Add($"encoder.dim {o.Encoder.Dim} must be a multiple of encoder.heads {o.Encoder.Heads}");
        c.AtLeast("encoder.layers", o.Encoder.Layers, 1);
        c.AtLeast("encoder.ffn_dim", o.Encoder.FfnDim, 1);
        c.AtLeast("encoder.output_dim", o.Encoder.OutputDim, 1);
        c.Between("encoder.dropout", o.Encoder.Dropout, 0, 0.99);
        c.AtLeast("vocabulary", o.Vocabulary, 16);
        c.AtLeast("max_query_tokens", o.MaxQueryTokens, 3);
        c.AtLeast("max_item_tokens", o.MaxItemTokens, 3);
        Towers(c, o.Temperature, o.MinPositiveGrade, o.IndexingWeight, o.IndexingPairsPerItem, o.HardNegatives, o.HardNegativePool,
            o.ListwiseWeight, o.ListwiseCandidates, o.PseudoQueries);
        return c.Problems.Concat(Trainer(o.Trainer));
    }

    /// <summary>Problems of two-stage settings.</summary>
    public static IEnumerable<string> TwoStage(TwoStageTrainingOptions o)
    {
        var c = new Checker("");
        c.Between("levels", o.Levels, 1, 16);
        c.Between("codes", o.Codes, 2, 65536);
        if (!Quantization.QuantizerMethods.Names.Contains(o.Quantizer))
            c.Problems.Add($"quantizer '{o.Quantizer}' is unknown (known: {string.Join(", ", Quantization.QuantizerMethods.Names)})");
        c.AtLeast("generator.dim", o.Generator.Dim, 1);
        c.AtLeast("generator.heads", o.Generator.Heads, 1);
        if (o.Generator.Heads > 0 && o.Generator.Dim % o.Generator.Heads != 0) c.Problems.Add($"generator.dim {o.Generator.Dim} must be a multiple of generator.heads {o.Generator.Heads}");
        c.AtLeast("generator.encoder_layers", o.Generator.EncoderLayers, 1);
        c.AtLeast("generator.decoder_layers", o.Generator.DecoderLayers, 1);
        c.AtLeast("generator.ffn_dim", o.Generator.FfnDim, 1);
        c.Between("generator.dropout", o.Generator.Dropout, 0, 0.99);
        c.AtLeast("max_query_tokens", o.MaxQueryTokens, 3);
        c.AtLeast("vocabulary", o.Vocabulary, 16);
        c.AtLeast("min_positive_grade", o.MinPositiveGrade, 1);
        c.AtLeast("indexing_weight", o.IndexingWeight, 0);
        c.AtLeast("indexing_pairs_per_item", o.IndexingPairsPerItem, 0);
        c.Between("beam_size", o.BeamSize, 1, 10_000);
        PseudoQueries(c, o.PseudoQueries);
        return c.Problems.Concat(Trainer(o.Trainer));
    }

    /// <summary>Problems of unified-model settings.</summary>
    public static IEnumerable<string> Unified(UnifiedTrainingOptions o)
    {
        var c = new Checker("");
        c.AtLeast("dim", o.Dim, 1);
        c.Between("levels", o.Levels, 1, 8);
        c.Between("codes", o.Codes, 2, 4096);
        c.AtLeast("decoder_hidden", o.DecoderHidden, 1);
        c.Above("decoder_temperature", o.DecoderTemperature, 0);
        c.AtLeast("commitment_weight", o.CommitmentWeight, 0);
        c.AtLeast("contrast_weight", o.ContrastWeight, 0);
        c.AtLeast("vq_weight", o.VqWeight, 0);
        c.AtLeast("ntp_weight", o.NtpWeight, 0);
        c.AtLeast("judged_negatives", o.JudgedNegatives, 0);
        c.Between("corpus_negatives", o.CorpusNegatives, 0, 64);
        c.AtLeast("dense_learning_rate_scale", o.DenseLearningRateScale, 0);
        c.Between("beam_size", o.BeamSize, 1, 10_000);
        c.AtLeast("latent_weight", o.LatentWeight, 0);
        if (o.SteeredLevels is { } steered) c.AtLeast("steered_levels", steered, 0);
        // -1 is joint SimVQ; an epoch the run never starts would freeze nothing and is refused.
        c.Between("freeze_ids_at", o.FreezeIdsAt, -1, o.Trainer.Epochs - 1);
        Towers(c, o.Temperature, o.MinPositiveGrade, o.IndexingWeight, o.IndexingPairsPerItem, 0, 1, o.ListwiseWeight, o.ListwiseCandidates, o.PseudoQueries);
        return c.Problems.Concat(Trainer(o.Trainer));
    }

    /// <summary>Problems of SPO settings.</summary>
    public static IEnumerable<string> Spo(SpoTrainingOptions o)
    {
        var c = new Checker("");
        if (!SpoTraining.Modes.Contains(o.Mode)) c.Problems.Add($"mode '{o.Mode}' is unknown (known: {string.Join(", ", SpoTraining.Modes)})");
        if (o.Unjudged is not ("negative" or "unknown")) c.Problems.Add($"unjudged '{o.Unjudged}' is unknown (known: negative, unknown)");
        c.AtLeast("group_size", o.GroupSize, 2);
        c.AtLeast("beam_size", o.BeamSize, o.GroupSize);
        c.Between("logged_candidates", o.LoggedCandidates, 0, o.GroupSize - 1);
        if (o.LoggedCandidates > 0 && o.Ranker is not null) c.Problems.Add("logged_candidates is given with a ranker: the ranker reads the beam's scores, which logged items off the beam do not have");
        if (o.LoggedCandidates > 0 && o.Mode == "dpo") c.Problems.Add("logged_candidates is given with mode dpo: DPO reads logged pairs only; the candidates are policy mode's");
        c.Above("temperature", o.Temperature, 0);
        c.AtLeast("kl_weight", o.KlWeight, 0);
        c.Above("dpo_beta", o.DpoBeta, 0);
        c.AtLeast("feedback_weight", o.FeedbackWeight, 0);
        c.AtLeast("system_weight", o.SystemWeight, 0);
        if (o.Ranker is null && o.FeedbackWeight == 0) c.Problems.Add("feedback_weight is 0 and no ranker is given: there is no reward");
        ModelPath(c, "ranker", o.Ranker);
        if (o.Ranker is not null && o.Mode == "dpo") c.Problems.Add("ranker is given with mode dpo: DPO learns from logged pairs only; a system reward needs mode policy");
        c.AtLeast("min_positive_grade", o.MinPositiveGrade, 1);
        c.AtLeast("dense_learning_rate_scale", o.DenseLearningRateScale, 0);
        foreach (var (signal, weight) in o.SignalWeights)
            if (!float.IsFinite(weight)) c.Problems.Add($"signal_weights.{signal} is {weight}; it must be a number");
        return c.Problems.Concat(Trainer(o.Trainer));
    }

    /// <summary>The settings both tower kinds share (same names in both records).</summary>
    private static void Towers(Checker c, float temperature, int minPositiveGrade, float indexingWeight, int indexingPairsPerItem,
        int hardNegatives, int hardNegativePool, float listwiseWeight, int listwiseCandidates, PseudoQueryOptions? pseudoQueries)
    {
        c.Above("temperature", temperature, 0);
        c.AtLeast("min_positive_grade", minPositiveGrade, 1);
        c.AtLeast("indexing_weight", indexingWeight, 0);
        c.AtLeast("indexing_pairs_per_item", indexingPairsPerItem, 0);
        c.AtLeast("hard_negatives", hardNegatives, 0);
        c.AtLeast("hard_negative_pool", hardNegativePool, 1);
        c.AtLeast("listwise_weight", listwiseWeight, 0);
        c.AtLeast("listwise_candidates", listwiseCandidates, 2);
        PseudoQueries(c, pseudoQueries);
    }

    private static void PseudoQueries(Checker c, PseudoQueryOptions? p)
    {
        if (p is null) return;
        c.AtLeast("pseudo_queries.max_words", p.MaxWords, 1);
        c.Between("pseudo_queries.whole_title_share", p.WholeTitleShare, 0, 1);
        c.Between("pseudo_queries.contiguous_share", p.ContiguousShare, 0, 1);
    }

    private sealed class Checker(string prefix)
    {
        public List<string> Problems { get; } = [];
        public void AtLeast(string name, double value, double min) { if (!(value >= min)) Problems.Add($"{prefix}{name} is {value}; it must be at least {min}"); }
        public void Above(string name, double value, double min) { if (!(value > min)) Problems.Add($"{prefix}{name} is {value}; it must be above {min}"); }
        public void Between(string name, double value, double min, double max) { if (!(value >= min && value <= max)) Problems.Add($"{prefix}{name} is {value}; it must lie in [{min}, {max}]"); }
    }
}
