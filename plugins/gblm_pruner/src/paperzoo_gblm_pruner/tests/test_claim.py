"""The paper's headline claim at small scale: at 50% unstructured sparsity, one-shot GBLM-Pruner leaves a
lower perplexity than Wanda, which leaves a lower one than magnitude pruning (no weight update anywhere).

Models: the kit's ``stdlib-small`` checkpoint (plain), and the compression family's ``outlier_tinylm``
fixture (the same checkpoint with planted outlier channels, function-preserving), whose activations have
the few large channels of LLMs that made Wanda beat magnitude there. Three seeds of calibration data
(32 random training blocks of 128 bytes each); validation: 32 random held-out blocks; the same data for
every method."""

import copy

import pytest
import torch

SEEDS = (0, 1, 2)
SPARSITY = 0.5


@pytest.fixture(scope="module")
def results():
    import paperzoo_tinylm
    from paperzoo_compress.fixture import outlier_tinylm, perplexity, text_blocks
    from paperzoo_compress.prune_scores import magnitude_prune_, wanda_prune_

    from paperzoo_gblm_pruner.gblm import gblm_prune_

    val = text_blocks("val", 32, 128, seed=0)
    out = {}
    for label, base in (
        ("plain", paperzoo_tinylm.pretrained("stdlib-small")),
        ("outlier", outlier_tinylm(0)),
    ):
        base = base.eval()
        mag = copy.deepcopy(base)
        magnitude_prune_(mag, SPARSITY)
        row = {"dense": perplexity(base, val), "magnitude": perplexity(mag, val), "wanda": [], "gblm": []}
        for seed in SEEDS:
            calib = text_blocks("train", 32, 128, seed=seed + 1)
            for name, prune in (("wanda", wanda_prune_), ("gblm", gblm_prune_)):
                model = copy.deepcopy(base)
                prune(model, calib, SPARSITY)
                row[name].append(perplexity(model, val))
        out[label] = row
    return out


def _record(record_property, row, label):
    for name in ("dense", "magnitude"):
        record_property(f"ppl_{name}_{label}", round(row[name], 4))
    for name in ("wanda", "gblm"):
        record_property(f"ppl_{name}_{label}", [round(v, 4) for v in row[name]])


@pytest.mark.claim
def test_claim_gblm_beats_wanda_on_stdlib_small(results, record_property):
    row = results["plain"]
    _record(record_property, row, "stdlib_small")
    assert all(g <= w for g, w in zip(row["gblm"], row["wanda"], strict=True)), row


@pytest.mark.claim
@pytest.mark.xfail(
    strict=True,
    reason="measured: on the plain stdlib-small checkpoint (dense ppl 7.43) per-layer magnitude pruning "
    "(7.54) beats both Wanda (7.66, 7.66, 7.66) and GBLM (7.65, 7.66, 7.64) at 50%; with the planted "
    "outlier channels of the compression fixture the paper's order returns (magnitude 7.81)",
)
def test_claim_wanda_and_gblm_beat_magnitude_on_stdlib_small(results):
    row = results["plain"]
    assert max(row["gblm"]) <= row["magnitude"] and max(row["wanda"]) <= row["magnitude"], row


@pytest.mark.claim
def test_claim_order_on_outlier_fixture(results, record_property):
    row = results["outlier"]
    _record(record_property, row, "outlier")
    for g, w in zip(row["gblm"], row["wanda"], strict=True):
        assert g <= w <= row["magnitude"], row
    assert torch.tensor(row["gblm"]).mean() < row["magnitude"]
