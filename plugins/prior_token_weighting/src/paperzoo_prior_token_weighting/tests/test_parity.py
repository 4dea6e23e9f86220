"""Parity of PRIOR's weights with the paper's formula, and of the weighted loss with tinylm's.

The official repository (Yangyi-Chen/PRIOR, commit bd40c6d) holds a README and no code, so there is no
official function to record golden outputs from: the reference here is an independent float64
transcription of the paper's weighting (one caption at a time) (plain Python over lists) and tinylm's ``lm_loss(weights=)``.
"""

import math

import torch
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.training import lm_loss

from paperzoo_prior_token_weighting.weighting import prior_weights, weighted_ntp_loss


def _paper_weights(p, mask, alpha, clip_min):
    """One caption (a list): ``k * w_i / sum_j w_j`` with ``w_i = max((1 - p_i) ** alpha, clip_min)``."""
    scores = [min(max((1 - pi) ** alpha, clip_min), 1.0) if m else 0.0 for pi, m in zip(p, mask)]
    k = sum(mask)
    total = math.fsum(scores)
    return [k * s / total for s in scores]


def test_weights_match_the_paper_formula(record_property):
    g = torch.Generator().manual_seed(0)
    worst = 0.0
    for alpha, clip_min in ((1.0, 0.01), (0.5, 0.05), (3.0, 1e-4)):
        p = torch.rand(8, 33, generator=g, dtype=torch.float64) ** 0.3  # many probable tokens
        mask = torch.rand(8, 33, generator=g) > 0.25
        ours = prior_weights(p, mask, alpha, clip_min)
        for row in range(p.shape[0]):  # each caption is normalised on its own
            ref = _paper_weights(p[row].tolist(), mask[row].tolist(), alpha, clip_min)
            worst = max(worst, max(abs(a - b) for a, b in zip(ours[row].tolist(), ref)))
    record_property("max_abs_diff_weights_float64", worst)
    assert worst < 1e-12


def test_weighted_loss_matches_tinylm_lm_loss(record_property):
    torch.manual_seed(0)
    model = TinyLMDecoder(vocab_size=50, d_model=16, n_layers=1, n_heads=2, max_seq_len=20).double()
    ids = torch.randint(50, (4, 20))
    mask = torch.rand(4, 20) > 0.3
    mask[:, 0] = False  # column 0 is never a target
    p = torch.rand(4, 20, dtype=torch.float64)
    w = prior_weights(p, mask)
    ours = weighted_ntp_loss(model(ids[:, :-1]).logits, torch.where(mask, ids, -100)[:, 1:], w[:, 1:])
    theirs = lm_loss(model, ids, weights=w)
    err = abs(ours.item() - theirs.item())
    record_property("max_abs_diff_loss_vs_lm_loss", err)
    assert err < 1e-5  # both reduce float32 cross-entropies (lm_loss casts the logits to float32)
