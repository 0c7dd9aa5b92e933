"""A content-addressed evidence cache.

Key = sha256 over everything that determines one piece of evidence: the data (file contents, or
the DataFrame's values), the columns and options that turn it into labels/scores/slices, the
model files, the slicing and threshold (or feature), the engine, and the versions of rai-policy
and the tools.  A policy's bounds are not in the key, so changing a bound recomputes nothing;
each (slicing, threshold) and each feature is its own entry, so adding a slice computes only the
new one.  Entries are written atomically and carry a checksum: a corrupt or partial entry is
ignored (and removed), never trusted.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

from rai_policy.evidence.types import FeatureStats, SliceMetricsResult, SliceRow
from rai_policy.fileio import write_atomic

FORMAT = 1


def default_dir() -> Path:
    env = os.environ.get("RAI_POLICY_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "rai-policy"


def digest(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _encode(value) -> dict:
    if isinstance(value, SliceMetricsResult):
        return {"type": "slice_metrics", "value": dataclasses.asdict(value)}
    if isinstance(value, FeatureStats):
        return {"type": "feature_stats", "value": dataclasses.asdict(value)}
    raise TypeError(f"cannot cache {type(value).__name__}")


def _decode(doc: dict):
    v = doc["value"]
    if doc["type"] == "slice_metrics":
        rows = tuple(SliceRow(**{**r, "slice": tuple(tuple(p) for p in r["slice"])}) for r in v["rows"])
        return SliceMetricsResult(**{**v, "slice_by": tuple(v["slice_by"]), "rows": rows})
    if doc["type"] == "feature_stats":
        return FeatureStats(**v)
    raise ValueError(doc["type"])


class EvidenceCache:
    """get/put by key; `hits` and `misses` are counted for the report."""

    def __init__(self, directory: str | Path):
        self.dir = Path(directory)
        self.hits = 0
        self.misses = 0

    def _path(self, key: str) -> Path:
        return self.dir / key[:2] / f"{key}.json"

    def get(self, key: str):
        path = self._path(key)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            payload = json.dumps(doc["payload"], sort_keys=True)
            if doc.get("format") != FORMAT or doc.get("key") != key or \
                    doc.get("sha256") != hashlib.sha256(payload.encode()).hexdigest():
                raise ValueError("checksum mismatch")
            value = _decode(doc["payload"])
        except FileNotFoundError:
            self.misses += 1
            return None
        except (OSError, ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)  # corrupt or partial: ignore and drop
            self.misses += 1
            return None
        self.hits += 1
        return value

    def put(self, key: str, value) -> None:
        payload = _encode(value)
        text = json.dumps(payload, sort_keys=True)
        doc = {"format": FORMAT, "key": key, "sha256": hashlib.sha256(text.encode()).hexdigest(), "payload": payload}
        try:
            write_atomic(self._path(key), json.dumps(doc, sort_keys=True))
        except OSError:
            pass  # a cache that cannot be written only costs time
