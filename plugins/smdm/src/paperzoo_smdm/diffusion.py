"""Masked diffusion on token ids: the forward (masking) process, the ELBO training loss, the sampler with
unsupervised classifier-free guidance, and the Monte Carlo ELBO of a sequence.

Conventions follow the official SMDM code (ML-GSAI/SMDM): the absorbing state is the ``MASK`` id, a
model maps ids ``[B, L]`` to logits ``[B, L, V]`` (any module whose output is a tensor or has
``.logits``), and every random draw comes from the ``generator`` argument, in the official order.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from paperzoo_tinylm.tokenizer import MASK


def model_logits(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``model(x)`` as a logits tensor ``[B, L, V]`` (``.logits`` of an output object, or the tensor)."""
    out = model(x)
    return out if isinstance(out, torch.Tensor) else out.logits


@dataclass
class Noised:
    """The forward process's output: ``noisy`` ids, the boolean ``mask`` of absorbed positions and the
    per-position masking probability ``p_mask`` ``[B, L]`` (the ``t`` of each row, clamped by ``eps``)."""

    noisy: torch.Tensor
    mask: torch.Tensor
    p_mask: torch.Tensor


def forward_process(
    ids: torch.Tensor,
    eps: float = 1e-3,
    generator: torch.Generator | None = None,
    mask_id: int = MASK,
    maskable: torch.Tensor | None = None,
    t: torch.Tensor | None = None,
) -> Noised:
    """Mask each token of ``ids`` ``[B, L]`` with probability ``p = (1 - eps) t + eps``, ``t ~ U[0, 1)`` per
    row (as the official ``forward_process``: first ``t`` ``[B]``, then the uniforms ``[B, L]``).

    :param maskable: optional boolean ``[B, L]``: only these positions may be masked (e.g. the answer).
    :param t: optional ``[B]`` times to use instead of drawing them (the ELBO's low-discrepancy times).
    """
    b, n = ids.shape
    if t is None:
        t = torch.rand((b,), generator=generator, device=ids.device)
    p_mask = ((1 - eps) * t + eps)[:, None].repeat(1, n)
    mask = torch.rand((b, n), generator=generator, device=ids.device) < p_mask
    if maskable is not None:
        mask = mask & maskable
    return Noised(torch.where(mask, mask_id, ids), mask, p_mask)


def mdm_loss(
    logits: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor, p_mask: torch.Tensor
) -> torch.Tensor:
    """The masked-diffusion loss: ``sum over masked positions of CE / p_mask``, divided by ``B * L`` (the
    official normalisation: an unbiased estimate of the negative ELBO per token)."""
    ce = F.cross_entropy(_upcast(logits[mask]), ids[mask], reduction="none") / p_mask[mask]
    return ce.sum() / (ids.shape[0] * ids.shape[1])


def _upcast(logits: torch.Tensor) -> torch.Tensor:
    """Half-precision logits in float32 for the cross-entropy; float32 and float64 as they are."""
    return logits.float() if logits.dtype in (torch.float16, torch.bfloat16) else logits


def diffusion_loss(
    model: torch.nn.Module,
    ids: torch.Tensor,
    eps: float = 1e-3,
    generator: torch.Generator | None = None,
    maskable: torch.Tensor | None = None,
) -> torch.Tensor:
    """One draw of the training loss of ``model`` on ``ids``: :func:`forward_process` then :func:`mdm_loss`."""
    noised = forward_process(ids, eps, generator, maskable=maskable)
    return mdm_loss(model_logits(model, noised.noisy), ids, noised.mask, noised.p_mask)


def guided_logits(
    model: torch.nn.Module,
    x: torch.Tensor,
    prompt_mask: torch.Tensor | None,
    cfg_scale: float | None,
    mask_id: int = MASK,
) -> torch.Tensor:
    """Logits of ``x``; with ``cfg_scale = w`` (not ``None``), unsupervised classifier-free guidance:
    ``(1 + w) f(x) - w f(x with the prompt masked)``, written as the official
    ``un + (w + 1) (cond - un)``; both passes run as one batch."""
    if cfg_scale is None:
        return model_logits(model, x)
    un_x = torch.where(prompt_mask, mask_id, x)
    cond, un = model_logits(model, torch.cat([x, un_x])).chunk(2)
    return un + (cfg_scale + 1) * (cond - un)


def reveal_counts(n_masked: int, steps: int, schedule: str = "uniform", eps: float = 1e-5) -> list[int]:
    """How many masked tokens the confidence sampler reveals at each of ``steps`` steps.

    ``uniform``: ``floor(n (i+1) / K) - floor(n i / K)`` (integer arithmetic: with ``K = n`` exactly one per
    step). ``official``: the official ``int(m_i (1 - s/t))`` with ``m_i`` the tokens still masked and
    ``t, s`` consecutive points of ``linspace(1, eps, K + 1)`` (float32), all remaining at the last step.
    """
    if schedule == "uniform":
        return [n_masked * (i + 1) // steps - n_masked * i // steps for i in range(steps)]
    if schedule != "official":
        raise ValueError(f"schedule {schedule!r}; accepted: 'uniform', 'official'")
    ts = torch.linspace(1, eps, steps + 1)
    counts, left = [], n_masked
    for i in range(steps):
        k = int(left * (1 - ts[i + 1] / ts[i])) if i < steps - 1 else left
        counts.append(k)
        left -= k
    return counts


def _pick(logits: torch.Tensor, temperature: float, generator: torch.Generator | None) -> torch.Tensor:
    """The official Gumbel-max choice in float64: ``argmax exp(l) / (-log u) ** temperature`` (the
    uniforms are drawn even at temperature 0, where it is the argmax)."""
    logits = logits.to(torch.float64)
    noise = torch.rand(logits.shape, generator=generator, dtype=torch.float64, device=logits.device)
    return torch.argmax(logits.exp() / (-torch.log(noise)) ** temperature, dim=-1)


@torch.no_grad()
def mdm_sample(
    model: torch.nn.Module,
    x: torch.Tensor,
    steps: int,
    cfg_scale: float | None = None,
    temperature: float = 0.0,
    remasking: str = "confidence",
    schedule: str = "uniform",
    eps: float = 1e-5,
    generator: torch.Generator | None = None,
    prompt_mask: torch.Tensor | None = None,
    mask_id: int = MASK,
    history: list[torch.Tensor] | None = None,
) -> torch.Tensor:
    """Fill the ``mask_id`` positions of ``x`` ``[B, L]`` in ``steps`` reverse steps; returns new ids.

    Each step predicts every masked position (``guided_logits``, the prompt being ``prompt_mask``,
    default: the positions not masked at the start) and reveals some of them; revealed tokens never
    change again. ``remasking="confidence"`` (the official ``greddy``): per row, the
    :func:`reveal_counts` most confident predictions (probability of the chosen token, float64);
    ``"random"`` (the official ``origin``): each masked token independently with probability ``1 - s/t``
    (``t, s`` from ``linspace(1, eps, K + 1)``), all at the last step. ``history``, when a list, receives
    ``x`` after each step.
    """
    if remasking not in ("confidence", "random"):
        raise ValueError(f"remasking {remasking!r}; accepted: 'confidence', 'random'")
    x = x.clone()
    if prompt_mask is None:
        prompt_mask = x != mask_id
    counts = [reveal_counts(int(n), steps, schedule, eps) for n in (x == mask_id).sum(1).tolist()]
    ts = torch.linspace(1, eps, steps + 1)
    for i in range(steps):
        masked = x == mask_id
        logits = guided_logits(model, x, prompt_mask, cfg_scale, mask_id)
        if remasking == "random":
            p = 1 - ts[i + 1] / ts[i] if i < steps - 1 else 1.0
            n = int(masked.sum())
            chosen = torch.rand(n, generator=generator, device=x.device) < p
            new = torch.full((n,), mask_id, dtype=x.dtype, device=x.device)
            new[chosen] = _pick(logits[masked][chosen], temperature, generator)
            x[masked] = new
        else:
            x0 = _pick(logits[masked], temperature, generator)
            conf = torch.softmax(logits[masked].to(torch.float64), -1).gather(-1, x0[:, None])[:, 0]
            rows = masked.nonzero()[:, 0]
            new = x[masked].clone()
            for r in range(x.shape[0]):
                k = counts[r][i]
                idx = (rows == r).nonzero()[:, 0]
                if k > 0 and len(idx):
                    top = torch.topk(conf[idx], k).indices
                    new[idx[top]] = x0[idx[top]]
            x[masked] = new
        if history is not None:
            history.append(x.clone())
    return x


@torch.no_grad()
def mdm_elbo(
    model: torch.nn.Module,
    ids: torch.Tensor,
    prompt_len: int = 0,
    mc_num: int = 128,
    batch_size: int = 32,
    generator: torch.Generator | None = None,
    cfg_scale: float | None = None,
    mask_id: int = MASK,
) -> float:
    """Monte Carlo upper bound on ``-log p(ids[prompt_len:] | ids[:prompt_len])`` (nats) for one sequence
    ``ids`` ``[L]``, as the official likelihood evaluator: ``mc_num / batch_size`` batches, each of
    ``batch_size`` copies with low-discrepancy times ``t_j = (u + j / batch_size) mod 1`` (no ``eps``),
    masking only the target part; each batch gives ``sum of CE / t over masked positions / batch_size``
    and the result is their mean."""
    if mc_num % batch_size:
        raise ValueError(f"mc_num {mc_num} must be a multiple of batch_size {batch_size}")
    seq = ids[None].repeat(batch_size, 1)
    maskable = torch.zeros_like(seq, dtype=torch.bool)
    maskable[:, prompt_len:] = True
    prompt = ~maskable[:1].expand_as(seq)
    total = 0.0
    for _ in range(mc_num // batch_size):
        u = torch.rand(1, generator=generator, device=ids.device)
        t = (u + torch.arange(batch_size, device=ids.device).float() / batch_size) % 1
        noised = forward_process(seq, 0.0, generator, mask_id, maskable, t=t)
        logits = guided_logits(model, noised.noisy, prompt, cfg_scale, mask_id)
        m = noised.mask
        ce = F.cross_entropy(_upcast(logits[m]), seq[m], reduction="none") / noised.p_mask[m]
        total += float(ce.sum()) / batch_size
    return total / (mc_num // batch_size)
