#!/usr/bin/env python3
# Reference values for the report's metrics panel and ranking panel, computed independently with
# scipy / numpy from simulated RAW per-user data (never from the TypeScript closed forms).
# Made with (python 3, scipy 1.17.1, numpy 2.4.6), from the repository root:
#   python3 test/reference/stats/make_metrics_panel.py > test/reference/stats/metrics_panel.json
# The TypeScript tests (test/unit/stats/metrics-panel.test.ts) read the counter sums below, build
# the panel and must match every value to a relative 1e-6:
# - click-through: the user-level ratio with the delta-method variance, from the per-user click
#   and impression arrays (numpy sample variances and covariance, ddof=1), z from scipy's normal;
# - conversion: the two-proportion z-test (pooled SE), the unpooled interval, the Katz interval
#   of the lift from scipy's relative_risk;
# - revenue per user (zeros included), revenue per purchase, watch time, rating: scipy's Welch
#   ttest_ind(equal_var=False) on the raw values, its confidence_interval;
# - the Holm family: every secondary metric x every non-control variant, adjusted by scanning
#   the step-down thresholds;
# - click-through by position: scipy's binomtest Wilson interval.
# The counter sums are what the service's counters hold for the same users (revenue per user in
# cents, as the user-level revenue counters keep it).
import json
import math

import numpy as np
from scipy import stats
from scipy.stats.contingency import relative_risk

rng = np.random.default_rng(20261201)
CONF = 0.95
Z = stats.norm.ppf(1 - (1 - CONF) / 2)


def f(x):
    x = float(x)
    assert math.isfinite(x), x
    return x


def simulate(n, ctr, conversion, revenue_mean, watch_mean, rating_mean):
    imps = rng.poisson(8, n) + 1
    user_ctr = np.clip(rng.beta(2, 2 / ctr - 2, n), 0, 1)
    clicks = rng.binomial(imps, user_ctr)
    # Purchases: a converting user buys 1 to 3 times; values in cents, as the counters keep them.
    converts = rng.random(n) < conversion
    purchases = np.where(converts, rng.integers(1, 4, n), 0)
    purchase_cents = [rng.integers(200, int(2 * revenue_mean * 100), k) for k in purchases]
    user_revenue_cents = np.array([p.sum() for p in purchase_cents], dtype=float)
    purchase_values = np.concatenate(purchase_cents) / 100.0
    # One watch_time event per click, one rating for about every fourth click.
    watch = rng.gamma(2.0, watch_mean / 2.0, int(clicks.sum())).round()
    ratings = np.clip(np.round(rng.normal(rating_mean, 1.0, int(clicks.sum() // 4))), 1, 5)
    return {
        "clicks": clicks.astype(float),
        "imps": imps.astype(float),
        "converts": converts,
        "user_revenue": user_revenue_cents / 100.0,
        "user_revenue_cents": user_revenue_cents,
        "purchases": purchase_values,
        "watch": watch,
        "ratings": ratings,
    }


def counters(u):
    """What the daily counters hold, summed over the experiment."""
    return {
        "exposed_users": int(len(u["clicks"])),
        "impressions": f(u["imps"].sum()),
        "clicks": f(u["clicks"].sum()),
        "user_clicks_sq_sum": f((u["clicks"] ** 2).sum()),
        "user_impressions_sq_sum": f((u["imps"] ** 2).sum()),
        "user_clicks_impressions_sum": f((u["clicks"] * u["imps"]).sum()),
        "converters": int(u["converts"].sum()),
        "conversions": int(len(u["purchases"])),
        "revenue_n": int(len(u["purchases"])),
        "revenue_sum": f(u["purchases"].sum()),
        "revenue_sum_sq": f((u["purchases"] ** 2).sum()),
        "revenue_cents": f(u["user_revenue_cents"].sum()),
        "user_revenue_cents_sq_sum": f((u["user_revenue_cents"] ** 2).sum()),
        "watch_time_n": int(len(u["watch"])),
        "watch_time_sum": f(u["watch"].sum()),
        "watch_time_sum_sq": f((u["watch"] ** 2).sum()),
        "rating_n": int(len(u["ratings"])),
        "rating_sum": f(u["ratings"].sum()),
        "rating_sum_sq": f((u["ratings"] ** 2).sum()),
    }


def log_lift(a, var_a, b, var_b):
    lift = b / a - 1
    se = math.sqrt(var_a / a**2 + var_b / b**2)
    return f(lift), [f(math.exp(math.log(b / a) - Z * se) - 1), f(math.exp(math.log(b / a) + Z * se) - 1)]


def ratio_estimate(x, y):
    n = len(x)
    r = x.mean() / y.mean()
    cov = np.cov(x, y, ddof=1)
    var = (cov[0, 0] - 2 * r * cov[0, 1] + r * r * cov[1, 1]) / (n * y.mean() ** 2)
    return r, var


def ctr_compare(c, t):
    ra, va = ratio_estimate(c["clicks"], c["imps"])
    rb, vb = ratio_estimate(t["clicks"], t["imps"])
    se = math.sqrt(va + vb)
    d = rb - ra
    lift, lift_ci = log_lift(ra, va, rb, vb)
    return {"pValue": f(2 * stats.norm.sf(abs(d / se))), "difference": f(d), "ci": [f(d - Z * se), f(d + Z * se)], "lift": lift, "liftCi": lift_ci}


def conversion_compare(c, t):
    na, xa = len(c["converts"]), int(c["converts"].sum())
    nb, xb = len(t["converts"]), int(t["converts"].sum())
    pa, pb = xa / na, xb / nb
    pooled = (xa + xb) / (na + nb)
    z = (pb - pa) / math.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb))
    se = math.sqrt(pa * (1 - pa) / na + pb * (1 - pb) / nb)
    ci = relative_risk(xb, nb, xa, na).confidence_interval(confidence_level=CONF)
    return {"pValue": f(2 * stats.norm.sf(abs(z))), "difference": f(pb - pa), "ci": [f(pb - pa - Z * se), f(pb - pa + Z * se)], "lift": f(pb / pa - 1), "liftCi": [f(ci.low - 1), f(ci.high - 1)]}


def welch_compare(a, b):
    res = stats.ttest_ind(b, a, equal_var=False)
    ci = res.confidence_interval(confidence_level=CONF)
    lift, lift_ci = log_lift(a.mean(), a.var(ddof=1) / len(a), b.mean(), b.var(ddof=1) / len(b))
    return {"pValue": f(res.pvalue), "difference": f(b.mean() - a.mean()), "ci": [f(ci.low), f(ci.high)], "lift": lift, "liftCi": lift_ci}


def estimates(metric, u):
    if metric == "click_through":
        r, v = ratio_estimate(u["clicks"], u["imps"])
        return {"n": len(u["clicks"]), "estimate": f(r), "interval": [f(r - Z * math.sqrt(v)), f(r + Z * math.sqrt(v))]}
    if metric == "conversion":
        n, x = len(u["converts"]), int(u["converts"].sum())
        ci = stats.binomtest(x, n).proportion_ci(confidence_level=CONF, method="wilson")
        return {"n": n, "estimate": f(x / n), "interval": [f(ci.low), f(ci.high)]}
    values = {"revenue_per_user": u["user_revenue"], "revenue_per_purchase": u["purchases"], "watch_time": u["watch"], "rating": u["ratings"]}[metric]
    m, se = values.mean(), values.std(ddof=1) / math.sqrt(len(values))
    return {"n": len(values), "estimate": f(m), "interval": [f(m - Z * se), f(m + Z * se)]}


def compare(metric, c, t):
    if metric == "click_through":
        return ctr_compare(c, t)
    if metric == "conversion":
        return conversion_compare(c, t)
    key = {"revenue_per_user": "user_revenue", "revenue_per_purchase": "purchases", "watch_time": "watch", "rating": "ratings"}[metric]
    return welch_compare(c[key], t[key])


def holm(pvals):
    # Step-down definition: the adjusted p of the j-th smallest is the largest of
    # (m - i + 1) p_(i) over i <= j, capped at 1 (the smallest alpha that rejects it).
    m = len(pvals)
    order = sorted(range(m), key=lambda i: (pvals[i], i))
    out = [0.0] * m
    for rank, idx in enumerate(order):
        out[idx] = min(1.0, max((m - r) * pvals[order[r]] for r in range(rank + 1)))
    return out


METRICS = ["click_through", "conversion", "revenue_per_user", "revenue_per_purchase", "watch_time", "rating"]


def panel_case(name, target, arms):
    users = {arm[0]: simulate(*arm[1:]) for arm in arms}
    names = [arm[0] for arm in arms]
    control = users[names[0]]
    rows = {m: {t: compare(m, control, users[t]) for t in names[1:]} for m in METRICS}
    family = [(m, t) for m in METRICS if m != target for t in names[1:]]
    adjusted = holm([rows[m][t]["pValue"] for m, t in family])
    for (m, t), p in zip(family, adjusted):
        rows[m][t]["pValueAdjusted"] = f(p)
    for t in names[1:]:
        rows[target][t]["pValueAdjusted"] = None
    return {
        "name": name,
        "target": target,
        "confidenceLevel": CONF,
        "variants": names,
        "counters": {v: counters(users[v]) for v in names},
        "expected": {
            "familySize": len(family),
            "metrics": {m: {"variants": {v: estimates(m, users[v]) for v in names}, "comparisons": rows[m]} for m in METRICS},
        },
    }


def position_case(slates_by_length, clicks_by_position):
    shown = [sum(slates_by_length[p:]) for p in range(len(slates_by_length))]
    rows = []
    for p, (n, x) in enumerate(zip(shown, clicks_by_position)):
        ci = stats.binomtest(x, n).proportion_ci(confidence_level=CONF, method="wilson")
        rows.append({"position": p + 1, "impressions": n, "clicks": x, "ctr": f(x / n), "interval": [f(ci.low), f(ci.high)]})
    lists = sum(slates_by_length)
    rr = sum(x / (p + 1) for p, x in enumerate(clicks_by_position)) / lists
    return {"slatesByLength": slates_by_length, "clicksByPosition": clicks_by_position, "expected": {"byPosition": rows, "reciprocalRank": f(rr), "lists": lists}}


if __name__ == "__main__":
    cases = {
        "panels": [
            panel_case("three arms, click-through target", "click_through", [("control", 1500, 0.06, 0.05, 20, 600, 3.6), ("als", 1450, 0.07, 0.06, 22, 640, 3.7), ("bpr", 1550, 0.06, 0.045, 20, 560, 3.5)]),
            panel_case("two arms, conversion target", "conversion", [("control", 2500, 0.05, 0.04, 15, 500, 3.4), ("treatment", 2400, 0.05, 0.05, 15, 520, 3.4)]),
        ],
        "positions": [
            # 900 lists of 10 and 100 of 5 items; clicks decay with the position.
            position_case([0, 0, 0, 0, 100, 0, 0, 0, 0, 900], [130, 80, 61, 40, 33, 20, 15, 9, 4, 0]),
            position_case([0, 0, 40], [9, 3, 1]),
        ],
    }
    print(json.dumps(cases, indent=1))
