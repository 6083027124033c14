"""Development check of svd.c against Surprise's algorithm, written out in plain Python.

Surprise's Dataset.construct_trainset, SVD.sgd and SVD.estimate with clipping, statement by
statement, using the constant initialisation init_mean=0.1, init_std_dev=0 so that no random
stream is involved. Prints the test RMSE; run the C program with the same settings and
`--init-mean 0.1 --init-std 0` and compare (they agree to about 1e-12). Slow: small data only.

    python3 crosscheck.py u.data TRAIN_ROWS TEST_ROWS [FACTORS] [EPOCHS]
"""
import math
import sys
from collections import defaultdict


def main(data_path, train_path, test_path, n_factors=10, n_epochs=5, lr=0.005, reg=0.02):
    raw = [line.rstrip('\n').split('\t') for line in open(data_path)]
    train_rows = [int(x) for x in open(train_path)]
    test_rows = [int(x) for x in open(test_path)]

    # construct_trainset: inner ids by first appearance, ur[u] in insertion order.
    user_inner, item_inner, ur = {}, {}, defaultdict(list)
    for row in train_rows:
        user, item, rating = raw[row][0], raw[row][1], float(raw[row][2])
        user_inner.setdefault(user, len(user_inner))
        item_inner.setdefault(item, len(item_inner))
        ur[user_inner[user]].append((item_inner[item], rating))
    all_ratings = [(u, i, r) for u, ratings in ur.items() for i, r in ratings]
    global_mean = sum(r for _, _, r in all_ratings) / len(all_ratings)

    bu = [0.0] * len(user_inner)
    bi = [0.0] * len(item_inner)
    pu = [[0.1] * n_factors for _ in user_inner]
    qi = [[0.1] * n_factors for _ in item_inner]
    for _ in range(n_epochs):
        for u, i, r in all_ratings:
            dot = 0.0
            for f in range(n_factors):
                dot += qi[i][f] * pu[u][f]
            err = r - (global_mean + bu[u] + bi[i] + dot)
            bu[u] += lr * (err - reg * bu[u])
            bi[i] += lr * (err - reg * bi[i])
            for f in range(n_factors):
                puf, qif = pu[u][f], qi[i][f]
                pu[u][f] += lr * (err * qif - reg * puf)
                qi[i][f] += lr * (err * puf - reg * qif)

    squared = 0.0
    for row in test_rows:
        user, item, rating = raw[row][0], raw[row][1], float(raw[row][2])
        u, i = user_inner.get(user), item_inner.get(item)
        est = global_mean + (bu[u] if u is not None else 0) + (bi[i] if i is not None else 0)
        if u is not None and i is not None:
            est += sum(qi[i][f] * pu[u][f] for f in range(n_factors))
        est = max(1.0, min(5.0, est))
        squared += (rating - est) ** 2
    print(repr(math.sqrt(squared / len(test_rows))))


if __name__ == '__main__':
    args = sys.argv[1:]
    if len(args) < 3:
        sys.exit(__doc__)
    main(args[0], args[1], args[2], *(int(a) for a in args[3:5]))
