"""Parity of the vectorised confidence with a one-at-a-time transcription of the paper's equations.

No official implementation is public (the paper's repository holds its project page only) and no
package implements MG-Select, so the reference is written here from the equations, independently of
the batched code: for each candidate and each action token ``i`` separately, run the policy on the
prefix ``(q, I, a_<i)`` and on the same prefix with the conditions masked, form both next-token
distributions, and add ``KL(Q_i || P_i) = sum_v Q_i(v) log(Q_i(v) / P_i(v))``.
"""

from __future__ import annotations

import math

import torch
from paperzoo_tinylm.generate import sample
from paperzoo_tinylm.tokenizer import MASK

from paperzoo_mg_select.goal_reaching import PROMPT_LEN, STATE_POSITIONS, TEXT_POSITIONS, prompt_ids
from paperzoo_mg_select.mg_select import masked_positions, mg_select_scores
from paperzoo_mg_select.tests.helpers import tiny_policy


@torch.no_grad()
def transcription(model, candidate: torch.Tensor, prompt_len: int, masked: tuple[int, ...]) -> float:
    """``C(a) = sum_i KL(pi(. | masked conditions, a_<i) || pi(. | conditions, a_<i))``, one token at a time."""
    blind = candidate.clone()
    for pos in masked:
        blind[pos] = MASK
    total = 0.0
    for i in range(prompt_len, len(candidate)):
        p = torch.softmax(model(candidate[None, :i]).logits[0, -1], dim=0)
        q = torch.softmax(model(blind[None, :i]).logits[0, -1], dim=0)
        total += float(sum(qv * (torch.log(qv) - torch.log(pv)) for qv, pv in zip(q, p) if qv > 0))
    return total


def test_scores_match_a_one_at_a_time_transcription(record_property):
    model = tiny_policy(2, torch.float64)
    prompt = torch.tensor(prompt_ids((0, 2), (2, 0)))
    seqs = sample(model, prompt.expand(3, -1), 4, generator=torch.Generator().manual_seed(0))
    worst = 0.0
    for masking in ("both", "state", "text"):
        masked = masked_positions(masking, STATE_POSITIONS, TEXT_POSITIONS)
        got = mg_select_scores(model, seqs, PROMPT_LEN, masked)
        for row, score in zip(seqs, got.tolist()):
            want = transcription(model, row, PROMPT_LEN, masked)
            assert want > 0
            # float64; batched and one-row forwards and the two summation orders round apart (measured 1e-15)
            assert math.isclose(score, want, rel_tol=0, abs_tol=1e-13)
            worst = max(worst, abs(score - want))
    record_property("max_abs_diff_float64", worst)
