namespace GenSearch.Quantization;

/// <summary>How <see cref="KMeans"/> updates centroids.</summary>
public enum KMeansMode
{
    /// <summary>Lloyd on up to <see cref="KMeansOptions.MiniBatchAbove"/> training points, mini-batch above.</summary>
    Auto,
    /// <summary>Full-batch Lloyd: assign every point, then move every centroid to its points' mean.</summary>
    Lloyd,
    /// <summary>Mini-batch k-means (Sculley 2010): per batch, centroids step toward their points with rate 1/count.</summary>
    MiniBatch,
}

/// <summary>How <see cref="KMeans"/> picks its first centroids.</summary>
public enum KMeansInit
{
    /// <summary>k-means++ (Arthur and Vassilvitskii 2007): each next centroid is a point drawn with probability proportional to its squared distance to the nearest chosen one.</summary>
    PlusPlus,
    /// <summary>Distinct training points drawn uniformly (faiss's default).</summary>
    Random,
}

/// <summary>k-means parameters with their defaults (in the manner of faiss <c>ClusteringParameters</c>).</summary>
public sealed record KMeansOptions
{
    /// <summary>Number of clusters K. Default 256 (one byte per code).</summary>
    public int Clusters { get; init; } = 256;

    /// <summary>Maximum iterations (epochs in mini-batch mode). Default 25, as faiss.</summary>
    public int Iterations { get; init; } = 25;

    /// <summary>Stops early when the inertia falls by less than this fraction in one iteration. Default 1e-4; 0 never stops early.</summary>
    public double Tolerance { get; init; } = 1e-4;

    /// <summary>Seed of every random choice (sampling, initialisation, batch order): same seed and data, same centroids. Default 1234.</summary>
    public int Seed { get; init; } = 1234;

    /// <summary>Initialisation. Default k-means++.</summary>
    public KMeansInit Init { get; init; } = KMeansInit.PlusPlus;

    /// <summary>Candidates tried per k-means++ step; the one leaving the least inertia wins. 0 (default) means 2 + ln K, as scikit-learn.</summary>
    public int PlusPlusTrials { get; init; }

    /// <summary>
    /// k-means++ draws its centroids from a uniform subsample of at most <c>Clusters * PlusPlusPointsPerCluster</c>
    /// training points: each step reads every candidate point once, so on large samples the
    /// initialisation would otherwise cost as much as many Lloyd iterations. Default 64; 0 uses every training point.
    /// </summary>
    public int PlusPlusPointsPerCluster { get; init; } = 64;

    /// <summary>
    /// Training uses at most <c>Clusters * MaxPointsPerCluster</c> points, drawn uniformly without replacement
    /// (faiss's <c>max_points_per_centroid</c>): more points barely move the centroids and cost time
    /// linearly. Default 256; 0 trains on every point.
    /// </summary>
    public int MaxPointsPerCluster { get; init; } = 256;

    /// <summary>Lloyd, mini-batch, or chosen by training-set size. Default <see cref="KMeansMode.Auto"/>.</summary>
    public KMeansMode Mode { get; init; } = KMeansMode.Auto;

    /// <summary>Points per mini-batch. Default 8192.</summary>
    public int MiniBatchSize { get; init; } = 8192;

    /// <summary>In <see cref="KMeansMode.Auto"/>, training sets larger than this use mini-batch. Default 262,144.</summary>
    public int MiniBatchAbove { get; init; } = 262_144;

    /// <summary>
    /// Balanced k-means when above 0: no cluster takes more than <c>ceil(BalanceFactor * n / K)</c> of the n
    /// points assigned together; points over a full cluster go to their nearest cluster with room.
    /// Must be at least 1 when set. Default 0 (unbalanced).
    /// </summary>
    public double BalanceFactor { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad field.</summary>
    public void Validate()
    {
        if (Clusters < 1) throw new ArgumentException($"Clusters must be at least 1 (got {Clusters})");
        if (Iterations < 1) throw new ArgumentException($"Iterations must be at least 1 (got {Iterations})");
        if (Tolerance < 0 || double.IsNaN(Tolerance)) throw new ArgumentException($"Tolerance must be >= 0 (got {Tolerance})");
        if (MaxPointsPerCluster < 0) throw new ArgumentException($"MaxPointsPerCluster must be >= 0 (got {MaxPointsPerCluster})");
        if (PlusPlusPointsPerCluster < 0) throw new ArgumentException($"PlusPlusPointsPerCluster must be >= 0 (got {PlusPlusPointsPerCluster})");
        if (PlusPlusTrials < 0) throw new ArgumentException($"PlusPlusTrials must be >= 0 (got {PlusPlusTrials})");
        if (MiniBatchSize < 1) throw new ArgumentException($"MiniBatchSize must be at least 1 (got {MiniBatchSize})");
        if (BalanceFactor != 0 && !(BalanceFactor >= 1)) throw new ArgumentException($"BalanceFactor must be 0 (off) or at least 1 (got {BalanceFactor})");
    }

    /// <summary>The bucket cap for <paramref name="n"/> points under <see cref="BalanceFactor"/> (int.MaxValue when unbalanced).</summary>
    public int CapFor(int n) => BalanceFactor == 0 ? int.MaxValue : Math.Max(1, (int)Math.Ceiling(BalanceFactor * n / Clusters));
}
