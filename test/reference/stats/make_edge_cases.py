#!/usr/bin/env python3
# Reference values for the statistics engine's edges, computed independently with scipy.
# Made with (python 3, scipy 1.17.1, numpy 2.4.6), from the repository root:
#   python3 test/reference/stats/make_edge_cases.py > test/reference/stats/edge_cases.json
# The TypeScript tests (test/unit/stats/edges.test.ts) compare far-tail p-values to a relative
# 1e-9, Fisher's exact test to 1e-9 and the credible interval of a Beta difference to 1e-8.
# The credible interval is solved here with scipy's adaptive quadrature (QUADPACK) and Brent's
# method, not with the Gauss-Legendre panels and bisection the TypeScript uses.
import json

from scipy import integrate, optimize, stats


def beta_difference_interval(x, y, credibility):
    X = stats.beta(*x)
    Y = stats.beta(*y)
    low, high = Y.ppf(1e-13), Y.isf(1e-13)

    def cdf(d):
        # The integrand has kinks where y + d leaves [0, 1]: tell QUADPACK where.
        points = [p for p in (-d, 1 - d) if low < p < high]
        return integrate.quad(lambda c: Y.pdf(c) * X.cdf(c + d), low, high, points=points or None, epsabs=1e-15, epsrel=1e-12, limit=1000)[0]

    tail = (1 - credibility) / 2
    return [optimize.brentq(lambda d: cdf(d) - tail, -1, 1, xtol=1e-15), optimize.brentq(lambda d: cdf(d) - (1 - tail), -1, 1, xtol=1e-15)]


cases = {
    "normalTwoSided": [{"z": z, "expected": float(2 * stats.norm.sf(z))} for z in (0.5, 1.96, 4.9, 5.1, 8, 12, 20, 30, 37)],
    "chiSquareSurvival": [{"x": x, "df": df, "expected": float(stats.chi2.sf(x, df))} for x, df in ((3, 4), (40, 1), (80, 1), (200, 1), (150, 2), (1000, 3), (500, 9))],
    "studentTTwoSided": [{"t": t, "df": df, "expected": float(2 * stats.t.sf(t, df))} for t, df in ((12, 30), (30, 50), (9, 1000))],
    "fisherExact": [
        {"a": a, "n1": n1, "b": b, "n2": n2, "expected": float(stats.fisher_exact([[a, n1 - a], [b, n2 - b]])[1])}
        for a, n1, b, n2 in ((10, 1000, 0, 1000), (0, 40, 3, 40), (3, 10, 7, 12), (0, 5000, 12, 5000), (25, 25, 20, 25), (1, 200, 0, 180))
    ],
    "betaDifferenceInterval": [
        {"x": list(x), "y": list(y), "credibility": c, "expected": beta_difference_interval(x, y, c)}
        for x, y, c in (((121, 880), (101, 900), 0.95), ((5001, 95001), (4801, 95201), 0.95), ((1, 11), (3, 9), 0.9), ((1, 1001), (9, 993), 0.95))
    ],
}
print(json.dumps(cases, indent=1))
