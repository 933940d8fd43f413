namespace GenSearch.Evaluation;

/// <summary>
/// The grades a data set's judgments may take, <see cref="Min"/> to <see cref="Max"/> inclusive. A
/// grade outside it is a data error, not a very relevant (or very irrelevant) item: NDCG's gain
/// 2^grade - 1 lets one stray grade outweigh every other judgment of its query.
/// </summary>
public readonly record struct GradeRange
{
    /// <summary>The widest range accepted: |grade| &lt;= 100 keeps 2^grade - 1 and its sums finite.</summary>
    public const int Limit = 100;

    /// <summary>Lowest grade.</summary>
    public int Min { get; }
    /// <summary>Highest grade.</summary>
    public int Max { get; }

    /// <summary>A range; throws <see cref="ArgumentOutOfRangeException"/> unless -100 &lt;= min &lt;= max &lt;= 100.</summary>
    public GradeRange(int min, int max)
    {
        if (min > max || min < -Limit || max > Limit)
            throw new ArgumentOutOfRangeException(nameof(max), $"grades {min}..{max}: need {-Limit} <= min <= max <= {Limit}");
        Min = min;
        Max = max;
    }

    /// <summary>The range assumed when a data set does not state one: 0..4 (binary, 0..2, 0..3 and 0..4 scales all fit).</summary>
    public static GradeRange Default { get; } = new(0, 4);

    /// <summary>True when <paramref name="grade"/> lies in the range.</summary>
    public bool Contains(int grade) => grade >= Min && grade <= Max;

    /// <summary>"min..max".</summary>
    public override string ToString() => $"{Min}..{Max}";
}
