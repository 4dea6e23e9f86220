"""The paper's findings, in direction, at small scale: the stdlib-small checkpoint, a kNN-LM whose
datastore holds (a sample of) its own training text, three seeds of held-out sequences.

(i) A minority of tokens carries the perplexity gain (a small share of the tokens, taken from the largest
improvement down, already reaches the net gain); the paper also finds that most tokens get worse, which
we record beside it. (ii) The entropy of the retrieval distribution rises faster with generated length
than the base LM's (exposure bias)."""

from __future__ import annotations

import pytest
import torch

SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def setup():
    import paperzoo_tinylm
    from paperzoo.builtins.datasets import stdlib_text
    from paperzoo_knn_lm.datastore import build_datastore
    from paperzoo_knn_lm.knn import KNNLM

    model = paperzoo_tinylm.pretrained("stdlib-small")
    bundle = stdlib_text(seq_len=128, max_bytes=1_000_000, val_fraction=0.1, seed=0)  # the checkpoint's data
    tx, ty = bundle.train.tensors
    pick = torch.randperm(tx.shape[0], generator=torch.Generator().manual_seed(1234))[:384]
    store = build_datastore(model, tx[pick], ty[pick])  # 49,152 (key, next byte) pairs
    return KNNLM(model, store, k=32, temperature=1.0, lam=0.25), bundle.val.tensors


def _held_out(vx: torch.Tensor, vy: torch.Tensor, seed: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    q = torch.randperm(vx.shape[0], generator=torch.Generator().manual_seed(seed))[:n]
    return vx[q], vy[q]


@pytest.mark.claim
def test_a_minority_of_tokens_carries_the_perplexity_gain(setup, record_property):
    from paperzoo_knnlm_generation_analysis.evaluate import TokenPPLDeltaSplit

    knnlm, (vx, vy) = setup
    for seed in SEEDS:
        x, y = _held_out(vx, vy, seed, 16)
        out = TokenPPLDeltaSplit._score(knnlm, x, y)
        for key in ("ppl_lm", "ppl_knnlm", "frac_worsened", "gain_concentration"):
            record_property(f"{key}_seed{seed}", round(out[key], 4))
        assert out["ppl_knnlm"] < out["ppl_lm"], out  # interpolation lowers perplexity overall
        assert out["gain_concentration"] < 0.25, out  # under a quarter of the tokens reach the net gain
        assert out["ppl_knnlm_worsened"] > out["ppl_lm_worsened"], out  # the rest pay for it


@pytest.mark.claim
@pytest.mark.xfail(
    strict=True,
    reason=(
        "measured: over 32 sampled bytes the retrieval entropy rises (slopes 0.0015, 0.0051, 0.0006 nats "
        "per token, seeds 0-2) but the base LM's rises faster (0.0133, 0.0089, 0.0138): on stdlib-small the "
        "paper's faster-rising retrieval entropy does not appear"
    ),
)
def test_retrieval_entropy_rises_faster_than_the_lm_entropy(setup, record_property):
    from paperzoo_knnlm_generation_analysis.analysis import least_squares_slope
    from paperzoo_knnlm_generation_analysis.generation import entropies_by_position, generate

    knnlm, (vx, vy) = setup
    gaps = []
    for seed in SEEDS:
        x, _ = _held_out(vx, vy, seed, 16)
        ids = generate(knnlm, x[:, :16], 32, generator=torch.Generator().manual_seed(seed))
        ent = entropies_by_position(knnlm, ids, 16)
        assert ent["knn"].shape == ent["lm"].shape == (16, 32)
        slope = {w: least_squares_slope(ent[w].mean(0)) for w in ("knn", "lm")}
        record_property(f"entropy_slope_knn_seed{seed}", round(slope["knn"], 5))
        record_property(f"entropy_slope_lm_seed{seed}", round(slope["lm"], 5))
        gaps.append(slope["knn"] - slope["lm"])
    assert all(g > 0 for g in gaps), gaps
