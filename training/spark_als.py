"""Train step on EMR Serverless: implicit ALS with Spark MLlib on the run's snapshot ratings,
written as an abrec-factors/1 artifact the serving Lambdas load (artifact_writer.py).

Started by the retraining state machine (lib/constructs/distributed-training.ts) as

  spark-submit --py-files s3://BUCKET/training/code/artifact_writer.py \
      s3://BUCKET/training/code/spark_als.py --bucket BUCKET --dataset-prefix datasets/snapshots/RUN/ \
      --model-id als --candidate-key training-runs/ID/candidate.json [--factors 14 --iterations 25 ...]

Reads the first of u.data (tab), ratings.dat ("::") or ratings.csv (header) under the prefix, as
the Lambda train step does; writes models/<model_id>/<version>/ (binaries first, manifest last,
nothing when the version exists: artifacts are immutable) and the candidate JSON the next state
reads ({model_id, model_version, algorithm, metrics}). It never writes models/<id>/latest.json:
the pointer moves only in the Publish step (and the job's role cannot write it).

Note on settings: Spark's regParam is scaled per row by its number of ratings (ALS-WR), unlike
the TypeScript trainer's absolute `reg`, so the same number means a different model; the
defaults here are Spark's usual ones for implicit feedback, not a copy of ALS_DEFAULTS.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import numpy as np
from pyspark.ml.feature import StringIndexer
from pyspark.ml.recommendation import ALS
from pyspark.sql import SparkSession, functions as F

from artifact_writer import candidate_of, encode_artifact, js_number, js_stringify, write_artifact

RATINGS_FILES = (("u.data", "\t", False), ("ratings.dat", "::", False), ("ratings.csv", ",", True))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--dataset-prefix", required=True)
    parser.add_argument("--model-id", required=True)
    parser.add_argument("--candidate-key", required=True)
    parser.add_argument("--factors", type=int, default=14)
    parser.add_argument("--iterations", type=int, default=25)
    parser.add_argument("--reg-param", type=float, default=0.1)
    parser.add_argument("--alpha", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def hadoop_fs(spark: SparkSession, uri: str):
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    return path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), path


def exists(spark: SparkSession, uri: str) -> bool:
    fs, path = hadoop_fs(spark, uri)
    return bool(fs.exists(path))


def put(spark: SparkSession, uri: str, data: bytes) -> None:
    fs, path = hadoop_fs(spark, uri)
    out = fs.create(path, True)
    try:
        out.write(bytearray(data))
    finally:
        out.close()


def read_ratings(spark: SparkSession, base: str):
    for name, separator, header in RATINGS_FILES:
        uri = f"{base}{name}"
        if not exists(spark, uri):
            continue
        lines = spark.read.text(uri).filter(F.length("value") > 0)
        if header:
            first = lines.first()["value"]
            lines = lines.filter(F.col("value") != first)
        parts = F.split(F.col("value"), separator)
        return (
            lines.select(
                parts.getItem(0).alias("user"),
                parts.getItem(1).alias("item"),
                parts.getItem(2).cast("double").alias("rating"),
                parts.getItem(3).cast("double").alias("timestamp"),
            ),
            uri,
        )
    raise SystemExit(f"no ratings file ({', '.join(n for n, _, _ in RATINGS_FILES)}) under {base}")


def main() -> None:
    args = parse_args()
    started = time.time()
    spark = SparkSession.builder.appName(f"abrec-als-{args.model_id}").getOrCreate()
    base = f"s3://{args.bucket}/{args.dataset_prefix}"
    ratings, source = read_ratings(spark, base)
    bad = ratings.filter(F.col("rating").isNull() | F.col("timestamp").isNull() | F.col("user").isNull() | F.col("item").isNull()).count()
    if bad:
        raise SystemExit(f"{source}: {bad} lines without 4 fields (user, item, rating, timestamp)")
    # Ids indexed in ascending string order: sorting rows by (user, item) strings is then the
    # same as sorting by index, which gives the sorted seen-items CSR and the fingerprint order.
    users_model = StringIndexer(inputCol="user", outputCol="u", stringOrderType="alphabetAsc").fit(ratings)
    items_model = StringIndexer(inputCol="item", outputCol="i", stringOrderType="alphabetAsc").fit(ratings)
    indexed = items_model.transform(users_model.transform(ratings)).withColumn("u", F.col("u").cast("int")).withColumn("i", F.col("i").cast("int")).cache()
    user_ids, item_ids = list(users_model.labels), list(items_model.labels)
    users, items = len(user_ids), len(item_ids)

    als = ALS(
        rank=args.factors, maxIter=args.iterations, regParam=args.reg_param, alpha=args.alpha, implicitPrefs=True,
        userCol="u", itemCol="i", ratingCol="rating", seed=args.seed, nonnegative=False,
    )
    model = als.fit(indexed)
    user_factors = np.zeros((users, args.factors), np.float32)
    for row in model.userFactors.toLocalIterator():
        user_factors[row["id"]] = row["features"]
    item_factors = np.zeros((items, args.factors), np.float32)
    for row in model.itemFactors.toLocalIterator():
        item_factors[row["id"]] = row["features"]

    # One ordered pass on the driver: the fingerprint (as fingerprintRatings), item popularity
    # (rows per item) and the seen items per user (sorted, unique), without holding the rows.
    import hashlib

    digest = hashlib.sha256()
    popularity = np.zeros(items, np.float64)
    seen_counts = np.zeros(users, np.int64)
    seen: list[np.ndarray] = []
    chunk: list[int] = []
    last = (-1, -1)
    rows = 0
    for row in indexed.orderBy("user", "item", "timestamp", "rating").toLocalIterator():
        rows += 1
        digest.update(f"{row['user']}\t{row['item']}\t{js_number(row['rating'])}\t{js_number(row['timestamp'])}\n".encode("utf-8"))
        popularity[row["i"]] += 1
        if (row["u"], row["i"]) != last:
            seen_counts[row["u"]] += 1
            chunk.append(row["i"])
            last = (row["u"], row["i"])
            if len(chunk) >= 1 << 20:
                seen.append(np.asarray(chunk, np.int32))
                chunk = []
    seen.append(np.asarray(chunk, np.int32))
    offsets = np.zeros(users + 1, np.int64)
    np.cumsum(seen_counts, out=offsets[1:])
    scale = [float(indexed.agg(F.min("rating")).first()[0]), float(indexed.agg(F.max("rating")).first()[0])]

    manifest, files = encode_artifact(
        model_id=args.model_id,
        algorithm="als",
        user_ids=user_ids,
        item_ids=item_ids,
        user_factors=user_factors,
        item_factors=item_factors,
        seen_offsets=offsets,
        seen_items=np.concatenate(seen),
        item_popularity=popularity,
        rating_scale=(min(1.0, scale[0]), max(5.0, scale[1])),
        training_data={"fingerprint": digest.hexdigest(), "ratings": rows, "users": users, "items": items, "source": f"{source} (spark-als on emr-serverless)"},
        hyperparameters={"factors": args.factors, "iterations": args.iterations, "regParam": args.reg_param, "alpha": args.alpha, "implicitPrefs": True, "seed": args.seed, "engine": "emr-serverless"},
        metrics={"training_seconds": round(time.time() - started, 3)},
    )
    prefix = f"s3://{args.bucket}/models/{manifest['model_id']}/{manifest['version']}/"
    if not exists(spark, f"{prefix}manifest.json"):
        with tempfile.TemporaryDirectory() as tmp:
            directory = write_artifact(tmp, manifest, files)
            for path in files:
                with open(os.path.join(directory, path), "rb") as handle:
                    put(spark, f"{prefix}{path}", handle.read())
            with open(os.path.join(directory, "manifest.json"), "rb") as handle:
                put(spark, f"{prefix}manifest.json", handle.read())
    put(spark, f"s3://{args.bucket}/{args.candidate_key}", js_stringify(candidate_of(manifest)).encode("utf-8"))
    print(json.dumps(candidate_of(manifest)))
    spark.stop()


if __name__ == "__main__":
    main()
