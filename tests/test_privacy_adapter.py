"""Privacy evidence against published/reproduced values (oracles P-11..P-17) and field cases
B12 (step convention), B13 (accountant choice) and B14 (sampling rate >= 1)."""
from __future__ import annotations

import inspect
import json
import math
import re

import pydantic
import pytest

from rai_policy.errors import InputError
from rai_policy.evidence.privacy_adapter import (
    TrainingRecord,
    compute_privacy,
    load_training_record,
)


def rec(**kw) -> TrainingRecord:
    """A record; Poisson sampling (TF Privacy's accounting model) unless the test says otherwise.
    (`sampling` is required in a record file: see test_review_fixes.)"""
    return TrainingRecord(**{"sampling": "poisson", **kw})


# ------------------------------------------------------------------ oracles (modern conversion)


def test_p11_tf_privacy_mnist_tutorial_rdp():
    r = compute_privacy(
        rec(examples=60000, batch_size=256, epochs=60, noise_multiplier=1.1), "rdp", 1e-5
    )
    assert r.steps == 14063
    assert r.steps_source.startswith("ceil(epochs * examples / batch_size)")
    assert r.epsilon == pytest.approx(2.597, abs=1e-3)  # TF Privacy statement prints 2.597
    assert r.optimal_order is not None and 7 <= r.optimal_order <= 9
    assert r.accountant == "rdp" and r.sampling == "poisson"


def test_p13_tf_privacy_unit_test_value_exact():
    r = compute_privacy(
        rec(examples=60000, batch_size=150, epochs=15, noise_multiplier=1.3), "rdp", 1e-5
    )
    assert r.steps == 6000
    assert r.epsilon == pytest.approx(0.7242234026109595, abs=1e-6)
    assert r.optimal_order == 19.0


def test_p14_statement_with_microbatching():
    r = compute_privacy(
        rec(examples=10000, batch_size=64, epochs=5.0, noise_multiplier=2.0, microbatching=True),
        "rdp",
        1e-6,
    )
    assert r.steps == 782
    assert r.effective_noise_multiplier == 1.0 and r.noise_multiplier == 2.0
    assert r.epsilon == pytest.approx(1.616, abs=5e-4)
    assert any("halved" in n for n in r.notes)


@pytest.mark.parametrize(
    "record, expected",
    [
        # P-12: TF Privacy tutorial table, noise 1.3, 15 epochs (published 1.19 = classic)
        (dict(examples=60000, batch_size=256, epochs=15, noise_multiplier=1.3), 0.9546),
        # P-16: Opacus MNIST example, q = 0.004, 250 steps/epoch (published 1.16 = classic)
        (dict(examples=60000, batch_size=240, epochs=15, noise_multiplier=1.3), 0.9220),
        # P-17: Abadi et al. q = 0.01, sigma 4, T = 10000 (published 1.26 = moments accountant)
        (dict(examples=60000, batch_size=600, steps=10000, noise_multiplier=4.0), 1.0355),
    ],
    ids=["P-12", "P-16", "P-17"],
)
def test_modern_conversion_oracles(record, expected):
    r = compute_privacy(rec(**record), "rdp", 1e-5)
    assert r.epsilon == pytest.approx(expected, abs=1e-3)


# ------------------------------------------------------------------ B12: step convention


def test_b12_shuffle_counts_partial_last_batch():
    shuffle = compute_privacy(
        rec(examples=1000, batch_size=300, epochs=3, noise_multiplier=1.0, sampling="shuffle"),
        "rdp",
        1e-5,
    )
    assert shuffle.steps == 12
    assert "epochs * ceil(examples / batch_size)" in shuffle.steps_source
    assert any("assumes Poisson sampling" in n and "not a proven guarantee" in n for n in shuffle.notes)
    poisson = compute_privacy(
        rec(examples=1000, batch_size=300, epochs=3, noise_multiplier=1.0), "rdp", 1e-5
    )
    assert poisson.steps == 10  # TF Privacy's ceil(epochs * n / b)


def test_b12_limit_between_10_and_12_steps_fails_at_12():
    def eps(steps):
        return compute_privacy(
            rec(examples=1000, batch_size=300, steps=steps, noise_multiplier=1.0), "rdp", 1e-5
        ).epsilon

    e10, e12 = eps(10), eps(12)
    limit = (e10 + e12) / 2
    assert e10 <= limit < e12
    shuffle = compute_privacy(
        rec(examples=1000, batch_size=300, epochs=3, noise_multiplier=1.0, sampling="shuffle"),
        "rdp",
        1e-5,
    )
    assert shuffle.epsilon == e12 and shuffle.epsilon > limit  # the check fails


@pytest.mark.parametrize("accountant", ["rdp", "pld"])
def test_b12_epsilon_monotone_in_steps(accountant):
    values = [
        compute_privacy(
            rec(examples=1000, batch_size=300, steps=s, noise_multiplier=1.0), accountant, 1e-5
        ).epsilon
        for s in (1, 5, 10, 11, 12, 20)
    ]
    assert all(a < b for a, b in zip(values, values[1:])), values


def test_logged_steps_win_over_epochs():
    r = compute_privacy(
        rec(examples=1000, batch_size=300, epochs=3, steps=11, noise_multiplier=1.0, sampling="shuffle"),
        "rdp",
        1e-5,
    )
    assert r.steps == 11
    assert "training record" in r.steps_source
    assert any("epochs 3 ignored" in n and "12 steps" in n for n in r.notes)


def test_fractional_epochs_exact():
    # 0.3 * 1000 / 100 is exactly 3 steps: no float error rounds it up to 4.
    r = compute_privacy(rec(examples=1000, batch_size=100, epochs=0.3, noise_multiplier=1.0), "rdp", 1e-5)
    assert r.steps == 3


# ------------------------------------------------------------------ B13: accountant choice


def test_b13_rdp_and_pld_differ_and_are_reported():
    record = rec(examples=48000, batch_size=9600, steps=50, noise_multiplier=3.0)  # q = 0.2
    rdp = compute_privacy(record, "rdp", 1 / 48000)
    pld = compute_privacy(record, "pld", 1 / 48000)
    assert rdp.sampling_rate == 0.2
    assert (rdp.accountant, pld.accountant) == ("rdp", "pld")
    assert pld.epsilon < rdp.epsilon and abs(rdp.epsilon - pld.epsilon) > 0.1
    # measured with dp_accounting 0.4.3: RDP 2.169 (order 8.4), PLD 1.961
    assert rdp.epsilon == pytest.approx(2.169, abs=2e-3)
    assert pld.epsilon == pytest.approx(1.961, abs=2e-3)
    # so a 2.0 limit fails under RDP and passes under PLD: the policy must name the accountant
    assert rdp.epsilon > 2.0 >= pld.epsilon
    assert rdp.optimal_order is not None and pld.optimal_order is None
    print(f"B13: rdp eps={rdp.epsilon:.4f} (order {rdp.optimal_order}), pld eps={pld.epsilon:.4f}")


def test_accountant_is_never_chosen_for_the_user():
    params = inspect.signature(compute_privacy).parameters
    assert params["accountant"].default is inspect.Parameter.empty
    with pytest.raises(InputError, match="unknown accountant 'gdp'; name one of: rdp, pld"):
        compute_privacy(rec(examples=100, batch_size=10, epochs=1, noise_multiplier=1.0), "gdp", 1e-5)


@pytest.mark.parametrize("delta", [0, 1, -1e-5, 2.0])
def test_delta_out_of_range(delta):
    with pytest.raises(InputError, match="delta must be"):
        compute_privacy(rec(examples=100, batch_size=10, epochs=1, noise_multiplier=1.0), "rdp", delta)


# ------------------------------------------------------------------ B14: q >= 1


def test_b14_q_above_one_is_an_input_error(tmp_path):
    with pytest.raises(pydantic.ValidationError, match=re.escape("sampling rate q = 1.28 > 1; batch_size exceeds examples")):
        rec(examples=100, batch_size=128, epochs=1, noise_multiplier=1.0)
    path = tmp_path / "train.yaml"
    path.write_text("examples: 100\nbatch_size: 128\nnoise_multiplier: 1.0\nepochs: 1\nsampling: poisson\n")
    with pytest.raises(InputError, match=re.escape("sampling rate q = 1.28 > 1; batch_size exceeds examples")):
        load_training_record(path)


@pytest.mark.parametrize("accountant", ["rdp", "pld"])
def test_b14_q_equal_one_computes_without_amplification(accountant):
    import dp_accounting

    r = compute_privacy(rec(examples=128, batch_size=128, epochs=1, noise_multiplier=1.0), accountant, 1e-5)
    assert r.sampling_rate == 1.0 and r.steps == 1
    assert math.isfinite(r.epsilon) and r.epsilon > 0
    assert any("no subsampling amplification" in n for n in r.notes)
    # equals one plain Gaussian mechanism
    acc = dp_accounting.rdp.RdpAccountant() if accountant == "rdp" else dp_accounting.pld.PLDAccountant()
    acc.compose(dp_accounting.GaussianDpEvent(1.0))
    assert r.epsilon == pytest.approx(acc.get_epsilon(1e-5), rel=1e-12)


# ------------------------------------------------------------------ validation and loading


@pytest.mark.parametrize(
    "fields, message",
    [
        (dict(examples=100, batch_size=10, noise_multiplier=1.0, sampling="poisson"), "give epochs or steps"),
        (dict(examples=0, batch_size=10, epochs=1, noise_multiplier=1.0, sampling="poisson"), "examples: Input should be greater than 0"),
        (dict(examples=100, batch_size=10, epochs=1, noise_multiplier=0, sampling="poisson"), "noise_multiplier: Input should be greater than 0"),
        (dict(examples=100, batch_size=10, epochs=1, noise_multiplier=1.0, sampling="fixed"), "sampling"),
        (dict(examples=100, batch_size=10, epochs=1, noise_multiplier=1.0, clip=1.0, sampling="poisson"), "clip: Extra inputs are not permitted"),
        (dict(examples=True, batch_size=10, epochs=1, noise_multiplier=1.0, sampling="poisson"), "examples: must be a number"),
    ],
)
def test_invalid_records_give_clear_input_errors(tmp_path, fields, message):
    path = tmp_path / "train.json"
    path.write_text(json.dumps(fields))
    with pytest.raises(InputError, match=re.escape(message)) as info:
        load_training_record(path)
    assert str(path) in str(info.value)


def test_load_yaml_and_json(tmp_path):
    y = tmp_path / "t.yaml"
    y.write_text("examples: 60000\nbatch_size: 256\nepochs: 60\nnoise_multiplier: 1.1\nsampling: shuffle\n")
    j = tmp_path / "t.json"
    j.write_text(json.dumps(dict(examples=60000, batch_size=256, steps=14063, noise_multiplier=1.1, microbatching=True,
                                sampling="poisson")))
    ry, rj = load_training_record(y), load_training_record(j)
    assert ry.sampling == "shuffle" and ry.epochs == 60.0 and ry.steps is None
    assert rj.steps == 14063 and rj.microbatching and rj.sampling == "poisson"
    with pytest.raises(pydantic.ValidationError):
        ry.examples = 1  # frozen


@pytest.mark.parametrize(
    "content, message",
    [(None, "file not found"), ("examples: [1, 2\n", "not valid YAML/JSON"), ("- 1\n- 2\n", "expected a mapping")],
)
def test_load_errors(tmp_path, content, message):
    path = tmp_path / "t.yaml"
    if content is not None:
        path.write_text(content)
    with pytest.raises(InputError, match=message):
        load_training_record(path)


# ------------------------------------------------------------------ cross-check with TF Privacy itself


@pytest.mark.slow
@pytest.mark.parametrize(
    "n, b, epochs, noise, delta, micro",
    [(60000, 256, 60, 1.1, 1e-5, False), (10000, 64, 5.0, 2.0, 1e-6, True)],
    ids=["P-11", "P-14"],
)
def test_rdp_matches_tf_privacy_statement(n, b, epochs, noise, delta, micro):
    from tensorflow_privacy.privacy.analysis import compute_dp_sgd_privacy_lib as lib  # imports TF

    text = lib.compute_dp_sgd_privacy_statement(
        number_of_examples=n, batch_size=b, num_epochs=epochs, noise_multiplier=noise,
        delta=delta, used_microbatching=micro,
    )
    m = re.search(r"Epsilon assuming Poisson sampling \(\*\):\s+([0-9.]+)", text)
    assert m, text
    ours = compute_privacy(
        rec(examples=n, batch_size=b, epochs=epochs, noise_multiplier=noise, microbatching=micro), "rdp", delta
    )
    assert f"{ours.epsilon:.3f}" == m.group(1)
