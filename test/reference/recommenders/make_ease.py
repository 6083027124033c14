"""EASE reference for test/unit/recommenders/models/ease.test.ts, computed with numpy.

A tiny binary user x item matrix X (users' items as listed in CASE), lambda; writes
ease.json with B = I - P diag(1 / diag P), P = (X^T X + lambda I)^-1, the scores S = X B and
the best rank-2 approximation of S (truncated SVD), which the rank-2 distillation must match.
Run: python3 make_ease.py  (from this directory).
"""
import json

import numpy as np

CASE = {
    "users": [[0, 1, 2], [1, 2], [0, 3], [3, 4, 5], [2, 4], [0, 1, 5], [4, 5]],
    "items": 6,
    "lambda": 0.5,
    "rank": 2,
}

X = np.zeros((len(CASE["users"]), CASE["items"]))
for u, items in enumerate(CASE["users"]):
    X[u, items] = 1.0
G = X.T @ X
P = np.linalg.inv(G + CASE["lambda"] * np.eye(CASE["items"]))
B = -P / np.diag(P)[None, :]
np.fill_diagonal(B, 0.0)
S = X @ B
U, s, Vt = np.linalg.svd(S, full_matrices=False)
k = CASE["rank"]
S_k = (U[:, :k] * s[:k]) @ Vt[:k, :]

with open("ease.json", "w") as out:
    json.dump(
        {
            **CASE,
            "B": B.tolist(),
            "scores": S.tolist(),
            "scores_rank": S_k.tolist(),
            "singular_values": s.tolist(),
        },
        out,
        indent=1,
    )
    out.write("\n")
