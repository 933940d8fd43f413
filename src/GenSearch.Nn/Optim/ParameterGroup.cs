namespace GenSearch.Nn;

/// <summary>
/// A set of parameters, chosen by name, that <see cref="AdamW"/> updates with its own learning-rate multiplier,
/// weight decay and update kind (dense or sparse). Every parameter belongs to exactly one group: the one
/// explicit group that matches it, or else the implicit default group (multiplier 1, the optimizer's weight
/// decay, dense updates except for <see cref="GenSearch.Tensors.Tensor.RowSparse"/> parameters). A parameter that
/// two explicit groups match, or an explicit group that matches nothing, is an error.
/// </summary>
/// <example><c>ParameterGroup.ByPrefix("embeddings", "item_table.") with { Sparse = true, WeightDecay = 0 }</c></example>
public sealed record ParameterGroup
{
    /// <summary>The name used in messages and in <see cref="AdamW.Groups"/>; "default" is taken by the implicit group.</summary>
    public required string Name { get; init; }

    /// <summary>Whether a parameter (by its dotted name, as in <see cref="Module.NamedParameters"/>) is in this group.</summary>
    public required Func<string, bool> Matches { get; init; }

    /// <summary>The group's learning rate is the schedule's rate times this. Default 1; 0 freezes the values (moments still update).</summary>
    public float LearningRateScale { get; init; } = 1f;

    /// <summary>Decoupled weight decay of the group; null (default) takes the optimizer's.</summary>
    public float? WeightDecay { get; init; }

    /// <summary>
    /// Lazy row-wise updates for every parameter of rank 2 or more in the group: only rows whose gradient has a
    /// non-zero value are updated (moments and weight decay included), as for <see cref="GenSearch.Tensors.Tensor.RowSparse"/>
    /// parameters, which are updated so in any group. Default false.
    /// </summary>
    public bool Sparse { get; init; }

    /// <summary>The name of the implicit group that catches every parameter no explicit group matches.</summary>
    public const string DefaultName = "default";

    /// <summary>A group of the parameters whose names start with any of <paramref name="prefixes"/> (ordinal).</summary>
    public static ParameterGroup ByPrefix(string name, params string[] prefixes) => new()
    {
        Name = name,
        Matches = parameter => prefixes.Any(p => parameter.StartsWith(p, StringComparison.Ordinal)),
    };
}
