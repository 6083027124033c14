"""Train step as a SageMaker training job: implicit ALS (Hu, Koren and Volinsky 2008) in numpy
on the run's snapshot ratings, written as an abrec-factors/1 artifact (artifact_writer.py).

Runs in the SageMaker scikit-learn container (numpy and boto3 included) in script mode: the
state machine (lib/constructs/distributed-training.ts) passes this directory as the `code`
channel and the settings as hyperparameters (`--bucket`, `--dataset-prefix`, `--model-id`,
`--candidate-key`, `--factors`, ...); the script downloads the snapshot's ratings file itself. No 15-minute limit and up to
hundreds of GB of memory on one instance: the step for data past one Lambda that still fits a
machine. Writes models/<model_id>/<version>/ (binaries first, manifest last, skipped when the
version exists) and the candidate JSON; never the latest.json pointer.

Also runs locally: ``python3 sagemaker_als.py --ratings-dir DIR --output-dir OUT --model-id als``.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from artifact_writer import candidate_of, encode_artifact, item_popularity, js_stringify, manifest_text, ratings_fingerprint, seen_items_csr, write_artifact  # noqa: E402

RATINGS_FILES = (("u.data", "\t", False), ("ratings.dat", "::", False), ("ratings.csv", ",", True))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratings-dir", help="read the ratings from this directory (a local run)")
    parser.add_argument("--bucket", help="read the ratings from --dataset-prefix and write the artifact and candidate in this bucket")
    parser.add_argument("--dataset-prefix", help="key prefix of the run's snapshot in --bucket")
    parser.add_argument("--output-dir", help="write locally under this directory instead of S3")
    parser.add_argument("--model-id", required=True)
    parser.add_argument("--candidate-key", default="candidate.json")
    parser.add_argument("--factors", type=int, default=14)
    parser.add_argument("--iterations", type=int, default=15)
    parser.add_argument("--reg", type=float, default=60.0)
    parser.add_argument("--alpha", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=0)
    args, _unknown = parser.parse_known_args()  # SageMaker may add its own arguments
    if not args.bucket and not args.output_dir:
        parser.error("give --bucket or --output-dir")
    if not args.ratings_dir and not (args.bucket and args.dataset_prefix):
        parser.error("give --ratings-dir, or --bucket and --dataset-prefix")
    return args


def download_ratings(bucket: str, prefix: str, directory: str) -> None:
    """Copies the first ratings file present under the prefix (the role reads datasets/* only:
    no input channel, which would copy a whole prefix or need a wildcard grant)."""
    import boto3  # in the SageMaker container; not needed for a local run

    s3 = boto3.client("s3")
    for name, _, _ in RATINGS_FILES:
        try:
            s3.download_file(bucket, f"{prefix}{name}", os.path.join(directory, name))
            return
        except s3.exceptions.ClientError:
            continue
    raise SystemExit(f"no ratings file ({', '.join(n for n, _, _ in RATINGS_FILES)}) under s3://{bucket}/{prefix}")


def read_ratings(directory: str):
    for name, separator, header in RATINGS_FILES:
        path = os.path.join(directory, name)
        if not os.path.exists(path):
            continue
        rows = []
        with open(path, encoding="utf-8", errors="replace") as handle:
            if header:
                next(handle, None)
            for number, line in enumerate(handle, start=2 if header else 1):
                line = line.rstrip("\r\n")
                if not line:
                    continue
                fields = line.split(separator)
                if len(fields) != 4:
                    raise SystemExit(f"{path}:{number}: expected 4 fields (user, item, rating, timestamp), found {len(fields)}")
                rows.append((fields[0], fields[1], float(fields[2]), float(fields[3])))
        return rows, path
    raise SystemExit(f"no ratings file ({', '.join(n for n, _, _ in RATINGS_FILES)}) in {directory}")


def half_step(X: np.ndarray, Y: np.ndarray, offsets: np.ndarray, targets: np.ndarray, confidence: np.ndarray, reg: float) -> None:
    """Exact least squares for every row of X: (Y'Y + Y_r'(C_r - I)Y_r + reg I) x = Y_r' C_r 1."""
    k = Y.shape[1]
    gram = Y.T @ Y + reg * np.eye(k)
    for row in range(X.shape[0]):
        start, end = offsets[row], offsets[row + 1]
        if start == end:
            X[row] = 0
            continue
        Yr = Y[targets[start:end]]
        c = confidence[start:end]
        A = gram + (Yr.T * (c - 1)) @ Yr
        X[row] = np.linalg.solve(A, Yr.T @ c)


def group(by: np.ndarray, other: np.ndarray, weight: np.ndarray, rows: int):
    order = np.argsort(by, kind="stable")
    offsets = np.zeros(rows + 1, np.int64)
    np.cumsum(np.bincount(by, minlength=rows), out=offsets[1:])
    return offsets, other[order], weight[order]


def main() -> None:
    args = parse_args()
    started = time.time()
    if args.ratings_dir:
        rows, source = read_ratings(args.ratings_dir)
    else:
        import tempfile

        with tempfile.TemporaryDirectory() as directory:
            download_ratings(args.bucket, args.dataset_prefix, directory)
            rows, _ = read_ratings(directory)
        source = f"s3://{args.bucket}/{args.dataset_prefix}"
    user_ids = sorted({r[0] for r in rows})
    item_ids = sorted({r[1] for r in rows})
    user_of = {u: n for n, u in enumerate(user_ids)}
    item_of = {i: n for n, i in enumerate(item_ids)}
    u = np.fromiter((user_of[r[0]] for r in rows), np.int64, len(rows))
    i = np.fromiter((item_of[r[1]] for r in rows), np.int64, len(rows))
    rating = np.fromiter((r[2] for r in rows), np.float64, len(rows))
    confidence = 1 + args.alpha * rating
    rng = np.random.default_rng(args.seed)
    X = rng.normal(0, 0.01, (len(user_ids), args.factors))
    Y = rng.normal(0, 0.01, (len(item_ids), args.factors))
    by_user = group(u, i, confidence, len(user_ids))
    by_item = group(i, u, confidence, len(item_ids))
    for iteration in range(args.iterations):
        half_step(X, Y, *by_user, args.reg)
        half_step(Y, X, *by_item, args.reg)
        print(f"iteration {iteration + 1}/{args.iterations} done at {time.time() - started:.1f} s", flush=True)
    offsets, seen = seen_items_csr(u, i, len(user_ids))
    manifest, files = encode_artifact(
        model_id=args.model_id,
        algorithm="als",
        user_ids=user_ids,
        item_ids=item_ids,
        user_factors=X,
        item_factors=Y,
        seen_offsets=offsets,
        seen_items=seen,
        item_popularity=item_popularity(i, len(item_ids)),
        rating_scale=(min(1.0, float(rating.min())), max(5.0, float(rating.max()))),
        training_data={"fingerprint": ratings_fingerprint(rows), "ratings": len(rows), "users": len(user_ids), "items": len(item_ids), "source": f"{source} (numpy als on sagemaker)"},
        hyperparameters={"factors": args.factors, "iterations": args.iterations, "reg": args.reg, "alpha": args.alpha, "ratingWeighted": 1, "seed": args.seed, "engine": "sagemaker"},
        metrics={"training_seconds": round(time.time() - started, 3)},
    )
    candidate = js_stringify(candidate_of(manifest))
    if args.output_dir:
        write_artifact(args.output_dir, manifest, files)
        with open(os.path.join(args.output_dir, args.candidate_key), "w", encoding="utf-8") as out:
            out.write(candidate)
    else:
        import boto3  # in the SageMaker container; not needed for a local run

        s3 = boto3.client("s3")
        prefix = f"models/{manifest['model_id']}/{manifest['version']}/"
        try:
            s3.head_object(Bucket=args.bucket, Key=f"{prefix}manifest.json")
        except s3.exceptions.ClientError:
            for path, data in files.items():
                s3.put_object(Bucket=args.bucket, Key=f"{prefix}{path}", Body=data)
            s3.put_object(Bucket=args.bucket, Key=f"{prefix}manifest.json", Body=manifest_text(manifest).encode("utf-8"), ContentType="application/json")
        s3.put_object(Bucket=args.bucket, Key=args.candidate_key, Body=candidate.encode("utf-8"), ContentType="application/json")
    print(candidate)


if __name__ == "__main__":
    main()
