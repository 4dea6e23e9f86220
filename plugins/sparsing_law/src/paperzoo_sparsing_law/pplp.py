"""PPL-p% sparsity (Luo et al., 2024, Sec. 4.1), following thunlp/SparsingLaw's ``calc_activation.py`` and
``model_utils.py``.

The truncated tensor is the down projection's input ``h`` (``act(gate(x)) * up(x)`` in a gated FFN,
``act(up(x))`` in an MLP): tinylm's ``blocks.<i>.mlp.post`` hook. Neuron ``i``'s output magnitude on a
token is ``|h_i| * ||W_down[:, i]||``. For a CETT value ``c`` (shared by all layers) each layer's threshold
``t`` is the largest of ``num_thresholds`` evenly spaced candidates (from the smallest magnitude to the
0.99 quantile) whose tail ``{i: |h_i| ||W_i|| <= t}`` has mean (over tokens) relative output norm
``||sum_tail h_i W_i|| / ||sum_all h_i W_i||`` at most ``c`` (a binary search over the candidates). The
sparse pass zeroes ``|h_i| < t / ||W_i||`` in every layer at once. An outer bisection over ``c`` in
[0, 1] (to ``tol``) finds the CETT whose perplexity ratio ``exp(loss_sparse - loss_dense)`` reaches
``1 + p/100``; the sparsity is the share of zeroed entries of that CETT's sparse pass.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from paperzoo.losses import task_loss
from paperzoo_tinylm.hooks import capture, hook_names, patch
from torch import nn

POST = "blocks.{}.mlp.post"


@dataclass(frozen=True)
class PPLpResult:
    """The outcome of :func:`ppl_p_sparsity`: the CETT found, each layer's threshold (on the neuron output
    magnitude), the perplexity ratio reached, the activation ratio (kept share) and sparsity (1 - it),
    and the dense and sparse mean losses."""

    cett: float
    thresholds: list[float]
    ppl_ratio: float
    activation_ratio: float
    sparsity: float
    loss_dense: float
    loss_sparse: float


@torch.no_grad()
def cett_threshold(
    acts: torch.Tensor, weight: torch.Tensor, cett: float, num_thresholds: int = 65536
) -> float:
    """One layer's threshold for ``cett``: ``acts`` ``[m, d_ff]`` (the down projection's inputs),
    ``weight`` ``[d_model, d_ff]`` (the down projection). Computed in float32, as the reference does."""
    acts, weight = acts.float(), weight.float()
    norm = acts.abs() * weight.norm(dim=0)
    step = max(norm.numel() // num_thresholds, 1)
    top = norm.reshape(-1)[::step].quantile(0.99)
    candidates = torch.linspace(float(norm.min()), float(top), int(num_thresholds))
    full = (acts @ weight.t()).norm(dim=-1)
    left, right = 0, len(candidates) - 1
    while left < right:
        mid = (left + right) // 2
        tail = torch.where(norm > candidates[mid], torch.zeros_like(acts), acts)
        if float(torch.mean((tail @ weight.t()).norm(dim=-1) / full)) > cett:
            right = mid
        else:
            left = mid + 1
    # The reference returns candidates[left - 1], i.e. the largest candidate when left == 0 (no candidate
    # within the CETT): we truncate nothing there instead.
    return float(candidates[left - 1]) if left > 0 else 0.0


def search_cett(ppl_ratio: Callable[[float], float], target: float, tol: float = 1e-6) -> float:
    """Bisect the CETT in [0, 1] until the bracket is narrower than ``tol``: a CETT whose ``ppl_ratio``
    is below ``target`` raises the lower end, any other lowers the upper end; returns the midpoint."""
    lower, upper = 0.0, 1.0
    while upper - lower > tol:
        mid = (lower + upper) / 2
        if ppl_ratio(mid) < target:
            lower = mid
        else:
            upper = mid
    return (lower + upper) / 2


def _ffn_layers(model: nn.Module) -> list[str]:
    names = [n for n in hook_names(model) if n.startswith("blocks.") and n.endswith(".mlp.post")]
    if not names:
        raise ValueError(
            "model: no blocks.<i>.mlp.post hook; accepted: a tinylm decoder with a gated or mlp ffn"
        )
    return [POST.format(i) for i in range(len(names))]


def _loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    return float(task_loss(model(x).logits, y, "language_modeling"))


@torch.no_grad()
def ppl_p_sparsity(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor | None = None,
    p: float = 1.0,
    *,
    tol: float = 1e-6,
    num_thresholds: int = 65536,
) -> PPLpResult:
    """PPL-``p``% sparsity of a tinylm decoder on inputs ``x`` ``[B, T]`` (targets ``y``; default: ``x``
    shifted left, the last position dropped). The model is put in eval mode for the passes and restored."""
    if p < 0:
        raise ValueError(f"p: got {p}; accepted: p >= 0 (percent of perplexity increase)")
    if y is None:
        x, y = x[:, :-1], x[:, 1:]
    names = _ffn_layers(model)
    downs = [model.get_submodule(n[: -len(".post")]).down_proj.weight for n in names]
    col_norms = [w.float().norm(dim=0) for w in downs]
    was_training = model.training
    model.eval()
    try:
        with capture(model, names) as got:
            dense = _loss(model, x, y)
        acts = [got[n].reshape(-1, got[n].shape[-1]) for n in names]
        cache: dict[float, tuple[list[float], float, float]] = {}

        def run(cett: float) -> tuple[list[float], float, float]:
            if cett not in cache:
                ts = [cett_threshold(a, w, cett, num_thresholds) for a, w in zip(acts, downs)]
                kept: list[torch.Tensor] = []

                def truncate(h: torch.Tensor, limit: torch.Tensor) -> torch.Tensor:
                    keep = h.abs() >= limit.to(h.dtype)
                    kept.append(keep.double().mean())
                    return torch.where(keep, h, torch.zeros_like(h))

                with contextlib.ExitStack() as stack:
                    for n, t, cn in zip(names, ts, col_norms):
                        stack.enter_context(patch(model, n, lambda h, lim=t / cn: truncate(h, lim)))
                    sparse = _loss(model, x, y)
                cache[cett] = (ts, sparse, float(torch.stack(kept).mean()))
            return cache[cett]

        cett = search_cett(lambda c: math.exp(run(c)[1] - dense), 1.0 + p / 100.0, tol)
        ts, sparse, ratio = run(cett)
    finally:
        model.train(was_training)
    return PPLpResult(cett, ts, math.exp(sparse - dense), ratio, 1.0 - ratio, dense, sparse)
