"""Beam search over pointer sequences, batched: B inputs x K beams run as one batch of B * K rows."""

from __future__ import annotations

import torch

from paperzoo_pointer_networks.model import IGNORE, PointerNet


@torch.no_grad()
def beam_search(
    model: PointerNet, x: torch.Tensor, beam_size: int, constrain: bool | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The highest-scoring sequences (B, T) found by a beam of ``beam_size``, and their log-probabilities
    (B,). A finished beam (it pointed at the stop position) only extends with the stop at log-prob 0;
    with ``constrain`` (default ``model.mask_chosen``) a position is never pointed at twice, so the
    beam holds only valid permutations / subsets (the paper's search for TSP). When ``beam_size`` is at
    least the number of valid sequences the search is exhaustive and returns the exact arg-max."""
    constrain = model.mask_chosen if constrain is None else constrain
    b, n = x.shape[:2]
    k = beam_size
    encoded = model.encode(x).index(torch.arange(b, device=x.device).repeat_interleave(k))
    n_pos, stop = encoded.keys.shape[1], n if model.eos else -1
    scores = torch.full((b, k), float("-inf"), device=x.device)
    scores[:, 0] = 0.0  # every beam starts identical: keep one copy
    chosen = torch.zeros(b * k, n_pos, dtype=torch.bool, device=x.device)
    done = torch.zeros(b * k, dtype=torch.bool, device=x.device)
    seqs = torch.zeros(b * k, 0, dtype=torch.long, device=x.device)
    state, prev = encoded.state, None
    base = (torch.arange(b, device=x.device) * k).unsqueeze(1)
    for _ in range(model.steps(n)):
        logp, state = model.step(encoded, prev, state, chosen if constrain else None)
        if model.eos:  # a finished beam stays as it is
            forced = torch.full_like(logp, float("-inf"))
            forced[:, stop] = 0.0
            logp = torch.where(done.unsqueeze(1), forced, logp)
        total = (scores.reshape(b * k, 1) + logp).reshape(b, k * n_pos)
        scores, flat = total.topk(k, dim=1)
        rows = (base + flat // n_pos).reshape(-1)
        tok = (flat % n_pos).reshape(-1)
        state = (state[0][:, rows], state[1][:, rows])
        chosen, done, seqs = chosen[rows], done[rows], seqs[rows]
        seqs = torch.cat([seqs, torch.where(done, torch.full_like(tok, IGNORE), tok).unsqueeze(1)], 1)
        chosen = chosen.scatter(1, tok.unsqueeze(1), (tok != stop).unsqueeze(1))
        done = done | (tok == stop)
        prev = tok
    return seqs.reshape(b, k, -1)[:, 0], scores[:, 0]
