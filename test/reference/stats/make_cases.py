#!/usr/bin/env python3
# Reference values for the statistics engine, computed independently with scipy / numpy.
# Made with (python 3, scipy 1.17.1, numpy 2.4.6), from the repository root:
#   python3 test/reference/stats/make_cases.py > test/reference/stats/cases.json
# The TypeScript tests (test/unit/stats/reference.test.ts) must match every value to 1e-6.
# Where scipy has the procedure it is called directly (ttest_ind, chisquare, relative_risk,
# binomtest Wilson interval); otherwise the value is computed from raw simulated data or by
# numerical integration, never by re-implementing the TypeScript closed forms.
import json
import math

import numpy as np
from scipy import integrate, stats
from scipy.stats.contingency import relative_risk

rng = np.random.default_rng(20261123)


def f(x):
    x = float(x)
    assert math.isfinite(x), x
    return x


def z_test_case(n_a, x_a, n_b, x_b, conf):
    p_a, p_b = x_a / n_a, x_b / n_b
    pooled = (x_a + x_b) / (n_a + n_b)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    se_unpooled = math.sqrt(p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b)
    z = (p_b - p_a) / se_pooled
    zc = stats.norm.ppf(1 - (1 - conf) / 2)
    rr = relative_risk(x_b, n_b, x_a, n_a)
    ci = rr.confidence_interval(confidence_level=conf)
    return {
        "input": {"control": {"users": n_a, "conversions": x_a}, "treatment": {"users": n_b, "conversions": x_b}, "confidenceLevel": conf},
        "expected": {
            "zScore": f(z),
            "pValue": f(2 * stats.norm.sf(abs(z))),
            "ciLow": f(p_b - p_a - zc * se_unpooled),
            "ciHigh": f(p_b - p_a + zc * se_unpooled),
            "lift": f(rr.relative_risk - 1),
            "liftLow": f(ci.low - 1),
            "liftHigh": f(ci.high - 1),
        },
    }


def welch_case(a, b, conf):
    res = stats.ttest_ind(b, a, equal_var=False)
    ci = res.confidence_interval(confidence_level=conf)
    zc = stats.norm.ppf(1 - (1 - conf) / 2)
    va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
    ma, mb = np.mean(a), np.mean(b)
    se_log = math.sqrt(va / ma**2 + vb / mb**2)
    return {
        "input": {
            "control": {"n": len(a), "sum": f(np.sum(a)), "sumSq": f(np.sum(a * a))},
            "treatment": {"n": len(b), "sum": f(np.sum(b)), "sumSq": f(np.sum(b * b))},
            "confidenceLevel": conf,
        },
        "expected": {
            "tStatistic": f(res.statistic),
            "degreesOfFreedom": f(res.df),
            "pValue": f(res.pvalue),
            "ciLow": f(ci.low),
            "ciHigh": f(ci.high),
            "lift": f(mb / ma - 1),
            "liftLow": f(math.exp(math.log(mb / ma) - zc * se_log) - 1),
            "liftHigh": f(math.exp(math.log(mb / ma) + zc * se_log) - 1),
        },
    }


def prob_greater(x, y):
    """P(X > Y) = integral of f_X(t) F_Y(t) dt, by adaptive quadrature over X's support."""
    lo = min(stats.beta.ppf(1e-14, *x), stats.beta.ppf(1e-14, *y))
    hi = max(stats.beta.isf(1e-14, *x), stats.beta.isf(1e-14, *y))
    pts = sorted({stats.beta.ppf(q, *d) for q in (0.01, 0.5, 0.99) for d in (x, y)})
    val, _ = integrate.quad(lambda t: stats.beta.pdf(t, *x) * stats.beta.cdf(t, *y), lo, hi, points=pts, limit=1000, epsabs=1e-14, epsrel=1e-12)
    return val


def expected_shortfall(x, y):
    """E[max(Y - X, 0)] = integral of F_X(t) (1 - F_Y(t)) dt over [0, 1]."""
    lo = min(stats.beta.ppf(1e-14, *x), stats.beta.ppf(1e-14, *y))
    hi = max(stats.beta.isf(1e-14, *x), stats.beta.isf(1e-14, *y))
    pts = sorted({stats.beta.ppf(q, *d) for q in (0.01, 0.5, 0.99) for d in (x, y)})
    val, _ = integrate.quad(lambda t: stats.beta.cdf(t, *x) * stats.beta.sf(t, *y), lo, hi, points=pts, limit=1000, epsabs=1e-15, epsrel=1e-12)
    return val


def bayes_case(n_a, x_a, n_b, x_b, cred):
    post_a = (1 + x_a, 1 + n_a - x_a)
    post_b = (1 + x_b, 1 + n_b - x_b)
    tail = (1 - cred) / 2
    return {
        "input": {"control": {"users": n_a, "conversions": x_a}, "treatment": {"users": n_b, "conversions": x_b}, "credibility": cred},
        "expected": {
            "probabilityTreatmentBetter": f(prob_greater(post_b, post_a)),
            "expectedLossTreatment": f(expected_shortfall(post_b, post_a)),
            "expectedLossControl": f(expected_shortfall(post_a, post_b)),
            "controlLow": f(stats.beta.ppf(tail, *post_a)),
            "controlHigh": f(stats.beta.isf(tail, *post_a)),
            "treatmentLow": f(stats.beta.ppf(tail, *post_b)),
            "treatmentHigh": f(stats.beta.isf(tail, *post_b)),
        },
    }


def srm_case(observed, weights):
    w = np.array(weights, dtype=float)
    exp = w / w.sum() * sum(observed)
    res = stats.chisquare(observed, exp)
    return {"input": {"observed": observed, "weights": weights}, "expected": {"chiSquare": f(res.statistic), "pValue": f(res.pvalue), "flagged": bool(res.pvalue < 0.001)}}


def power_case(baseline, mde, alpha, power, n_a, n_b):
    p1, p2 = baseline, baseline * (1 + mde)
    za, zb = stats.norm.ppf(1 - alpha / 2), stats.norm.ppf(power)
    pbar = (p1 + p2) / 2
    n = (za * math.sqrt(2 * pbar * (1 - pbar)) + zb * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) ** 2 / (p2 - p1) ** 2
    # Achieved power at (n_a, n_b): simulate nothing, integrate the normal approximation exactly.
    pooled = (p1 * n_a + p2 * n_b) / (n_a + n_b)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    se1 = math.sqrt(p1 * (1 - p1) / n_a + p2 * (1 - p2) / n_b)
    d = abs(p2 - p1)
    achieved = stats.norm.sf((za * se0 - d) / se1) + stats.norm.cdf((-za * se0 - d) / se1)
    return {
        "input": {"baselineRate": baseline, "relativeMde": mde, "alpha": alpha, "power": power, "controlUsers": n_a, "treatmentUsers": n_b},
        "expected": {"usersPerVariant": int(math.ceil(n - 1e-9)), "achievedPower": f(achieved)},
    }


def msprt_case(diff, var, tau2, alpha):
    # Normal mixture likelihood ratio by numerical integration over theta ~ N(0, tau2).
    sd = math.sqrt(var)
    integrand = lambda th: stats.norm.pdf(diff, th, sd) * stats.norm.pdf(th, 0, math.sqrt(tau2))
    s = math.sqrt(tau2)
    num, _ = integrate.quad(integrand, -40 * s + min(diff, 0), 40 * s + max(diff, 0), points=[0, diff], limit=500, epsabs=0, epsrel=1e-13)
    lam = num / stats.norm.pdf(diff, 0, sd)
    # Interval: theta0 where Lambda(theta0) = 1/alpha, found by root finding on the integral form.
    from scipy.optimize import brentq

    def log_lam(theta0):
        base = stats.norm.logpdf(diff, theta0, sd)
        g = lambda th: math.exp(stats.norm.logpdf(diff, th, sd) - base) * stats.norm.pdf(th, theta0, s)
        lo_, hi_ = min(theta0, diff) - 40 * (s + sd), max(theta0, diff) + 40 * (s + sd)
        n2, _ = integrate.quad(g, lo_, hi_, points=sorted({theta0, diff}), limit=1000, epsabs=0, epsrel=1e-13)
        return math.log(n2)

    target = math.log(1 / alpha)

    def bracket(sign):
        step = sd
        while log_lam(diff + sign * step) < target:
            step *= 2
        return step

    low = brentq(lambda t: log_lam(t) - target, diff - bracket(-1), diff, xtol=1e-15, rtol=1e-14)
    high = brentq(lambda t: log_lam(t) - target, diff, diff + bracket(1), xtol=1e-15, rtol=1e-14)
    return {
        "input": {"difference": diff, "variance": var, "mixtureVariance": tau2, "alpha": alpha},
        "expected": {"logLikelihoodRatio": f(math.log(lam)), "pValueAtLook": f(min(1.0, 1 / lam)), "ciLow": f(low), "ciHigh": f(high)},
    }


def holm_case(pvals):
    # Direct definition: reject H_(j) in order while p_(j) <= alpha / (m - j + 1); the adjusted
    # p-value is the smallest alpha at which the hypothesis is rejected, found here by
    # scanning the step-down thresholds (a different route from the running-maximum form).
    m = len(pvals)
    order = sorted(range(m), key=lambda i: (pvals[i], i))
    out = [0.0] * m
    for rank, idx in enumerate(order):
        out[idx] = min(1.0, max((m - r) * pvals[order[r]] for r in range(rank + 1)))
    return {"input": {"pValues": pvals}, "expected": {"adjusted": out}}


def ratio_case(n_a, n_b, ctr_a, ctr_b, conf):
    def users(n, ctr):
        imps = rng.poisson(8, n) + rng.integers(0, 3, n)
        user_ctr = np.clip(rng.beta(2, 2 / ctr - 2, n), 0, 1)
        clicks = rng.binomial(imps, user_ctr)
        return clicks.astype(float), imps.astype(float)

    xa, ya = users(n_a, ctr_a)
    xb, yb = users(n_b, ctr_b)

    def est(x, y):
        n = len(x)
        r = x.mean() / y.mean()
        c = np.cov(np.vstack([x, y]), ddof=1)
        var = (c[0, 0] - 2 * r * c[0, 1] + r * r * c[1, 1]) / (n * y.mean() ** 2)
        return r, var

    ra, va = est(xa, ya)
    rb, vb = est(xb, yb)
    se = math.sqrt(va + vb)
    zc = stats.norm.ppf(1 - (1 - conf) / 2)
    se_log = math.sqrt(va / ra**2 + vb / rb**2)

    def suff(x, y):
        return {"users": len(x), "sumX": f(x.sum()), "sumY": f(y.sum()), "sumX2": f((x * x).sum()), "sumY2": f((y * y).sum()), "sumXY": f((x * y).sum())}

    return {
        "input": {"control": suff(xa, ya), "treatment": suff(xb, yb), "confidenceLevel": conf},
        "expected": {
            "controlRatio": f(ra),
            "treatmentRatio": f(rb),
            "zScore": f((rb - ra) / se),
            "pValue": f(2 * stats.norm.sf(abs(rb - ra) / se)),
            "ciLow": f(rb - ra - zc * se),
            "ciHigh": f(rb - ra + zc * se),
            "lift": f(rb / ra - 1),
            "liftLow": f(math.exp(math.log(rb / ra) - zc * se_log) - 1),
            "liftHigh": f(math.exp(math.log(rb / ra) + zc * se_log) - 1),
        },
    }


def wilson_case(impressions, clicks, conf):
    ci = stats.binomtest(clicks, impressions).proportion_ci(confidence_level=conf, method="wilson")
    return {"input": {"impressions": impressions, "clicks": clicks, "confidenceLevel": conf}, "expected": {"ctr": clicks / impressions, "low": f(ci.low), "high": f(ci.high)}}


def ips_case(n, conf):
    prop = rng.uniform(0.05, 0.9, n)
    target = (rng.uniform(0, 1, n) < 0.5).astype(float) * rng.choice([1.0, 0.7], n)
    reward = rng.binomial(1, 0.3, n).astype(float)
    w = target / prop
    rw = reward * w
    zc = stats.norm.ppf(1 - (1 - conf) / 2)
    ips = rw.mean()
    ips_se = np.std(rw, ddof=1) / math.sqrt(n)
    snips = rw.sum() / w.sum()
    c = np.cov(np.vstack([rw, w]), ddof=1)
    var = (c[0, 0] - 2 * snips * c[0, 1] + snips**2 * c[1, 1]) / (n * w.mean() ** 2)
    decisions = [{"reward": float(r), "propensity": float(p), "targetProbability": float(t)} for r, p, t in zip(reward, prop, target)]
    return {
        "input": {"decisions": decisions, "confidenceLevel": conf},
        "expected": {
            "ips": f(ips),
            "ipsLow": f(ips - zc * ips_se),
            "ipsHigh": f(ips + zc * ips_se),
            "snips": f(snips),
            "snipsLow": f(snips - zc * math.sqrt(var)),
            "snipsHigh": f(snips + zc * math.sqrt(var)),
            "effectiveSampleSize": f(w.sum() ** 2 / (w * w).sum()),
        },
    }


def special_cases():
    t_points = [(-2.1, 5), (-1.5, 100.5), (-3.0, 2000), (-2.5, 150000), (-0.3, 3e6), (1.7, 2.5), (0.0, 10), (4.2, 37.25)]
    t_quant = [(0.975, 2.5), (0.975, 5), (0.95, 100.5), (0.995, 2000), (0.975, 150000), (0.025, 3e6)]
    beta_quant = [(0.025, 451, 4551), (0.975, 451, 4551), (0.025, 90001, 910001), (0.5, 3, 200), (0.975, 1, 2), (0.025, 1, 50001)]
    return {
        "studentTCdf": [{"x": x, "df": d, "expected": f(stats.t.cdf(x, d))} for x, d in t_points],
        "studentTQuantile": [{"p": p, "df": d, "expected": f(stats.t.ppf(p, d))} for p, d in t_quant],
        "betaQuantile": [{"p": p, "a": a, "b": b, "expected": f(stats.beta.ppf(p, a, b))} for p, a, b in beta_quant],
        "chiSquareSurvival": [{"x": x, "df": d, "expected": f(stats.chi2.sf(x, d))} for x, d in [(4, 1), (16, 1), (10, 3), (2, 4), (30.5, 9), (0.01, 2)]],
    }


def main():
    welch_inputs = []
    for n_a, n_b, mu_a, mu_b, sd_a, sd_b in [(40, 55, 3.5, 3.8, 1.0, 1.4), (2000, 2100, 120.0, 123.0, 60.0, 75.0), (5, 7, 10.0, 10.0, 2.0, 0.5), (30000, 30000, 3.2, 3.21, 1.1, 1.1)]:
        a = np.round(rng.normal(mu_a, sd_a, n_a), 3)
        b = np.round(rng.normal(mu_b, sd_b, n_b), 3)
        welch_inputs.append(welch_case(a, b, 0.95))
    welch_inputs.append(welch_case(np.round(rng.exponential(300.0, 800), 1), np.round(rng.exponential(320.0, 760), 1), 0.9))

    cases = {
        "twoProportionZTest": [
            z_test_case(5000, 450, 5000, 520, 0.95),
            z_test_case(10000, 900, 10000, 910, 0.95),
            z_test_case(1200, 30, 1350, 18, 0.99),
            z_test_case(250000, 22500, 249000, 23300, 0.95),
            z_test_case(80, 1, 95, 4, 0.9),
        ],
        "welchTTest": welch_inputs,
        "betaBinomial": [
            bayes_case(5000, 450, 5000, 520, 0.95),
            bayes_case(10000, 900, 10000, 910, 0.95),
            bayes_case(100, 0, 120, 2, 0.9),
            bayes_case(200000, 18000, 200000, 18400, 0.95),
            bayes_case(50, 45, 60, 57, 0.95),
            bayes_case(1000000, 90000, 1000000, 90300, 0.95),
        ],
        "sampleRatioMismatch": [
            srm_case([5100, 4900], [0.5, 0.5]),
            srm_case([5200, 4800], [0.5, 0.5]),
            srm_case([33500, 33000, 33500], [1, 1, 1]),
            srm_case([8140, 1860], [0.8, 0.2]),
            srm_case([1, 0], [0.5, 0.5]),
        ],
        "power": [
            power_case(0.09, 0.1, 0.05, 0.8, 16583, 16583),
            power_case(0.09, 0.1, 0.05, 0.8, 5000, 5200),
            power_case(0.02, 0.05, 0.01, 0.9, 100000, 100000),
            power_case(0.5, -0.02, 0.05, 0.8, 20000, 19000),
        ],
        "mixtureSprt": [
            msprt_case(0.004, 3.5e-5, 8.1e-5, 0.05),
            msprt_case(-0.01, 1.0e-5, 1.0e-4, 0.05),
            msprt_case(0.0, 2.0e-4, 1.0e-4, 0.1),
            msprt_case(0.3, 0.01, 0.04, 0.01),
        ],
        "holm": [
            holm_case([0.01, 0.04, 0.03]),
            holm_case([0.5]),
            holm_case([0.001, 0.2, 0.2, 0.049, 0.9]),
            holm_case([0.3, 0.02]),
        ],
        "ratioMetricTest": [
            ratio_case(3000, 3100, 0.05, 0.055, 0.95),
            ratio_case(400, 380, 0.1, 0.1, 0.9),
            ratio_case(20000, 20000, 0.03, 0.031, 0.95),
        ],
        "wilson": [wilson_case(1000, 37, 0.95), wilson_case(12, 0, 0.95), wilson_case(250, 250, 0.9), wilson_case(80000, 2400, 0.99)],
        "ips": [ips_case(300, 0.95), ips_case(1200, 0.9)],
        "special": special_cases(),
    }
    print(json.dumps(cases, indent=1))


if __name__ == "__main__":
    main()
