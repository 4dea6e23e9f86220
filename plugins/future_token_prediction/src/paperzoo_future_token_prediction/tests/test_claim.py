"""The paper's directional claim at small scale: FTP top embeddings are smoother across adjacent
positions and carry the topic more linearly than a next-token (GPT) trunk of equal size and steps."""

import pytest

from paperzoo_future_token_prediction.experiment import run

SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def results():
    return [run(seed) for seed in SEEDS]


@pytest.mark.claim
@pytest.mark.xfail(
    strict=True,
    reason="measured (200 steps, d_model 32): topic-probe accuracy FTP 0.955 / 0.943 vs GPT 0.970 / 0.966 "
    "(seeds 0 / 2): the next-token trunk carries the topic at least as linearly here",
)
def test_topic_probe_higher_than_gpt(results, record_property):
    for key in ("ftp_probe", "ntp_probe"):
        record_property(key, [round(r[key], 4) for r in results])
    assert all(r["ftp_probe"] > r["ntp_probe"] for r in results)


@pytest.mark.claim
@pytest.mark.xfail(
    strict=True,
    reason="measured (200 steps, d_model 32): adjacent cosine FTP 0.914 / 0.892 vs GPT "
    "0.967 / 0.957 (seeds 0 / 2): the next-token trunk's top embeddings are the smoother ones here",
)
def test_adjacent_cosine_higher_than_gpt(results, record_property):
    for key in ("ftp_cos", "ntp_cos"):
        record_property(key, [round(r[key], 4) for r in results])
    assert all(r["ftp_cos"] > r["ntp_cos"] for r in results)
