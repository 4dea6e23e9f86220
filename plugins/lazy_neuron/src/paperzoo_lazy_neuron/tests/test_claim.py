"""The paper's claims at small scale (Li et al., 2023, Sections 2-4), on a tiny ReLU tinylm decoder trained
on the kit's sorting task (``claim_setup``: 2 layers, width 32, MLP width 128, 200 AdamW steps, 320
training sequences), three seeds:

* the fraction of nonzero post-ReLU activations falls during training, with the true labels and with
  random labels (every answer token drawn uniformly): the sparsity is a result of training, not of the
  data (paper: Figures 1-3, random labels in Section 3);
* a Top-k model (``lazy_neuron_topk``, k = 8 of 128) trained with 30% of the answer tokens replaced by
  random symbols is better calibrated (lower expected calibration error on the clean validation answers)
  than the dense ReLU model trained on the same data (paper: Section 4). This did not reproduce here:
  see the xfail reason.
"""

from __future__ import annotations

import pytest

from paperzoo_lazy_neuron.tests.claim_setup import train

SEEDS = (0, 1, 2)
K, NOISE = 8, 0.3


@pytest.mark.claim
@pytest.mark.parametrize("labels, noise", [("true", 0.0), ("random", 1.0)])
def test_nonzero_fraction_falls_during_training(labels, noise, record_property):
    runs = [train(seed, None, noise) for seed in SEEDS]
    for seed, r in zip(SEEDS, runs):
        print(f"{labels} labels, seed {seed}: nonzero {r['nonzero_before']:.4f} -> {r['nonzero_after']:.4f}")
    before = sum(r["nonzero_before"] for r in runs) / len(runs)
    after = sum(r["nonzero_after"] for r in runs) / len(runs)
    record_property(f"nonzero_init_{labels}", round(before, 4))
    record_property(f"nonzero_trained_{labels}", round(after, 4))
    # ReLU of a random init: about half the entries are nonzero; training makes every seed sparser
    assert 0.45 < before < 0.55
    assert all(r["nonzero_after"] < r["nonzero_before"] - 0.03 for r in runs)


@pytest.mark.claim
@pytest.mark.xfail(
    strict=True,
    reason="measured: Top-8 ECE 0.173/0.220/0.217 vs dense 0.202/0.205/0.212 (seeds 0-2): lower in one seed "
    "of three; both models are underconfident on the clean answers and the gap is within the seed spread",
)
def test_topk_lower_ece_under_label_noise(record_property):
    dense = [train(seed, None, NOISE) for seed in SEEDS]
    topk = [train(seed, K, NOISE) for seed in SEEDS]
    for seed, d, t in zip(SEEDS, dense, topk):
        print(
            f"seed {seed}: ECE dense {d['ece']:.4f} top-{K} {t['ece']:.4f}; "
            f"accuracy dense {d['accuracy']:.4f} top-{K} {t['accuracy']:.4f}; "
            f"confidence dense {d['confidence']:.4f} top-{K} {t['confidence']:.4f}"
        )
    for name, runs in (("dense", dense), (f"top{K}", topk)):
        record_property(f"ece_{name}", round(sum(r["ece"] for r in runs) / len(runs), 4))
        record_property(f"accuracy_{name}", round(sum(r["accuracy"] for r in runs) / len(runs), 4))
    assert all(t["ece"] < d["ece"] for d, t in zip(dense, topk))
