"""Writes a model artifact in the format the TypeScript loader accepts (abrec-factors/1).

The contract is lambdas/domain/recommenders/artifact.ts: a directory
``models/<model_id>/<version>/`` holding ``manifest.json`` and seven little-endian binaries
(float32 factors, biases and popularity, int32 seen-items CSR). The version is the first 16 hex
characters of sha256 over the manifest body serialised exactly as JavaScript's JSON.stringify
does (no spaces, keys in insertion order, numbers as Number#toString prints them), so this
module carries its own serialiser rather than trusting json.dumps for numbers.

Pure Python and numpy: the Spark job (spark_als.py) and the SageMaker job (sagemaker_als.py)
compute factors their own way and hand the arrays here; a vitest test
(test/unit/recommenders/python-artifact-writer.test.ts) runs this module and loads the result
with the TypeScript loader.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

ARTIFACT_FORMAT = "abrec-factors/1"
MAX_ID_BYTES = 256
MODEL_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")

# Name -> (file, dtype), in the order of ARTIFACT_FILES in artifact.ts (the manifest keeps it).
ARTIFACT_FILES = (
    ("user_factors", "user_factors.f32", "float32"),
    ("item_factors", "item_factors.f32", "float32"),
    ("user_bias", "user_bias.f32", "float32"),
    ("item_bias", "item_bias.f32", "float32"),
    ("item_popularity", "item_popularity.f32", "float32"),
    ("seen_offsets", "seen_offsets.i32", "int32"),
    ("seen_items", "seen_items.i32", "int32"),
)


class ArtifactWriteError(ValueError):
    """The arrays or ids cannot make a valid artifact; the message names the field."""


# --------------------------------------------------------------------------------------------
# JSON exactly as JSON.stringify writes it


def js_number(value: float | int) -> str:
    """Number#toString (ECMA-262 Number::toString) of a double: shortest round-trip digits."""
    if isinstance(value, bool):
        raise TypeError("booleans are not numbers here")
    value = float(value)
    if not math.isfinite(value):
        raise ArtifactWriteError(f"{value} is not a finite number (JSON.stringify would write null)")
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    # repr gives the shortest digits that round-trip, as JavaScript does; re-lay them out.
    mantissa, _, exponent = repr(abs(value)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    # n: position of the decimal point relative to the first significant digit (value = 0.d1d2.. x 10^n)
    n = len(whole.lstrip("0")) if whole.strip("0") else -(len(fraction) - len(fraction.lstrip("0")))
    n += int(exponent) if exponent else 0
    digits = digits.rstrip("0") or "0"
    k = len(digits)
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        text = digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + ("+" if e >= 0 else "-") + str(abs(e))
    return sign + text


def _is_array_index(key: str) -> bool:
    return re.fullmatch(r"0|[1-9][0-9]*", key) is not None and int(key) < 2**32 - 1


def js_stringify(value: Any) -> str:
    """JSON.stringify(value) for JSON-like Python values (dict, list, str, int, float, bool, None)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float, np.integer, np.floating)):
        return js_number(float(value))
    if isinstance(value, str):
        # json.dumps escapes what JSON.stringify escapes (quote, backslash, C0 controls as
        # \b \f \n \r \t or \u00xx) and, with ensure_ascii off, nothing else.
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        keys = [str(k) for k in value.keys()]
        # JavaScript objects list integer-like keys first, ascending, then the rest in insertion order.
        ordered = sorted((k for k in keys if _is_array_index(k)), key=int) + [k for k in keys if not _is_array_index(k)]
        by_key = {str(k): v for k, v in value.items()}
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + js_stringify(by_key[k]) for k in ordered) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(js_stringify(v) for v in value) + "]"
    raise TypeError(f"cannot serialise {type(value).__name__} as JSON")


# --------------------------------------------------------------------------------------------
# Training-data helpers shared with the TypeScript trainers


def seen_items_csr(user_index: np.ndarray, item_index: np.ndarray, users: int) -> tuple[np.ndarray, np.ndarray]:
    """Items each user has seen as CSR: offsets (users + 1), items sorted and unique per user."""
    pairs = np.unique(np.stack([np.asarray(user_index, np.int64), np.asarray(item_index, np.int64)], axis=1), axis=0)
    counts = np.bincount(pairs[:, 0], minlength=users) if len(pairs) else np.zeros(users, np.int64)
    offsets = np.zeros(users + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    return offsets.astype("<i4"), pairs[:, 1].astype("<i4")


def item_popularity(item_index: np.ndarray, items: int) -> np.ndarray:
    """Ratings per item, as the TypeScript countItemPopularity counts them."""
    return np.bincount(np.asarray(item_index, np.int64), minlength=items).astype("<f4")


def ratings_fingerprint(rows: Iterable[tuple[str, str, float, float]]) -> str:
    """sha256 of the rows sorted by (user id, item id, timestamp, rating), each written as
    ``user\\titem\\trating\\ttimestamp\\n`` with numbers as JavaScript's String() prints them:
    fingerprintRatings in lambdas/domain/recommenders/models/common.ts. Ids compare by UTF-16
    code units there; numeric and ASCII ids (every MovieLens id) sort the same here."""
    digest = hashlib.sha256()
    for user, item, rating, timestamp in sorted(rows, key=lambda r: (r[0], r[1], r[3], r[2])):
        digest.update(f"{user}\t{item}\t{js_number(rating)}\t{js_number(timestamp)}\n".encode("utf-8"))
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------
# The artifact


def _check_ids(field: str, ids: Sequence[str]) -> list[str]:
    out = []
    for i, id_ in enumerate(ids):
        if not isinstance(id_, str) or len(id_) == 0 or len(id_.encode("utf-8")) > MAX_ID_BYTES:
            raise ArtifactWriteError(f"{field}[{i}] must be a non-empty id of at most {MAX_ID_BYTES} UTF-8 bytes")
        out.append(id_)
    if len(set(out)) != len(out):
        raise ArtifactWriteError(f"{field} has duplicates")
    return out


def _array(name: str, values: Any, dtype: str, length: int) -> np.ndarray:
    array = np.ascontiguousarray(np.asarray(values).reshape(-1), dtype="<f4" if dtype == "float32" else "<i4")
    if array.size != length:
        raise ArtifactWriteError(f"{name} has {array.size} elements, expected {length}")
    if dtype == "float32" and not np.all(np.isfinite(array)):
        raise ArtifactWriteError(f"{name} has a value that is not finite")
    return array


def encode_artifact(
    *,
    model_id: str,
    algorithm: str,
    user_ids: Sequence[str],
    item_ids: Sequence[str],
    user_factors: Any,
    item_factors: Any,
    seen_offsets: Any,
    seen_items: Any,
    item_popularity: Any,
    training_data: Mapping[str, Any],
    hyperparameters: Mapping[str, Any],
    metrics: Mapping[str, float] | None = None,
    user_bias: Any = None,
    item_bias: Any = None,
    global_bias: float = 0.0,
    rating_scale: tuple[float, float] = (1, 5),
    created_at: datetime | None = None,
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The manifest (a dict in the key order of encodeArtifact) and the bytes of each binary."""
    if not isinstance(model_id, str) or not MODEL_ID_PATTERN.match(model_id):
        raise ArtifactWriteError(f'model_id "{model_id}" must match {MODEL_ID_PATTERN.pattern}')
    users_list = _check_ids("user_ids", user_ids)
    items_list = _check_ids("item_ids", item_ids)
    users, items = len(users_list), len(items_list)
    uf = np.asarray(user_factors)
    factors = int(uf.shape[1]) if uf.ndim == 2 else (int(uf.size // users) if users else 0)
    seen = np.asarray(seen_items).reshape(-1)
    arrays = {
        "user_factors": _array("user_factors", user_factors, "float32", users * factors),
        "item_factors": _array("item_factors", item_factors, "float32", items * factors),
        "user_bias": _array("user_bias", np.zeros(users) if user_bias is None else user_bias, "float32", users),
        "item_bias": _array("item_bias", np.zeros(items) if item_bias is None else item_bias, "float32", items),
        "item_popularity": _array("item_popularity", item_popularity, "float32", items),
        "seen_offsets": _array("seen_offsets", seen_offsets, "int32", users + 1),
        "seen_items": _array("seen_items", seen, "int32", seen.size),
    }
    offsets = arrays["seen_offsets"]
    if offsets[0] != 0 or offsets[-1] != arrays["seen_items"].size or np.any(np.diff(offsets) < 0):
        raise ArtifactWriteError("seen_offsets must rise from 0 to the number of seen_items")
    if arrays["seen_items"].size and (arrays["seen_items"].min() < 0 or arrays["seen_items"].max() >= items):
        raise ArtifactWriteError("seen_items holds an index outside the item ids")
    if not math.isfinite(float(global_bias)):
        raise ArtifactWriteError("global_bias is not finite")
    files: dict[str, bytes] = {}
    entries: dict[str, dict[str, Any]] = {}
    for name, path, dtype in ARTIFACT_FILES:
        data = arrays[name].tobytes()
        files[path] = data
        entries[name] = {"path": path, "dtype": dtype, "length": int(arrays[name].size), "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    body = {
        "format": ARTIFACT_FORMAT,
        "model_id": model_id,
        "algorithm": algorithm,
        "dimensions": {"users": users, "items": items, "factors": factors},
        "global_bias": float(global_bias),
        "rating_scale": [float(rating_scale[0]), float(rating_scale[1])],
        "user_ids": users_list,
        "item_ids": items_list,
        "training_data": dict(training_data),
        "hyperparameters": dict(hyperparameters),
        "metrics": dict(metrics or {}),
        "files": entries,
    }
    version = hashlib.sha256(js_stringify(body).encode("utf-8")).hexdigest()[:16]
    stamp = (created_at or datetime.now(timezone.utc)).astimezone(timezone.utc)
    manifest = {**body, "version": version, "created_at": stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"}
    return manifest, files


def artifact_prefix(model_id: str, version: str) -> str:
    """``models/<model_id>/<version>/``, as artifactPrefix in artifact.ts."""
    return f"models/{model_id}/{version}/"


def manifest_text(manifest: Mapping[str, Any]) -> str:
    """manifest.json's text; any JSON layout loads, the hash is over the compact body."""
    return js_stringify(manifest) + "\n"


def write_artifact(root: str, manifest: Mapping[str, Any], files: Mapping[str, bytes]) -> str:
    """Writes the artifact under ``<root>/models/<id>/<version>/``, binaries first and the
    manifest last (a reader never finds a manifest whose binaries are missing). Returns the dir."""
    directory = os.path.join(root, artifact_prefix(manifest["model_id"], manifest["version"]))
    os.makedirs(directory, exist_ok=True)
    for path, data in files.items():
        with open(os.path.join(directory, path), "wb") as out:
            out.write(data)
    with open(os.path.join(directory, "manifest.json"), "w", encoding="utf-8") as out:
        out.write(manifest_text(manifest))
    return directory


def candidate_of(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """What the train step hands the next state (Candidate in lambdas/services/retraining.ts)."""
    return {"model_id": manifest["model_id"], "model_version": manifest["version"], "algorithm": manifest["algorithm"], "metrics": manifest["metrics"]}


def _main() -> None:
    """``python3 artifact_writer.py ROOT`` with a JSON spec on stdin (tests and tools): arrays as
    nested lists, ``created_at`` as ISO text; prints the candidate JSON."""
    import sys

    root = sys.argv[1]
    spec = json.load(sys.stdin)
    created = spec.pop("created_at", None)
    manifest, files = encode_artifact(**spec, created_at=datetime.fromisoformat(created.replace("Z", "+00:00")) if created else None)
    write_artifact(root, manifest, files)
    sys.stdout.write(js_stringify(candidate_of(manifest)) + "\n")


if __name__ == "__main__":
    _main()
