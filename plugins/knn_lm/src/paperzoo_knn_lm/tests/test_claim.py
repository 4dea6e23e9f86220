"""The paper's headline, in direction, at small scale: a kNN-LM over the stdlib-small checkpoint, its
datastore built from (a sample of) its own training text, lowers held-out perplexity, and the gain
depends on the softmax temperature tau (3 seeds of held-out samples)."""

from __future__ import annotations

import pytest
import torch

TAUS = (0.3, 1.0, 3.0, 30.0)


@pytest.mark.claim
def test_knn_lm_lowers_held_out_perplexity_and_tau_matters(record_property):
    import paperzoo_tinylm
    from paperzoo.builtins.datasets import stdlib_text

    from paperzoo_knn_lm.datastore import build_datastore
    from paperzoo_knn_lm.knn import KNNLM

    model = paperzoo_tinylm.pretrained("stdlib-small")
    bundle = stdlib_text(seq_len=128, max_bytes=1_000_000, val_fraction=0.1, seed=0)  # the checkpoint's data
    tx, ty = bundle.train.tensors
    vx, vy = bundle.val.tensors
    pick = torch.randperm(tx.shape[0], generator=torch.Generator().manual_seed(1234))[:384]
    store = build_datastore(model, tx[pick], ty[pick])  # 49,152 (key, next byte) pairs
    knnlm = KNNLM(model, store, k=32, lam=0.25)
    rows = []
    for seed in range(3):
        q = torch.randperm(vx.shape[0], generator=torch.Generator().manual_seed(seed))[:16]
        lm, d, i = knnlm.neighbours(vx[q])
        y = vy[q][..., None]
        ppl_lm = float(lm.double().gather(-1, y).mean().neg().exp())
        ppl = {
            tau: float(
                knnlm.log_probs_from(lm, knnlm.knn_from(d, i, lm.shape[-1], tau))
                .gather(-1, y)
                .mean()
                .neg()
                .exp()
            )
            for tau in TAUS
        }
        rows.append((ppl_lm, ppl))
    for seed, (ppl_lm, ppl) in enumerate(rows):
        best, worst = min(ppl.values()), max(ppl.values())
        record_property(f"ppl_lm_seed{seed}", round(ppl_lm, 3))
        record_property(f"ppl_knnlm_best_seed{seed}", round(best, 3))
        record_property(f"ppl_knnlm_tau_spread_seed{seed}", round(worst - best, 3))
        record_property(f"best_tau_seed{seed}", min(ppl, key=ppl.get))
        assert best < 0.95 * ppl_lm, (seed, ppl_lm, ppl)  # at least 5% lower held-out perplexity
        assert worst - best > 0.02 * ppl_lm, (seed, ppl_lm, ppl)  # tau moves it by over 2% of the LM's
