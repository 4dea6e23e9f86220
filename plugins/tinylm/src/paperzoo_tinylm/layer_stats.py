"""Per-layer statistics of a tinylm model on one batch, read through the frozen hook names.

:func:`layer_stats` runs one forward and one backward pass and returns, per block:

* ``resid_rms``: root mean square of the residual stream (``embed``, then every ``blocks.<i>.resid_post``:
  ``n_layers + 1`` values, the last block's output before the final norm);
* ``resid_var``: variance of the residual stream over features, averaged over tokens (same points);
* ``resid_grad_rms``: root mean square of the loss gradient with respect to those residual-stream tensors;
* ``grad_norm``: L2 norm of the loss gradient with respect to each block's parameters
  (``blocks.<i>.*``, the frozen parameter names), ``n_layers`` values;
* ``nonzero_fraction``: share of entries of ``blocks.<i>.mlp.post`` (the down projection's input) whose
  magnitude exceeds ``zero_tol`` (the activation sparsity of ReLU-like ffns);
* ``angle``: angle in degrees between a block's input ``resid_pre`` and its output ``resid_post``,
  averaged over tokens.

The loss is the mean next-token cross-entropy over targets that are not ``-100``. Nothing is written to
``.grad`` (gradients come from ``torch.autograd.grad``) and dropout is off during the pass; the model's
training mode is restored. The evaluator ``tinylm_layer_stats`` (:class:`LayerStatsEvaluator`) averages
these over validation batches and reports a summary; ``LayerStatsEvaluator.per_layer`` gives the lists.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from paperzoo_tinylm.hooks import capture, hook_names


@dataclass
class LayerStats:
    """Per-layer statistics of one batch (see the module docstring); plain lists of floats."""

    resid_rms: list[float]
    resid_var: list[float]
    resid_grad_rms: list[float]
    grad_norm: list[float]
    nonzero_fraction: list[float]
    angle: list[float]

    def to_dict(self) -> dict[str, list[float]]:
        return asdict(self)


def _n_blocks(model: nn.Module) -> int:
    names = hook_names(model)
    if "embed" not in names:
        raise ValueError(
            f"layer_stats needs a tinylm decoder or encoder (hook names 'embed', 'blocks.<i>.resid_post'); "
            f"{type(model).__name__} has none"
        )
    n = sum(1 for n in names if n.startswith("blocks.") and n.endswith(".resid_post"))
    if n == 0:
        raise ValueError("layer_stats needs a model with at least one block")
    return n


def _rms(x: torch.Tensor) -> float:
    return float(x.double().pow(2).mean().sqrt())


def _angle_degrees(a: torch.Tensor, b: torch.Tensor) -> float:
    cos = F.cosine_similarity(a.double(), b.double(), dim=-1, eps=1e-30).clamp(-1.0, 1.0)
    return float(torch.rad2deg(torch.arccos(cos)).mean())


def layer_stats(
    model: nn.Module, input_ids: torch.Tensor, targets: torch.Tensor | None = None, zero_tol: float = 0.0
) -> LayerStats:
    """Statistics of ``model`` on one batch ``input_ids`` ``[B, T]``; ``targets`` ``[B, T]`` (default:
    ``input_ids`` shifted left, the last position ignored)."""
    n = _n_blocks(model)
    if targets is None:
        targets = torch.full_like(input_ids, -100)
        targets[:, :-1] = input_ids[:, 1:]
    resid_points = ["embed"] + [f"blocks.{i}.resid_post" for i in range(n)]
    names = resid_points + [f"blocks.{i}.{p}" for i in range(n) for p in ("resid_pre", "mlp.post")]
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad(), capture(model, names, detach=False) as got:
            logits = model(input_ids).logits
        logits = logits.to(torch.promote_types(logits.dtype, torch.float32))  # float32 at least
        loss = F.cross_entropy(logits.flatten(0, -2), targets.flatten(), ignore_index=-100)
        resid = [got[p] for p in resid_points]
        named = [(k, p) for k, p in model.named_parameters() if p.requires_grad]
        params = [[p for k, p in named if k.startswith(f"blocks.{i}.")] for i in range(n)]
        flat = [p for group in params for p in group]
        grads = torch.autograd.grad(loss, resid + flat, allow_unused=True)
    finally:
        model.train(was_training)
    resid_grads, param_grads = grads[: len(resid)], list(grads[len(resid) :])
    grad_norm = []
    for group in params:
        gs = [param_grads.pop(0) for _ in group]
        grad_norm.append(math.sqrt(sum(float(g.double().pow(2).sum()) for g in gs if g is not None)))
    return LayerStats(
        resid_rms=[_rms(x.detach()) for x in resid],
        resid_var=[float(x.detach().double().var(-1, unbiased=False).mean()) for x in resid],
        resid_grad_rms=[_rms(g) if g is not None else 0.0 for g in resid_grads],
        grad_norm=grad_norm,
        nonzero_fraction=[
            float((got[f"blocks.{i}.mlp.post"].detach().abs() > zero_tol).double().mean()) for i in range(n)
        ],
        angle=[
            _angle_degrees(got[f"blocks.{i}.resid_pre"].detach(), got[f"blocks.{i}.resid_post"].detach())
            for i in range(n)
        ],
    )


def mean_stats(stats: list[LayerStats]) -> LayerStats:
    """The element-wise mean of several batches' statistics."""
    fields = stats[0].to_dict()
    return LayerStats(
        **{k: [sum(vals) / len(stats) for vals in zip(*(s.to_dict()[k] for s in stats))] for k in fields}
    )


class LayerStatsEvaluator:
    """``tinylm_layer_stats``: per-layer statistics of a tinylm model over the first ``n_batches``
    batches of a split, summarised.

    Keys: ``resid_rms_first`` and ``resid_rms_last`` (the first and the last block's output),
    ``resid_rms_growth`` (their ratio), ``resid_var_last``, ``grad_norm_first``, ``grad_norm_last``,
    ``nonzero_fraction_mean``, ``angle_mean`` (degrees). :meth:`per_layer` returns every list.
    """

    keys = (
        "resid_rms_first",
        "resid_rms_last",
        "resid_rms_growth",
        "resid_var_last",
        "grad_norm_first",
        "grad_norm_last",
        "nonzero_fraction_mean",
        "angle_mean",
    )

    def __init__(self, batch_size: int = 16, n_batches: int = 1, split: str = "val", zero_tol: float = 0.0):
        """:param batch_size: sequences per batch.
        :param n_batches: batches averaged (from the start of the split, in order).
        :param split: ``val`` or ``train``.
        :param zero_tol: an activation counts as nonzero when its magnitude exceeds this."""
        if split not in ("val", "train"):
            raise ValueError(f"split: got {split!r}; accepted: 'val' or 'train'")
        if batch_size < 1 or n_batches < 1:
            raise ValueError("batch_size and n_batches: accepted: positive integers")
        self.batch_size, self.n_batches, self.split, self.zero_tol = batch_size, n_batches, split, zero_tol

    def per_layer(self, model: nn.Module, data) -> LayerStats:
        """The statistics of every layer, averaged over the batches."""
        from paperzoo.data import batches

        device = next(model.parameters()).device
        stats = []
        for k, (x, y) in enumerate(batches(getattr(data, self.split), self.batch_size)):
            if k == self.n_batches:
                break
            stats.append(layer_stats(model, x.to(device), y.to(device), self.zero_tol))
        return mean_stats(stats)

    def __call__(self, model: nn.Module, data) -> dict[str, float]:
        s = self.per_layer(model, data)
        first, last = s.resid_rms[1], s.resid_rms[-1]
        return {
            "resid_rms_first": first,
            "resid_rms_last": last,
            "resid_rms_growth": last / first if first > 0 else math.inf,
            "resid_var_last": s.resid_var[-1],
            "grad_norm_first": s.grad_norm[0],
            "grad_norm_last": s.grad_norm[-1],
            "nonzero_fraction_mean": sum(s.nonzero_fraction) / len(s.nonzero_fraction),
            "angle_mean": sum(s.angle) / len(s.angle),
        }
