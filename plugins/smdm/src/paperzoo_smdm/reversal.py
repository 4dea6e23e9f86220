"""The reversal-relation experiment at toy scale: train on facts ``a = b`` only, then ask for ``a`` given
``b``. A masked diffusion model (tinylm encoder) fills ``a`` with ``b`` visible; a left-to-right
model (tinylm decoder of the same size, same steps and batches) can only condition on a prefix, so it is
asked ``b =`` and generates two tokens (the reversal curse, Berglund et al., 2023).

Sequences: ``<bos> A1 A2 = b1 b2 <eos>`` with ``a`` two uppercase letters and ``b`` two lowercase letters,
``n_facts`` distinct ``a`` and distinct ``b`` drawn with ``random.Random(seed)``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch
from paperzoo_tinylm.generate import generate
from paperzoo_tinylm.model import TinyLMDecoder, TinyLMEncoder
from paperzoo_tinylm.tokenizer import BOS, EOS, MASK
from paperzoo_tinylm.training import lm_loss

from paperzoo_smdm.diffusion import diffusion_loss, mdm_sample

EQ = ord("=")
SIZES = {"d_model": 64, "n_layers": 2, "n_heads": 4, "max_seq_len": 16}


def reversal_facts(n_facts: int = 40, seed: int = 0) -> torch.Tensor:
    """``[n_facts, 7]`` sequences ``<bos> a1 a2 = b1 b2 <eos>`` (distinct ``a``, distinct ``b``)."""
    rng = random.Random(seed)
    upper = [(u, v) for u in range(65, 91) for v in range(65, 91)]
    lower = [(u, v) for u in range(97, 123) for v in range(97, 123)]
    a, b = rng.sample(upper, n_facts), rng.sample(lower, n_facts)
    return torch.tensor([[BOS, *x, EQ, *y, EOS] for x, y in zip(a, b)])


@dataclass
class ReversalResult:
    """Exact-match accuracies: forward (``b`` from ``a``) and reverse (``a`` from ``b``)."""

    forward: float
    reverse: float


def train(
    kind: str, facts: torch.Tensor, steps: int, seed: int, lr: float = 3e-3, repeat: int = 4
) -> torch.nn.Module:
    """Train a ``kind`` (``mdm``: encoder with the diffusion loss; ``ar``: decoder with next-token loss)
    model on ``facts`` for ``steps`` AdamW steps (cosine decay), seeded; each batch holds every fact
    ``repeat`` times (for the diffusion model: ``repeat`` independent maskings of each fact)."""
    facts = facts.repeat(repeat, 1)
    torch.manual_seed(seed)
    model = (TinyLMEncoder if kind == "mdm" else TinyLMDecoder)(**SIZES)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        loss = diffusion_loss(model, facts, 1e-3, gen) if kind == "mdm" else lm_loss(model, facts)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    return model.eval()


@torch.no_grad()
def evaluate(
    kind: str, model: torch.nn.Module, facts: torch.Tensor, cfg_scale: float | None = None
) -> ReversalResult:
    """Exact match of ``b`` given ``a`` and of ``a`` given ``b`` (greedy / argmax decoding)."""
    a, b = facts[:, 1:3], facts[:, 4:6]
    if kind == "mdm":
        fwd = facts.clone()
        fwd[:, 4:6] = MASK
        rev = facts.clone()
        rev[:, 1:3] = MASK
        got_b = mdm_sample(model, fwd, 2, cfg_scale=cfg_scale)[:, 4:6]
        got_a = mdm_sample(model, rev, 2, cfg_scale=cfg_scale)[:, 1:3]
    else:
        eq = torch.full_like(a[:, :1], EQ)
        bos = torch.full_like(eq, BOS)
        got_b = generate(model, torch.cat([bos, a, eq], 1), 2)[:, 4:6]
        got_a = generate(model, torch.cat([bos, b, eq], 1), 2)[:, 4:6]
    return ReversalResult(
        float((got_b == b).all(1).float().mean()), float((got_a == a).all(1).float().mean())
    )
