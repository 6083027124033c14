"""Measures what the C port leaves out: Surprise's per-rating Python work.

SVD.sgd is Cython, but it walks the ratings with `for u, i, r in trainset.all_ratings()`, and
Trainset.all_ratings is a pure-Python generator over the ur dict. This times that generator,
consumed with the same 3-tuple unpacking, for ML-100K-sized folds (80,000 training ratings,
943 users, 1,682 items) over 20 epochs, with an empty loop body: an estimate of the time a real
Surprise fit spends on top of the C loop (a Cython consumer unpacks a little faster than this
Python one, so read it as an approximate, not exact, addition).

    python3 python-overhead.py
"""
import random
import time
from collections import defaultdict

random.seed(0)
ur = defaultdict(list)
for _ in range(80_000):
    ur[random.randrange(943)].append((random.randrange(1682), float(random.randint(1, 5))))


def all_ratings():
    for u, u_ratings in ur.items():
        for i, r in u_ratings:
            yield u, i, r


best = float('inf')
for _ in range(3):
    start = time.perf_counter()
    for _epoch in range(20):
        for u, i, r in all_ratings():
            pass
    best = min(best, time.perf_counter() - start)
print(f'all_ratings() over 20 epochs of 80,000 ratings: {best:.3f} s per fit ({best / 1.6e6 * 1e9:.0f} ns per rating)')
