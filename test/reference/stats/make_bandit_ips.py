#!/usr/bin/env python3
# Reference values for a bandit analysed as a bandit (lambdas/domain/stats/bandit.ts), computed
# independently with numpy / scipy from simulated RAW logged data: one record per exposed user
# with the allocation in force when the user was assigned, the arm drawn from it, and the user's
# visits (impressions, clicks, purchases per day). Made with (python 3, scipy 1.17.1,
# numpy 2.4.6), from the repository root:
#   python3 test/reference/stats/make_bandit_ips.py > test/reference/stats/bandit_ips.json
# The TypeScript test (test/unit/stats/bandit-reference.test.ts) turns the same raw log into the
# service's daily counters with the service's own increments (the exposure with its allocation,
# every event's user totals and reward sums, on the day each happens), runs the analysis and must
# match every value here to a relative 1e-7. Nothing here uses the counters' sums:
# - sample ratio: scipy.stats.chisquare of the observed users per arm against the sum over every
#   exposed user of the share the arm had at that user's assignment (per day, cumulative);
# - IPS of arm a: the mean over all N exposed users of x = 1{arm = a} r / p, its interval from
#   numpy's sample variance (ddof=1) of x over N; SNIPS: sum(x) / sum(y), y = 1{arm = a} / p,
#   with the delta-method variance from the per-user influence (x - R y) / mean(y), ddof=1;
#   effective sample size sum(y)^2 / sum(y^2); the reward r is "clicked at least once" (or
#   "bought at least once" for a conversion target) as of the end of the day;
# - SNIPS difference against the control: the variance of the difference of the two arms'
#   per-user influences (ddof=1), computed directly, so the claim that their covariance is zero
#   is checked, not assumed; IPS difference likewise from x_t - x_c per user;
# - relative lift with the log-scale (Katz-style) interval; fixed-horizon normal p-values;
# - always valid: the mSPRT of Johari et al. on each day's SNIPS difference and variance, tau =
#   mde x the last day's control SNIPS, running minimum of 1 / Lambda, running intersection of the
#   intervals, Holm over the treatment arms.
import json
import math

import numpy as np
from scipy import stats

CONF = 0.95
ALPHA = 1 - CONF
Z = stats.norm.ppf(1 - ALPHA / 2)
MDE = 0.1


def f(x):
    x = float(x)
    assert math.isfinite(x), x
    return x


def interval(low, high):
    return {"low": f(low), "high": f(high)}


def simulate(rng, *, arms, days, users_per_day, blocks, click_rate, purchase_rate, day_effect, min_share):
    """Users arrive over the days; every block of a day draws a new allocation (a moving bandit,
    floored at min_share); each user gets an arm from it and visits on later days."""
    k = len(arms)
    log = []
    allocations = []
    drift = np.zeros(k)
    for day in range(days):
        for block in range(blocks):
            drift += rng.normal(0, 0.6, k)
            drift[1] += 0.25  # the first treatment pulls ahead over time
            weights = np.exp(drift - drift.max())
            shares = weights / weights.sum()
            shares = min_share + (1 - k * min_share) * shares
            # Logged to 6 decimals (the log is what the analysis sees, so their sum a hair off 1 is part of it).
            shares = np.round(shares / shares.sum(), 6)
            allocations.append([f(s) for s in shares])
            for _ in range(users_per_day // blocks):
                a = int(rng.choice(k, p=shares / shares.sum()))
                activity = rng.gamma(2.0, 0.5)
                visits = []
                for visit_day in range(day, days):
                    if visit_day > day and rng.random() > 0.45:
                        continue
                    impressions = 1 + int(rng.poisson(1.5))
                    rate = click_rate[a] * day_effect[visit_day] * activity
                    clicks = int(rng.binomial(impressions * 2, min(0.95, rate)))
                    purchases = int(rng.binomial(clicks, purchase_rate[a])) if clicks > 0 else 0
                    visits.append([visit_day, impressions, clicks, purchases])
                log.append({"d": day, "a": a, "b": len(allocations) - 1, "pi": allocations[-1], "v": visits})
    return log, allocations


def msprt(looks, tau2):
    p_running = 1.0
    current = None
    out = []
    for difference, variance in looks:
        if variance > 0 and math.isfinite(variance):
            total = variance + tau2
            log_lr = 0.5 * math.log(variance / total) + tau2 * difference * difference / (2 * variance * total)
            p_running = min(p_running, min(1.0, math.exp(-log_lr)))
            half = math.sqrt(2 * variance * total / tau2 * (math.log(1 / ALPHA) + 0.5 * math.log(total / variance)))
            low, high = difference - half, difference + half
            if current is None:
                current = [low, high]
            else:
                current = [max(current[0], low), min(current[1], high)]
            if current[0] > current[1]:
                current = [difference, difference]
        out.append((p_running, None if current is None else list(current)))
    return out


def holm(ps):
    m = len(ps)
    order = sorted(range(m), key=lambda i: (ps[i], i))
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * ps[i]))
        adjusted[i] = running
    return adjusted


def analyse(log, arms, days, reward):
    k = len(arms)
    looks = []
    for day in range(days):
        exposed = [u for u in log if u["d"] <= day]
        n = len(exposed)
        arm = np.array([u["a"] for u in exposed])
        p = np.array([u["pi"][u["a"]] for u in exposed])
        pi = np.array([u["pi"] for u in exposed])
        column = 2 if reward == "clickers" else 3
        r = np.array([1.0 if any(v[column] > 0 for v in u["v"] if v[0] <= day) else 0.0 for u in exposed])
        looks.append({"n": n, "arm": arm, "p": p, "pi": pi, "r": r})

    def snips_parts(look, a):
        n = look["n"]
        x = np.where(look["arm"] == a, look["r"] / look["p"], 0.0)
        y = np.where(look["arm"] == a, 1.0 / look["p"], 0.0)
        ratio = x.sum() / y.sum()
        influence = (x - ratio * y) / y.mean()
        return x, y, ratio, influence, np.var(influence, ddof=1) / n

    last = looks[-1]
    n = last["n"]
    observed = np.array([(last["arm"] == a).sum() for a in range(k)], dtype=float)
    expected = last["pi"].sum(axis=0)
    chi = stats.chisquare(observed, f_exp=expected * observed.sum() / expected.sum())
    arm_rows = []
    for a in range(k):
        x, y, ratio, influence, var = snips_parts(last, a)
        ips = x.mean()
        ips_se = math.sqrt(np.var(x, ddof=1) / n)
        users = int(observed[a])
        successes = int(last["r"][last["arm"] == a].sum())
        arm_rows.append({
            "name": arms[a],
            "exposedUsers": users,
            "expectedExposures": f(expected[a]),
            "successes": successes,
            "observedRate": f(successes / users),
            "ips": f(ips),
            "ipsInterval": interval(ips - Z * ips_se, ips + Z * ips_se),
            "snips": f(ratio),
            "snipsInterval": interval(ratio - Z * math.sqrt(var), ratio + Z * math.sqrt(var)),
            "effectiveSampleSize": f(y.sum() ** 2 / (y * y).sum()),
        })

    control_snips = arm_rows[0]["snips"]
    tau2 = (MDE * control_snips) ** 2
    comparisons = []
    sequences = []
    for a in range(1, k):
        per_look = []
        for look in looks:
            _, _, rc, ic, _ = snips_parts(look, 0)
            _, _, rt, it, _ = snips_parts(look, a)
            per_look.append((rt - rc, np.var(it - ic, ddof=1) / look["n"]))
        sequences.append(msprt(per_look, tau2))
        xc, _, rc, ic, vc = snips_parts(last, 0)
        xt, _, rt, it, vt = snips_parts(last, a)
        difference = rt - rc
        variance = np.var(it - ic, ddof=1) / n
        se = math.sqrt(variance)
        z = difference / se
        ips_difference = xt.mean() - xc.mean()
        ips_se = math.sqrt(np.var(xt - xc, ddof=1) / n)
        se_log = math.sqrt(vc / rc**2 + vt / rt**2)
        comparisons.append({
            "variant": arms[a],
            "controlEstimate": f(rc),
            "treatmentEstimate": f(rt),
            "difference": f(difference),
            "standardError": f(se),
            "differenceInterval": interval(difference - Z * se, difference + Z * se),
            "zScore": f(z),
            "pValue": f(2 * stats.norm.sf(abs(z))),
            "relativeLift": f(rt / rc - 1),
            "relativeLiftInterval": interval(math.exp(math.log(rt / rc) - Z * se_log) - 1, math.exp(math.log(rt / rc) + Z * se_log) - 1),
            "ipsDifference": f(ips_difference),
            "ipsDifferenceInterval": interval(ips_difference - Z * ips_se, ips_difference + Z * ips_se),
            "alwaysValidPValue": f(sequences[-1][-1][0]),
            "alwaysValidInterval": interval(*sequences[-1][-1][1]),
        })
    adjusted = holm([c["alwaysValidPValue"] for c in comparisons])
    for c, adj in zip(comparisons, adjusted):
        c["alwaysValidPValueAdjusted"] = f(adj)

    timeline = []
    for day, look in enumerate(looks):
        obs = np.array([(look["arm"] == a).sum() for a in range(k)], dtype=float)
        exp = look["pi"].sum(axis=0)
        timeline.append({"srmPValue": f(stats.chisquare(obs, f_exp=exp * obs.sum() / exp.sum()).pvalue)})

    return {
        "totalExposures": n,
        "srm": {"chiSquare": f(chi.statistic), "pValue": f(chi.pvalue), "degreesOfFreedom": k - 1},
        "arms": arm_rows,
        "comparisons": comparisons,
        "timeline": timeline,
    }


def case(name, seed, target, arms, **sim):
    rng = np.random.default_rng(seed)
    log, allocations = simulate(rng, arms=arms, **sim)
    reward = "converters" if target == "conversion" else "clickers"
    return {
        "name": name,
        "target": target,
        "variants": arms,
        "days": sim["days"],
        "confidenceLevel": CONF,
        "mde": MDE,
        # The raw log: the allocations in force, and per exposed user [day, arm, allocation, visits]
        # with visits [day, impressions, clicks, purchases]; the arm's propensity is its share.
        "allocations": allocations,
        "users": [[u["d"], u["a"], u["b"], u["v"]] for u in log],
        "expected": analyse(log, arms, sim["days"], reward),
    }


cases = [
    case(
        "three arms, click-through, allocation moving within each day, fewer clicks late",
        20261211,
        "click_through",
        ["control", "als", "bpr"],
        days=5,
        users_per_day=360,
        blocks=4,
        click_rate=[0.10, 0.13, 0.11],
        purchase_rate=[0.1, 0.1, 0.1],
        day_effect=[1.4, 1.2, 1.0, 0.8, 0.7],
        min_share=0.05,
    ),
    case(
        "two arms, conversion target",
        20261212,
        "conversion",
        ["control", "treatment"],
        days=4,
        users_per_day=400,
        blocks=3,
        click_rate=[0.12, 0.12],
        purchase_rate=[0.15, 0.22],
        day_effect=[1.3, 1.1, 0.9, 0.8],
        min_share=0.1,
    ),
]

print(json.dumps({"cases": cases}, separators=(",", ":")))
