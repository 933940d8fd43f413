namespace GenSearch.Evaluation.Tests;

/// <summary>
/// Log-gamma, the regularized incomplete beta and Student's t against values known independently:
/// closed forms, exact binomial sums (computed with Python's fractions), Python's math.lgamma, and t
/// tables' critical values (R's qt, confirmed by numerical integration of the t density in Python).
/// </summary>
public class SpecialFunctionsTests
{
    /// <summary>Within <paramref name="relative"/> of <paramref name="expected"/>, or within <paramref name="absolute"/>
    /// where the reference is a difference near 1 and has only absolute accuracy itself.</summary>
    private static void Close(double expected, double actual, double relative, double absolute = 0) =>
        Assert.True(Math.Abs(expected - actual) <= Math.Max(relative * Math.Abs(expected), absolute),
            $"expected {expected:R}, got {actual:R} (relative error {Math.Abs(expected - actual) / Math.Abs(expected):E2})");

    [Fact]
    public void LogGammaMatchesFactorialsAndPythonsLgamma()
    {
        double factorial = 1;
        for (int n = 1; n <= 25; n++)
        {
            Close(Math.Log(factorial), SpecialFunctions.LogGamma(n), 1e-14, 1e-15);
            factorial *= n;
        }
                Close(0.5 * Math.Log(Math.PI), SpecialFunctions.LogGamma(0.5), 1e-14);
        // Python 3: math.lgamma(x)
        Close(2.2527126517342055, SpecialFunctions.LogGamma(0.1), 1e-14);
        Close(6.907178885383854, SpecialFunctions.LogGamma(1e-3), 1e-14);
        Close(0.2846828704729196, SpecialFunctions.LogGamma(2.5), 1e-14);
        Close(361.4355404677776, SpecialFunctions.LogGamma(100.5), 1e-14);
        Close(1051287.7089736566, SpecialFunctions.LogGamma(1e5), 1e-14);
        Assert.Throws<ArgumentOutOfRangeException>(() => SpecialFunctions.LogGamma(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => SpecialFunctions.LogGamma(double.NaN));
    }

    [Theory]
    [InlineData(0.3, 5, 7, 0.2103046173)]
    [InlineData(0.9, 20, 3, 0.6200409384119033)]
    [InlineData(0.42, 100, 120, 0.1516458567596358)]
    [InlineData(0.01, 2, 300, 0.8038364237148565)]
    [InlineData(0.999, 400, 2, 0.9382602684094365)]
    [InlineData(0.5, 1000, 1000, 0.5)]
    [InlineData(0.05, 3, 40, 0.351013609346228)]
    public void IncompleteBetaMatchesExactBinomialSums(double x, int a, int b, double expected)
    {
        // For integer a, b: I_x(a, b) = P(Binomial(a + b - 1, x) >= a), summed exactly in rationals.
        Close(expected, SpecialFunctions.RegularizedIncompleteBeta(x, a, b), 1e-12);
        Close(1 - expected, SpecialFunctions.RegularizedIncompleteBeta(1 - x, b, a), 1e-11);
    }

    [Fact]
    public void IncompleteBetaMatchesClosedForms()
    {
        foreach (double x in new[] { 1e-9, 0.001, 0.2, 0.5, 0.77, 0.999, 1 - 1e-9 })
        {
            Close(Math.Pow(x, 2.5), SpecialFunctions.RegularizedIncompleteBeta(x, 2.5, 1), 1e-13);       // I_x(a, 1) = x^a
            Close(1 - Math.Pow(1 - x, 3.7), SpecialFunctions.RegularizedIncompleteBeta(x, 1, 3.7), 1e-12, 1e-15); // I_x(1, b) = 1 - (1-x)^b
            // I_x(1/2, 1/2) = (2/π) asin(sqrt x), written from the far end above 1/2 where asin is steep.
            double arcsine = x <= 0.5 ? 2 / Math.PI * Math.Asin(Math.Sqrt(x)) : 1 - 2 / Math.PI * Math.Asin(Math.Sqrt(1 - x));
            Close(arcsine, SpecialFunctions.RegularizedIncompleteBeta(x, 0.5, 0.5), 1e-13);
        }
        Assert.Equal(0, SpecialFunctions.RegularizedIncompleteBeta(0, 3, 4));
        Assert.Equal(1, SpecialFunctions.RegularizedIncompleteBeta(1, 3, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => SpecialFunctions.RegularizedIncompleteBeta(1.5, 3, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => SpecialFunctions.RegularizedIncompleteBeta(0.5, 0, 4));
    }

    [Fact]
    public void StudentTMatchesTheClosedFormsOfOneTwoAndFourDegreesOfFreedom()
    {
        foreach (double t in new[] { -30, -3.1, -1, -0.2, 0, 0.2, 1, 2.5, 7, 100 })
        {
            Close(0.5 + Math.Atan(t) / Math.PI, SpecialFunctions.StudentTCdf(t, 1), 1e-12);       // Cauchy
            Close(0.5 + t / (2 * Math.Sqrt(2 + t * t)), SpecialFunctions.StudentTCdf(t, 2), 1e-12);
            double x = Math.Abs(t) / Math.Sqrt(4 + t * t);                                            // df 4: P(|T| >= |t|) = 1 - x(3 - x²)/2
            Close(1 - x * (3 - x * x) / 2, SpecialFunctions.StudentTTwoSidedP(t, 4), 1e-12, 1e-15);
        }
    }

    [Theory]
    [InlineData(2.228138851986273, 10, 0.05)]   // qt(0.975, 10)
    [InlineData(2.042272456301238, 30, 0.05)]   // qt(0.975, 30)
    [InlineData(4.032142983557536, 5, 0.01)]    // qt(0.995, 5)
    [InlineData(3.98977, 1077, 7.06093914706822e-05)]
    [InlineData(10.0, 20, 3.1637817587143942e-09)]
    [InlineData(0.5, 3, 0.651447964848155)]
    public void StudentTTwoSidedPMatchesTablesAndIntegration(double t, double df, double p)
    {
        Close(p, SpecialFunctions.StudentTTwoSidedP(t, df), 1e-9);
        Close(p, SpecialFunctions.StudentTTwoSidedP(-t, df), 1e-9);
        Close(1 - p / 2, SpecialFunctions.StudentTCdf(t, df), 1e-12);
    }

    [Fact]
    public void StudentTEdges()
    {
        Assert.Equal(1, SpecialFunctions.StudentTTwoSidedP(0, 7));
        Assert.Equal(0, SpecialFunctions.StudentTTwoSidedP(double.PositiveInfinity, 7));
        Assert.Equal(0, SpecialFunctions.StudentTCdf(double.NegativeInfinity, 7));
        Assert.True(SpecialFunctions.StudentTTwoSidedP(1e200, 3) is >= 0 and < 1e-300);
        Assert.Throws<ArgumentOutOfRangeException>(() => SpecialFunctions.StudentTTwoSidedP(1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => SpecialFunctions.StudentTTwoSidedP(double.NaN, 3));
    }
}
