#!/usr/bin/env python3
# Reference values for CUPED (lambdas/domain/stats/cuped.ts, lambdas/services/variance-reduction.ts),
# computed independently with numpy / scipy from raw per-user data, never from the sums the
# service keeps. Made with (python 3, scipy 1.17.1, numpy 2.4.6), from the repository root:
#   python3 test/reference/stats/make_cuped_cases.py > test/reference/stats/cuped_cases.json
# The TypeScript test (test/unit/stats/cuped-reference.test.ts) writes every user's events
# through the service's counter arithmetic (exposure, then each event's increments from the
# user's running totals, capped), analyses the sums, and must match every value to 1e-9 relative.
#
# For each metric, per user: the covariate x (items the user has in the control model's training
# data) and the outcome y, capped per user as the experiment declares:
#   clickers / converters   y = 1 if the user clicked / bought at all
#   clicks, revenue, watch  y = min(total, cap) (revenue in currency units, watch time in seconds)
#   click_through           the ratio sum(c) / sum(m) of capped clicks and impressions, linearised
#                           per user as L = (c - R m) / mean(m) within each arm (delta method)
# theta is pooled across arms from within-arm centred cross products; the adjusted arm estimate is
# mean(y) - theta (mean_arm(x) - mean_all(x)), its variance var(y - theta x, ddof=1) / n.
import json
import math

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
CAPS = {"clicks": 15, "impressions": 40, "purchases": 3, "revenue_cents": 5000, "watch_ms": 3_600_000}


def f(x):
    x = float(x)
    assert math.isfinite(x), x
    return x


def simulate_arm(rng, n, click_lift):
    users = []
    for _ in range(n):
        # The covariate: items in the training data, many users with few, a tail with many, some unknown (0).
        x = 0 if rng.random() < 0.1 else int(rng.negative_binomial(2, 0.04))
        activity = 0.5 + x / 40.0
        m = int(rng.poisson(2 + 4 * activity))
        c = int(rng.binomial(m * 2, min(0.9, 0.06 * (1 + click_lift) * (1 + x / 100.0)))) if m > 0 else 0
        purchases = [int(rng.integers(199, 2500)) for _ in range(int(rng.binomial(c, 0.25)))]
        watches = [int(rng.integers(0, 1_800_000)) for _ in range(int(rng.binomial(c, 0.5)))]
        users.append({"x": x, "impressions": m, "clicks": c, "purchases_cents": purchases, "watches_ms": watches})
    return users


def per_user(users):
    x = np.array([u["x"] for u in users], dtype=float)
    m = np.array([u["impressions"] for u in users], dtype=float)
    c = np.array([u["clicks"] for u in users], dtype=float)
    p = np.array([len(u["purchases_cents"]) for u in users], dtype=float)
    r = np.array([sum(u["purchases_cents"]) for u in users], dtype=float)
    w = np.array([sum(u["watches_ms"]) for u in users], dtype=float)
    return {
        "x": x,
        "clickers": (c > 0).astype(float),
        "converters": (p > 0).astype(float),
        "clicks": np.minimum(c, CAPS["clicks"]),
        "impressions": np.minimum(m, CAPS["impressions"]),
        "revenue": np.minimum(r, CAPS["revenue_cents"]) / 100.0,
        "watch_time": np.minimum(w, CAPS["watch_ms"]) / 1000.0,
    }


def cuped(arms_y, arms_x):
    """arms_y: per-arm outcome arrays (already linearised for a ratio), arms_x: covariates."""
    sxy = sum(np.sum((x - x.mean()) * (y - y.mean())) for x, y in zip(arms_x, arms_y))
    sxx = sum(np.sum((x - x.mean()) ** 2) for x in arms_x)
    syy = sum(np.sum((y - y.mean()) ** 2) for y in arms_y)
    theta = sxy / sxx
    x_all = np.concatenate(arms_x).mean()
    z = stats.norm.ppf(1 - (1 - CONFIDENCE) / 2)
    return theta, x_all, sxy / math.sqrt(sxx * syy), z


def report(estimates, arms_y, arms_x, names):
    theta, x_all, correlation, z = cuped(arms_y, arms_x)
    arms = []
    variances = []
    for name, est, y, x in zip(names, estimates, arms_y, arms_x):
        n = len(y)
        plain = np.var(y, ddof=1) / n
        adjusted = np.var(y - theta * x, ddof=1) / n
        adj = est - theta * (x.mean() - x_all)
        variances.append((plain, adjusted))
        arms.append(
            {
                "variant": name,
                "estimate": f(est),
                "intervalLow": f(est - z * math.sqrt(plain)),
                "adjustedEstimate": f(adj),
                "adjustedIntervalHigh": f(adj + z * math.sqrt(adjusted)),
            }
        )
    comparisons = []
    for i in range(1, len(names)):
        d = arms[i]["estimate"] - arms[0]["estimate"]
        da = arms[i]["adjustedEstimate"] - arms[0]["adjustedEstimate"]
        v = variances[i][0] + variances[0][0]
        va = variances[i][1] + variances[0][1]
        comparisons.append(
            {
                "variant": names[i],
                "difference": f(d),
                "standardError": f(math.sqrt(v)),
                "pValue": f(2 * stats.norm.sf(abs(d) / math.sqrt(v))),
                "adjustedDifference": f(da),
                "adjustedStandardError": f(math.sqrt(va)),
                "adjustedPValue": f(2 * stats.norm.sf(abs(da) / math.sqrt(va))),
                "varianceReduction": f(1 - va / v),
            }
        )
    return {"theta": f(theta), "covariateMean": f(x_all), "correlation": f(correlation), "arms": arms, "comparisons": comparisons}


def case(seed, sizes, lifts):
    rng = np.random.default_rng(seed)
    names = ["control"] + [f"treatment-{i}" for i in range(1, len(sizes))]
    raw = [simulate_arm(rng, n, lift) for n, lift in zip(sizes, lifts)]
    data = [per_user(users) for users in raw]
    xs = [d["x"] for d in data]
    expected = {}
    for metric in ["clickers", "converters", "clicks", "revenue", "watch_time"]:
        ys = [d[metric] for d in data]
        expected[metric] = report([y.mean() for y in ys], ys, xs, names)
    ratios = [d["clicks"].sum() / d["impressions"].sum() for d in data]
    linearised = [(d["clicks"] - r * d["impressions"]) / d["impressions"].mean() for d, r in zip(data, ratios)]
    expected["click_through"] = report(ratios, linearised, xs, names)
    return {"seed": seed, "caps": CAPS, "confidenceLevel": CONFIDENCE, "arms": [{"name": name, "users": users} for name, users in zip(names, raw)], "expected": expected}


cases = [case(20261201, [400, 500], [0.0, 0.15]), case(20261202, [300, 300, 350], [0.0, 0.0, 0.3])]
print(json.dumps({"cases": cases}, separators=(",", ":")))
