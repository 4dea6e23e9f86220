"""UDDIA decoding: sample token by token; when an attribute classifier scores the next step above a
threshold, take a few Adam steps on a small designated parameter subset (bias and norm terms of the
upper blocks) to lower the attribute loss, fuse the tuned and original next-token distributions, then
restore the parameters bitwise before the next token."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from paperzoo_tinylm.processors import apply, default_processors
from paperzoo_tinylm.protocol import forward

_BLOCK = re.compile(r"(?:^|\.)(?:blocks|h|layers)\.(\d+)\.")


class LinearAttributeClassifier(torch.nn.Module):
    """``P(attribute | h) = sigmoid(w . h + b)`` on a final-layer hidden state (PPLM's linear head, with
    one logit for a binary attribute)."""

    def __init__(self, d_model: int):
        super().__init__()
        self.linear = torch.nn.Linear(d_model, 1)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """:returns: the attribute logit, ``hidden.shape[:-1]``."""
        return self.linear(hidden.to(self.linear.weight.dtype)).squeeze(-1)


def designated_parameters(model: torch.nn.Module, n_layers_tuned: int) -> dict[str, torch.nn.Parameter]:
    """The parameters UDDIA updates: every bias and every norm parameter of the top ``n_layers_tuned``
    blocks, and those outside the blocks (the final norm), as the official code selects the bias terms
    of the upper ``T_0`` layers plus ``ln_f``. Embeddings and the head are never included."""
    blocks = [int(m.group(1)) for n, _ in model.named_parameters() if (m := _BLOCK.search(n))]
    first = (max(blocks) + 1 if blocks else 0) - n_layers_tuned
    chosen = {}
    for name, param in model.named_parameters():
        if not (name.endswith("bias") or "norm" in name or ".ln_" in name):
            continue
        if "embed" in name or "head" in name:
            continue
        match = _BLOCK.search(name)
        if match is None or int(match.group(1)) >= first:
            chosen[name] = param
    if not chosen:
        raise ValueError("the model has no bias or norm parameters in its upper blocks to tune")
    return chosen


@dataclass
class UddiaResult:
    """A decoded sequence and what the decoder did."""

    sequence: torch.Tensor  # (S + generated,)
    triggered: int  # decoding steps where the trigger fired
    update_steps: int  # optimiser steps taken in total
    scores: list[float]  # the attribute probability at every step (before any update)


def _final(model: torch.nn.Module, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    out = forward(model, ids, None, False, hidden=True)
    return out.logits[:, -1].float(), out.hidden[:, -1]


def _optimise(
    model: torch.nn.Module,
    ids: torch.Tensor,
    classifier: torch.nn.Module,
    params: Sequence[torch.nn.Parameter],
    steps: int,
    lr: float,
    kl_scale: float,
    base_logp: torch.Tensor,
) -> None:
    """``steps`` Adam steps (a fresh optimiser, as the official code makes one per token) on ``params``
    minimising ``BCE(classifier(h_t), not attribute) + kl_scale * KL(p_orig || p_tuned)``."""
    optimizer = torch.optim.Adam(params, lr=lr)
    target: torch.Tensor | None = None  # "not the attribute", in the classifier's dtype
    with torch.enable_grad():
        for _ in range(steps):
            logits, hidden = _final(model, ids)
            logit = classifier(hidden)
            if target is None:
                target = torch.zeros_like(logit)
            loss = F.binary_cross_entropy_with_logits(logit, target)
            if kl_scale:
                kl = F.kl_div(logits.log_softmax(-1), base_logp, log_target=True, reduction="batchmean")
                loss = loss + kl_scale * kl
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()


@torch.no_grad()
def uddia_sample(
    model: torch.nn.Module,
    prompt: torch.Tensor,
    max_new_tokens: int,
    classifier: torch.nn.Module,
    threshold: float = 0.5,
    steps: int = 5,
    lr: float = 0.01,
    gm_scale: float = 0.9,
    kl_scale: float = 0.0,
    n_layers_tuned: int = 1,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> UddiaResult:
    """Sample ``max_new_tokens`` after the 1-d ``prompt`` with UDDIA's adaptive intervention.

    At each step the attribute probability ``s = sigmoid(classifier(h_t))`` of the final hidden state is
    computed with the original parameters. If ``s > threshold``, ``steps`` Adam steps (learning rate
    ``lr``) update the designated parameters (:func:`designated_parameters`), the next-token
    distribution becomes ``p_tuned ** gm_scale * p_orig ** (1 - gm_scale)`` renormalised, and the
    parameters are restored bitwise. Otherwise the token is drawn from ``p_orig`` exactly as
    :func:`paperzoo_tinylm.generate.sample` draws it (same processors, same generator calls), so a
    threshold no score reaches reproduces plain sampling token for token. ``threshold < 0`` triggers at
    every step (always-on).
    """
    if prompt.dim() != 1:
        raise ValueError(f"prompt must be one 1-d sequence, got shape {tuple(prompt.shape)}")
    if not 0.0 <= gm_scale <= 1.0 or steps < 0 or lr <= 0:
        raise ValueError("need 0 <= gm_scale <= 1, steps >= 0 and lr > 0")
    chain = default_processors(
        prompt.numel(), do_sample=True, temperature=temperature, top_k=top_k, top_p=top_p
    )
    named = designated_parameters(model, n_layers_tuned)
    params = list(named.values())
    originals = [p.detach().clone() for p in params]
    flags = [p.requires_grad for p in model.parameters()]
    for p in model.parameters():
        p.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    seq = prompt[None]
    triggered = update_steps = 0
    scores: list[float] = []
    try:
        for _ in range(max_new_tokens):
            logits, hidden = _final(model, seq)
            score = float(torch.sigmoid(classifier(hidden))[0])
            scores.append(score)
            base = apply(chain, seq, logits)
            probs = base.softmax(dim=-1)
            if steps > 0 and (threshold < 0 or score > threshold):
                _optimise(model, seq, classifier, params, steps, lr, kl_scale, logits.log_softmax(-1))
                tuned = apply(chain, seq, _final(model, seq)[0]).softmax(dim=-1)
                for p, original in zip(params, originals):
                    p.copy_(original)
                probs = tuned.pow(gm_scale) * probs.pow(1.0 - gm_scale)
                probs = probs / probs.sum(dim=-1, keepdim=True)
                triggered, update_steps = triggered + 1, update_steps + steps
            token = torch.multinomial(probs, 1, generator=generator)
            seq = torch.cat([seq, token], dim=1)
    finally:
        for p, original in zip(params, originals):
            p.copy_(original)
            p.grad = None
        for p, flag in zip(model.parameters(), flags):
            p.requires_grad_(flag)
    return UddiaResult(seq[0], triggered, update_steps, scores)
