"""The paper's claim at small scale: without fine-tuning, the per-dimension DPRoPE mixture of
extrapolation and interpolation extends a RoPE model's context better than pure position interpolation
(PI) and pure extrapolation. A 2-layer decoder (d_model 64, 4 heads, head_dim 16) is trained 200 steps on
64-byte blocks of the standard library's source, then evaluated on 256-byte validation blocks with each
strategy's frequencies (the same weights); 3 seeds."""

import statistics

import pytest

from paperzoo_dprope.experiment import train_and_extend

SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def runs():
    return [train_and_extend(seed) for seed in SEEDS]


def _record(runs, record_property):
    for key in ("dprope", "interpolation", "extrapolation", "train_len"):
        name = "ppl64_default" if key == "train_len" else f"ppl256_{key}"
        record_property(name, round(statistics.mean(r[key] for r in runs), 3))


@pytest.mark.claim
def test_dprope_beats_position_interpolation(runs, record_property):
    _record(runs, record_property)
    for r in runs:
        assert r["dprope"] < r["interpolation"], r


@pytest.mark.claim
@pytest.mark.xfail(
    strict=True,
    reason="measured (seeds 0, 1, 2; perplexity at 256): DPRoPE 7.36 / 7.21 / 7.58 (mean 7.39), extrapolation "
    "7.42 / 6.69 / 7.50 (mean 7.20): DPRoPE beats extrapolation on seed 0 only, not on the mean",
)
def test_dprope_beats_extrapolation(runs, record_property):
    _record(runs, record_property)
    assert statistics.mean(r["dprope"] for r in runs) < statistics.mean(r["extrapolation"] for r in runs)
