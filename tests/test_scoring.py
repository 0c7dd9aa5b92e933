"""Scoring Keras files and SavedModels on DataFrames with real TensorFlow (field case B24)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rai_policy.errors import InputError
from rai_policy.evidence.scoring import describe_model_inputs, score_model

pytestmark = pytest.mark.slow

tf = pytest.importorskip("tensorflow")


def _frame(n: int = 37, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.normal(size=n).astype("float64"),
            "income": rng.normal(size=n),
            "group": rng.choice(["a", "b"], size=n),
            "count": rng.integers(0, 5, size=n),  # int64 column feeding a float input
        }
    )


def _functional():
    tf.keras.utils.set_random_seed(1)
    age = tf.keras.Input(shape=(1,), name="age")
    income = tf.keras.Input(shape=(1,), name="income")
    x = tf.keras.layers.Concatenate()([age, income])
    x = tf.keras.layers.Dense(4, activation="relu")(x)
    out = tf.keras.layers.Dense(1, activation="sigmoid")(x)
    return tf.keras.Model({"age": age, "income": income}, out)


def _predict(model, frame: pd.DataFrame) -> np.ndarray:
    feed = {c: frame[c].to_numpy("float32").reshape(-1, 1) for c in ("age", "income")}
    return model.predict(feed, verbose=0).reshape(-1)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    model = _functional()
    paths = {"keras": d / "m.keras", "h5": d / "m.h5", "savedmodel": d / "sm"}
    model.save(paths["keras"])
    model.save(paths["h5"])
    model.save(paths["savedmodel"])  # Keras SavedModel: serving_default(age, income)

    # A TFX-style export: serving_default parses serialized tf.Example; serving_raw takes columns.
    spec = {
        "age": tf.io.FixedLenFeature([1], tf.float32),
        "income": tf.io.FixedLenFeature([1], tf.float32),
    }

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve_examples(examples):
        return {"outputs": model(tf.io.parse_example(examples, spec))}

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, 1], tf.float32, name="age"),
            tf.TensorSpec([None, 1], tf.float32, name="income"),
        ]
    )
    def serve_raw(age, income):
        return {"outputs": model({"age": age, "income": income})}

    paths["examples"] = d / "examples_sm"
    tf.saved_model.save(
        model,
        str(paths["examples"]),
        signatures={"serving_default": serve_examples, "serving_raw": serve_raw},
    )
    return model, paths


@pytest.mark.parametrize("kind", ["keras", "h5", "savedmodel"])
def test_scores_match_model_predict(models, kind):
    model, paths = models
    frame = _frame()
    scores = score_model(str(paths[kind]), frame)
    assert scores.shape == (len(frame),)
    assert scores.dtype == np.float64
    np.testing.assert_allclose(scores, _predict(model, frame), rtol=1e-5, atol=1e-6)
    assert ((scores >= 0) & (scores <= 1)).all()


def test_batches_and_progress(models):
    model, paths = models
    frame = _frame(n=10)
    seen: list[str] = []
    scores = score_model(str(paths["keras"]), frame, batch_size=4, progress=seen.append)
    assert seen == ["scored 4/10 rows", "scored 8/10 rows", "scored 10/10 rows"]
    np.testing.assert_allclose(scores, _predict(model, frame), rtol=1e-5, atol=1e-6)


def test_empty_frame_scores_nothing(models):
    _, paths = models
    assert score_model(str(paths["keras"]), _frame().iloc[:0]).shape == (0,)


def test_int_column_feeds_float_input(models):
    model, paths = models
    frame = _frame().assign(age=lambda f: f["count"])  # int64 values into a float32 input
    np.testing.assert_allclose(
        score_model(str(paths["keras"]), frame), _predict(model, frame), rtol=1e-5, atol=1e-6
    )


def test_unmatched_input_names_input_dtype_shape_and_closest_column(models):
    _, paths = models
    frame = _frame().rename(columns={"age": "agee"})
    with pytest.raises(InputError) as e:
        score_model(str(paths["keras"]), frame)
    msg = str(e.value)
    assert "age: float32 (None, 1)" in msg
    assert "closest column: 'agee'" in msg
    assert "available columns (4): agee, income, group, count" in msg
    assert "income: float32" not in msg  # only the unmatched input is listed


def test_text_column_for_numeric_input(models):
    _, paths = models
    frame = _frame().assign(income=lambda f: f["group"])
    with pytest.raises(InputError, match=r"expects numbers, but column 'income' holds object"):
        score_model(str(paths["keras"]), frame)


# ----------------------------------------------------------------------- B24: signatures


def test_b24_serialized_example_signature_is_an_input_error(models):
    _, paths = models
    with pytest.raises(InputError) as e:
        score_model(str(paths["examples"]), _frame())
    msg = str(e.value)
    assert "signature 'serving_default'" in msg
    assert "examples: string (None,)" in msg  # expected input name and dtype
    assert "serialized tf.Example" in msg
    assert "serving_default(examples: string (None,))" in msg  # the available signatures …
    assert "serving_raw(age: float32 (None, 1), income: float32 (None, 1))" in msg
    assert "<- its inputs are all columns" in msg  # … with the one the columns can feed marked
    assert "set `signature:`" in msg and "TFRecord" in msg
    assert "Traceback" not in msg


def test_b24_named_signature_with_raw_inputs_scores(models):
    model, paths = models
    frame = _frame()
    scores = score_model(str(paths["examples"]), frame, signature="serving_raw")
    np.testing.assert_allclose(scores, _predict(model, frame), rtol=1e-5, atol=1e-6)


def test_b24_the_example_signature_really_parses_examples(models):
    """The fixture is a real tf.Example signature (so the error above is about a real model)."""
    model, paths = models
    frame = _frame(n=3)
    examples = []
    for _, row in frame.iterrows():
        feats = {
            c: tf.train.Feature(float_list=tf.train.FloatList(value=[row[c]]))
            for c in ("age", "income")
        }
        examples.append(tf.train.Example(features=tf.train.Features(feature=feats)).SerializeToString())
    loaded = tf.saved_model.load(str(paths["examples"]))
    out = loaded.signatures["serving_default"](examples=tf.constant(examples))["outputs"]
    np.testing.assert_allclose(out.numpy().reshape(-1), _predict(model, frame), rtol=1e-5)


def test_unknown_signature_lists_available(models):
    _, paths = models
    with pytest.raises(InputError) as e:
        score_model(str(paths["examples"]), _frame(), signature="serving_nope")
    msg = str(e.value)
    assert "signature 'serving_nope' not found" in msg
    assert "serving_default(examples: string (None,))" in msg
    assert "serving_raw(" in msg


def test_signature_on_keras_file_is_an_input_error(models):
    _, paths = models
    with pytest.raises(InputError, match="a Keras file has no signatures"):
        score_model(str(paths["keras"]), _frame(), signature="serving_default")


def test_describe_model_inputs(models):
    _, paths = models
    specs = describe_model_inputs(str(paths["examples"]))
    assert [s.describe() for s in specs] == ["examples: string (None,)"]
    assert {s.name for s in describe_model_inputs(str(paths["keras"]))} == {"age", "income"}


# --------------------------------------------------------------- vector input, outputs


def _save(model, path):
    model.save(path)
    return str(path)


def test_vector_input_needs_feature_columns(tmp_path):
    tf.keras.utils.set_random_seed(2)
    x = tf.keras.Input(shape=(3,), name="features")
    model = tf.keras.Model(x, tf.keras.layers.Dense(1, activation="sigmoid")(x))
    path = _save(model, tmp_path / "vec.keras")
    frame = _frame()
    with pytest.raises(InputError) as e:
        score_model(path, frame)
    assert "features: float32 (None, 3)" in str(e.value)
    assert "pass feature_columns" in str(e.value)

    cols = ["age", "income", "count"]
    scores = score_model(path, frame, feature_columns=cols)
    expected = model.predict(frame[cols].to_numpy("float32"), verbose=0).reshape(-1)
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-6)

    with pytest.raises(InputError, match="takes 3 values per row, but feature_columns names 2"):
        score_model(path, frame, feature_columns=["age", "income"])
    with pytest.raises(InputError, match="closest column: 'income'"):
        score_model(path, frame, feature_columns=["age", "incme", "count"])


def _dense_model(units: int, activation: str | None):
    tf.keras.utils.set_random_seed(3)
    age = tf.keras.Input(shape=(1,), name="age")
    income = tf.keras.Input(shape=(1,), name="income")
    x = tf.keras.layers.Concatenate()([age, income])
    out = tf.keras.layers.Dense(units, activation=activation)(x)
    return tf.keras.Model({"age": age, "income": income}, out)


def test_two_class_softmax_scores_column_one(tmp_path):
    model = _dense_model(2, "softmax")
    path = _save(model, tmp_path / "softmax.keras")
    frame = _frame()
    feed = {c: frame[c].to_numpy("float32").reshape(-1, 1) for c in ("age", "income")}
    expected = model.predict(feed, verbose=0)[:, 1]
    np.testing.assert_allclose(score_model(path, frame), expected, rtol=1e-5, atol=1e-6)


def test_three_class_output_is_an_input_error(tmp_path):
    path = _save(_dense_model(3, "softmax"), tmp_path / "three.keras")
    with pytest.raises(InputError, match=r"output shape \(None, 3\) is not a binary score"):
        score_model(path, _frame())


def test_logit_output_is_an_input_error(tmp_path):
    model = _dense_model(1, None)
    path = _save(model, tmp_path / "logits.keras")
    frame = _frame().assign(age=lambda f: f["age"] * 100)  # make sure logits leave [0, 1]
    with pytest.raises(InputError, match=r"outside \[0, 1\]: these are not probabilities"):
        score_model(path, frame)


def test_missing_model_and_bad_directory(tmp_path):
    with pytest.raises(InputError, match="not found"):
        score_model(str(tmp_path / "nope.keras"), _frame())
    with pytest.raises(InputError, match="not a SavedModel"):
        score_model(str(tmp_path), _frame())
    bad = tmp_path / "bad.keras"
    bad.write_text("not a model")
    with pytest.raises(InputError, match="cannot be loaded"):
        score_model(str(bad), _frame())


def test_b24_tfrecord_input_feeds_the_example_signature(models, tmp_path):
    """With TFRecord data the tf.Example signature is fed the records themselves (the error's hint works)."""
    from rai_policy.data import read_table

    model, paths = models
    frame = _frame(n=5)
    path = tmp_path / "d.tfrecord"
    with tf.io.TFRecordWriter(str(path)) as writer:
        for _, row in frame.iterrows():
            feats = {c: tf.train.Feature(float_list=tf.train.FloatList(value=[row[c]])) for c in ("age", "income")}
            writer.write(tf.train.Example(features=tf.train.Features(feature=feats)).SerializeToString())
    table = read_table(str(path))
    scores = score_model(str(paths["examples"]), table)
    np.testing.assert_allclose(scores, _predict(model, frame), rtol=1e-5, atol=1e-6)
