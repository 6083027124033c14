#!/usr/bin/env python3
# Reference values for the sequential (mSPRT) sample size and power, computed independently
# with scipy / numpy. Made with (python 3, scipy 1.17.1, numpy 2.4.6), from the repository root:
#   python3 test/reference/stats/make_sequential_cases.py > test/reference/stats/sequential_cases.json
# (about five minutes: Genz's integration in 14 dimensions takes seconds per call). The
# TypeScript tests (test/unit/stats/sequential-plan.test.ts) compare against these values.
#
# The model is the test as the report applies it: the difference estimate D_k at look k has
# variance V_k = sigma2 / n_k (sigma2 = variance of the difference per user per arm, e.g.
# p1 (1 - p1) + p2 (1 - p2)), n_k = n k / K for K equally spaced looks, and the mSPRT with
# mixture N(0, tau2) rejects at look k when
#   |D_k| >= h_k = sqrt(2 V (V + tau2) / tau2 * (log(1/alpha) + log((V + tau2) / V) / 2)).
# Power against a true difference theta is P(some D_k >= h_k). For K = 1 that is a normal tail;
# for K > 1 it is 1 - P(Z_1 < b_1, ..., Z_K < b_K) for the standardised statistics
# Z_k = D_k / sqrt(V_k), which are jointly normal with means theta / sqrt(V_k) and
# correlations sqrt(n_i / n_j) (i <= j), evaluated with scipy's multivariate normal CDF (Genz's
# quasi-Monte Carlo integration), not by the recursive integration the TypeScript uses. Paths
# that first cross the lower boundary are counted too; under an effect theta > 0 of the size
# planned here they carry less than 1e-6 of probability.
# Users per variant solve power(n) = target by Brent's method on continuous n.
import json
import math

import numpy as np
from scipy import optimize, stats

GENZ_ABSEPS = 1e-6


def f(x):
    x = float(x)
    assert math.isfinite(x), x
    return x


def boundary_z(variance, tau2, alpha):
    h2 = 2 * variance * (variance + tau2) / tau2 * (math.log(1 / alpha) + 0.5 * math.log((variance + tau2) / variance))
    return math.sqrt(h2 / variance)


def power(n, sigma2, theta, tau2, alpha, looks, seed=1):
    t = np.arange(1, looks + 1) / looks
    variances = sigma2 / (n * t)
    bounds = np.array([boundary_z(v, tau2, alpha) for v in variances])
    means = theta / np.sqrt(variances)
    if looks == 1:
        return f(stats.norm.sf(bounds[0] - means[0]))
    cov = np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))
    below = stats.multivariate_normal.cdf(
        bounds, mean=means, cov=cov, abseps=GENZ_ABSEPS, releps=0, maxpts=1_000_000 * looks, rng=np.random.default_rng(seed)
    )
    return f(1 - below)


def users_for_power(sigma2, theta, tau2, alpha, target, looks):
    fixed = sigma2 * (stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(target)) ** 2 / theta**2
    n = optimize.brentq(lambda n: power(n, sigma2, theta, tau2, alpha, looks) - target, fixed, fixed * 3, xtol=0.02, rtol=1e-12)
    return f(n)


def proportion_case(baseline, mde, alpha, target, looks):
    treatment = baseline * (1 + mde)
    sigma2 = baseline * (1 - baseline) + treatment * (1 - treatment)
    theta = baseline * mde
    n = users_for_power(sigma2, abs(theta), theta**2, alpha, target, looks)
    return {
        "input": {"baselineRate": baseline, "relativeMde": mde, "alpha": alpha, "power": target, "looks": looks},
        "expected": {"users": n, "usersPerVariant": math.ceil(n), "powerAtPlan": power(math.ceil(n), sigma2, abs(theta), theta**2, alpha, looks)},
    }


def difference_case(sigma2, theta, alpha, target, looks, tau2=None):
    tau2_used = theta**2 if tau2 is None else tau2
    n = users_for_power(sigma2, theta, tau2_used, alpha, target, looks)
    case_input = {"differenceVariancePerUser": sigma2, "absoluteMde": theta, "alpha": alpha, "power": target, "looks": looks}
    if tau2 is not None:
        case_input["mixtureVariance"] = tau2
    return {"input": case_input, "expected": {"users": n, "usersPerVariant": math.ceil(n)}}


def power_case(sigma2, theta, alpha, n, looks):
    return {
        "input": {"differenceVariancePerUser": sigma2, "absoluteMde": theta, "alpha": alpha, "usersPerVariant": n, "looks": looks},
        "expected": {"power": power(n, sigma2, theta, theta**2, alpha, looks)},
    }


P09 = 0.09 * 0.91 + 0.099 * 0.901
cases = {
    "genzAbsoluteError": GENZ_ABSEPS,
    "sequentialSampleSize": [
        proportion_case(0.09, 0.1, 0.05, 0.8, 1),
        proportion_case(0.09, 0.1, 0.05, 0.8, 7),
        proportion_case(0.09, 0.1, 0.05, 0.8, 14),
        proportion_case(0.05, 0.05, 0.05, 0.9, 1),
        proportion_case(0.2, -0.1, 0.01, 0.8, 1),
        proportion_case(0.3, 0.2, 0.1, 0.8, 5),
        proportion_case(0.02, 0.15, 0.05, 0.8, 14),
    ],
    "sequentialSampleSizeForDifference": [
        difference_case(2 * 10.0**2, 1.5, 0.05, 0.8, 1),
        difference_case(2 * 10.0**2, 1.5, 0.05, 0.8, 14),
        difference_case(0.08, 0.005, 0.025, 0.9, 10, tau2=4 * 0.005**2),
    ],
    "sequentialPower": [
        power_case(P09, 0.009, 0.05, 16583, 1),
        power_case(P09, 0.009, 0.05, 16583, 14),
        power_case(P09, 0.009, 0.05, 29204, 14),
        power_case(P09, 0.009, 0.05, 32130, 14),
        power_case(2 * 10.0**2, 1.5, 0.01, 2000, 5),
    ],
}
print(json.dumps(cases, indent=1))
