"""Test helpers: one logical dataset written as CSV, Parquet and TFRecord (or kept as a DataFrame),
checked through the public CLI / Python API, and reports compared apart from time and provenance."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

FAST_FORMATS = ("csv", "parquet", "dataframe")
ALL_FORMATS = FAST_FORMATS + ("tfrecord",)


@dataclass
class Run:
    code: int
    report: dict
    out: str = ""
    err: str = ""


def write_tfrecord(df: pd.DataFrame, path: Path, int_columns=()) -> Path:
    """tf.train.Example per row: str → bytes_list, int → int64_list, float → float_list (float32),
    list → a multi-valued feature; None/NaN → the feature is absent from that example."""
    import tensorflow as tf

    def feature(values):
        first = values[0]
        if isinstance(first, str):
            return tf.train.Feature(bytes_list=tf.train.BytesList(value=[v.encode("utf-8") for v in values]))
        if isinstance(first, (bool, int)) or (hasattr(first, "dtype") and first.dtype.kind in "iub"):
            return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in values]))
        return tf.train.Feature(float_list=tf.train.FloatList(value=[float(v) for v in values]))

    with tf.io.TFRecordWriter(str(path)) as writer:
        for row in df.to_dict("records"):
            feats = {}
            for name, v in row.items():
                if v is None or (isinstance(v, float) and math.isnan(v)):
                    continue
                values = list(v) if isinstance(v, (list, tuple)) else [v]
                if name in int_columns:
                    values = [int(x) for x in values]
                feats[name] = feature(values)
            writer.write(tf.train.Example(features=tf.train.Features(feature=feats)).SerializeToString())
    return path


def write_data(df: pd.DataFrame, directory: Path, fmt: str, *, int_columns=(), stem: str = "data"):
    """The data in `fmt` (a path), or the DataFrame itself for 'dataframe'."""
    directory.mkdir(parents=True, exist_ok=True)
    if fmt == "dataframe":
        return df.copy()
    if fmt == "csv":
        path = directory / f"{stem}.csv"
        df.to_csv(path, index=False)
    elif fmt == "parquet":
        path = directory / f"{stem}.parquet"
        df.to_parquet(path, index=False)
    elif fmt == "tfrecord":
        path = write_tfrecord(df, directory / f"{stem}.tfrecord", int_columns)
    else:
        raise ValueError(fmt)
    return path


def cli_check(policy: Path, data=None, *args: str, capsys=None, report: Path | None = None) -> Run:
    """`rai-policy check` in-process, local engine, no cache; the JSON report parsed."""
    from rai_policy.cli import main

    report = report or policy.with_suffix(".report.json")
    argv = ["check", str(policy)]
    for d in ([] if data is None else (data if isinstance(data, (list, tuple)) else [data])):
        argv += ["--data", str(d)]
    argv += ["--engine", "local", "--no-cache", "-q", "--report", f"json={report}", *args]
    code = main(argv)
    out = capsys.readouterr() if capsys is not None else None
    return Run(code, json.loads(report.read_text()), out.out if out else "", out.err if out else "")


def api_check(policy: Path, frame: pd.DataFrame, **subject) -> Run:
    """`rai_policy.engine.run_check` with an in-memory DataFrame (local engine)."""
    from rai_policy import engine
    from rai_policy.policy.loader import load_policy
    from rai_policy.subject import resolve

    loaded = load_policy(policy)
    subj = resolve(loaded.model.subject, policy.resolve().parent, data=frame, **subject)
    report = engine.run_check(loaded, subj, engine.CheckOptions(engine="local"))
    return Run(report.exit_code, json.loads(json.dumps(report.to_dict())))


def check_format(policy: Path, df: pd.DataFrame, fmt: str, directory: Path, *args: str, int_columns=()) -> Run:
    data = write_data(df, directory / fmt, fmt, int_columns=int_columns)
    if fmt == "dataframe":
        return api_check(policy, data)
    return cli_check(policy, data, *args, report=directory / fmt / "report.json")


def comparable(report: dict) -> dict:
    """The report without what legitimately differs between formats and runs: time fields,
    provenance (paths, hashes, command line), the data path, the cache and timings."""
    from rai_policy.report.model import TIME_FIELDS

    def strip(obj):
        if isinstance(obj, dict):
            return {k: strip(v) for k, v in obj.items() if k not in TIME_FIELDS}
        if isinstance(obj, list):
            return [strip(v) for v in obj]
        return obj

    out = strip(json.loads(json.dumps(report)))
    out.pop("provenance", None)
    out.get("subject", {}).pop("data", None)
    out.get("evidence", {}).pop("cache", None)
    return out


def rule(report: dict, rid: str) -> dict:
    return next(r for r in report["rules"] if r["id"] == rid)


def by_slice(rule_result: dict, feature: str) -> dict:
    return {m["slice"].get(feature): m for m in rule_result["measurements"]}
