"""The claim's experiment: a tiny encoder-decoder trained on synthetic periodic sequences with the
Mixture-of-Denoisers, with span corruption alone ([R], mu 3, r 0.15) or with prefix LM alone ([S]), for
the same number of steps, then evaluated on infilling and continuation of held-out sequences."""

from __future__ import annotations

import torch
from paperzoo_tinylm.encdec import TinyLMEncoderDecoder

from paperzoo_ul2_mod.denoisers import PAPER_DENOISERS, MixtureOfDenoisers, R, S
from paperzoo_ul2_mod.evaluate import denoising_metrics
from paperzoo_ul2_mod.training import mod_loss

OBJECTIVES = {
    "mod": MixtureOfDenoisers(PAPER_DENOISERS),
    "span": MixtureOfDenoisers((R(3.0, 0.15),)),
    "prefix": MixtureOfDenoisers((S(0.25),)),
}


def periodic_sequences(n: int, length: int, generator: torch.Generator, n_symbols: int = 16) -> torch.Tensor:
    """``[n, length]`` rows, each a random pattern of 3 to 8 letters (``a`` onwards) repeated."""
    rows = []
    for _ in range(n):
        period = int(torch.randint(3, 9, (), generator=generator))
        pattern = torch.randint(n_symbols, (period,), generator=generator) + ord("a")
        rows.append(pattern.repeat(length // period + 1)[:length])
    return torch.stack(rows)


def run(objective: str, seed: int, steps: int = 150, length: int = 32, batch: int = 16) -> dict[str, float]:
    """Train one model with ``objective`` (``mod``, ``span``, ``prefix``) and return its metrics."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = TinyLMEncoderDecoder(d_model=32, n_layers=2, n_heads=4, max_seq_len=128)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 3e-3, total_steps=steps, pct_start=0.1)
    for _ in range(steps):
        ids = periodic_sequences(batch, length, gen)
        loss = mod_loss(model, ids, OBJECTIVES[objective], gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
    held_out = periodic_sequences(256, length, torch.Generator().manual_seed(10_000 + seed))
    return denoising_metrics(model, held_out, seed=seed)
