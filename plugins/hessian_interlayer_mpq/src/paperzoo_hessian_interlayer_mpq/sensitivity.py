"""Layer sensitivities for mixed-precision post-training quantisation (Schaefer et al., 2023).

* Hessian term (HAWQ-v2's form, in loss units): ``h_i = 1/2 * tr(H_i) / n_i * ||Q_low(W_i) - W_i||^2``,
  the second-order loss increase of quantising layer ``i`` alone when its Hessian block is replaced by
  its mean diagonal; ``tr(H_i)`` is Hutchinson's estimate ``E_v[v^T H_i v]`` over Rademacher ``v``.
* Inter-layer dependency term: ``d_i = 1/2 * sum_{j != i} (dL({i, j}) - dL({i}) - dL({j}))``, where
  ``dL(S)`` is the measured calibration-loss increase when exactly the layers ``S`` are quantised to the
  low bit width together: what quantising ``i`` jointly with each other layer adds beyond the two
  separately (each pair's interaction split evenly between its two layers).
* Augmented sensitivity: ``s_i = h_i + dependency_weight * d_i``; the Hessian-only baseline ranks by
  ``h_i``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from paperzoo.losses import logits_of, task_loss
from paperzoo_compress.quant import fake_quantize

QUANTIZABLE = (torch.nn.Linear, torch.nn.Conv1d, torch.nn.Conv2d)
Batch = tuple[torch.Tensor, torch.Tensor]


def quant_layers(model: torch.nn.Module, exclude: Iterable[str] = ()) -> dict[str, torch.nn.Module]:
    """The model's Linear and Conv layers by module name, in module order, without ``exclude``."""
    skip = set(exclude)
    return {n: m for n, m in model.named_modules() if isinstance(m, QUANTIZABLE) and n not in skip}


def quantize_weight(w: torch.Tensor, bits: int) -> torch.Tensor:
    """Round-to-nearest asymmetric fake quantisation, one group per output channel; ``bits >= 16``
    leaves the weight as it is (the high-precision reference)."""
    if bits >= 16:
        return w
    return fake_quantize(w.reshape(w.shape[0], -1), bits, -1, False).reshape(w.shape)


@contextmanager
def quantized(layers: dict[str, torch.nn.Module], bits: dict[str, int]):
    """Temporarily replace the weights of ``layers`` by their fake quantisation at ``bits[name]``."""
    saved = {n: layers[n].weight.detach().clone() for n in bits}
    try:
        with torch.no_grad():
            for n, b in bits.items():
                layers[n].weight.copy_(quantize_weight(saved[n], b))
        yield
    finally:
        with torch.no_grad():
            for n, w in saved.items():
                layers[n].weight.copy_(w)


@torch.no_grad()
def mean_loss(model: torch.nn.Module, batches: Sequence[Batch], task: str) -> float:
    """Mean task loss over ``batches`` (weighted by batch size)."""
    total, count = 0.0, 0
    for x, y in batches:
        total += float(task_loss(logits_of(model(x)), y, task, reduction="sum"))
        count += int(y.shape[0]) * (int(y[0].numel()) if task == "language_modeling" else 1)
    return total / max(count, 1)


@torch.no_grad()
def accuracy(model: torch.nn.Module, batches: Sequence[Batch]) -> float:
    """Top-1 accuracy over ``batches``."""
    right, count = 0, 0
    for x, y in batches:
        right += int((logits_of(model(x)).argmax(-1) == y).sum())
        count += int(y.numel())
    return right / max(count, 1)


def hutchinson_samples(
    loss_fn: Callable[[], torch.Tensor],
    params: Sequence[torch.Tensor],
    n_samples: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``[n_samples, len(params)]``: ``v_p^T (H v)_p`` for one Rademacher probe ``v`` over all params per
    sample (one Hessian-vector product for every layer), an unbiased Hutchinson estimate of each
    parameter's Hessian-block trace ``tr(H_pp)``; the cross-block terms add ``||H_p,rest||_F^2`` to its
    variance and nothing to its mean."""
    grads = torch.autograd.grad(loss_fn(), list(params), create_graph=True)
    rows = []
    for _ in range(n_samples):
        vs = [
            torch.randint(0, 2, p.shape, generator=generator, dtype=p.dtype).mul_(2).sub_(1) for p in params
        ]
        hvs = torch.autograd.grad(grads, list(params), grad_outputs=vs, retain_graph=True)
        rows.append(torch.stack([(hv * v).sum() for hv, v in zip(hvs, vs)]))
    return torch.stack(rows).detach()


def hutchinson_trace(loss_fn, params, n_samples: int = 64, generator=None) -> torch.Tensor:
    """Hutchinson's estimate of ``tr(H_pp)`` per parameter (the mean of :func:`hutchinson_samples`)."""
    return hutchinson_samples(loss_fn, params, n_samples, generator).mean(0)


@dataclass
class Sensitivity:
    """Per-layer sensitivities, in the order of ``names``."""

    names: list[str]
    trace: list[float]
    hessian: list[float]
    dependency: list[float]
    single: list[float] = field(default_factory=list)

    def augmented(self, dependency_weight: float = 1.0) -> list[float]:
        return [h + dependency_weight * d for h, d in zip(self.hessian, self.dependency)]

    def ranking(self, kind: str = "augmented", dependency_weight: float = 1.0) -> list[str]:
        """Layer names, most sensitive first (ties: module order)."""
        score = self.hessian if kind == "hessian" else self.augmented(dependency_weight)
        order = sorted(range(len(self.names)), key=lambda i: (-score[i], i))
        return [self.names[i] for i in order]


def layer_sensitivity(
    model: torch.nn.Module,
    batches: Sequence[Batch],
    task: str,
    low_bits: int = 2,
    n_samples: int = 32,
    exclude: Iterable[str] = (),
    dependency: str = "pairwise",
    seed: int = 0,
) -> Sensitivity:
    """Hutchinson-Hessian and inter-layer dependency sensitivities of the model's quantisable layers on
    the calibration ``batches`` (the model is left unchanged)."""
    layers = quant_layers(model, exclude)
    names = list(layers)
    params = [layers[n].weight for n in names]
    gen = torch.Generator().manual_seed(seed)

    def loss_fn() -> torch.Tensor:
        total = sum(task_loss(logits_of(model(x)), y, task, reduction="sum") for x, y in batches)
        return total / sum(int(y.numel()) for _, y in batches)

    trace = hutchinson_trace(loss_fn, params, n_samples, gen)
    hessian = []
    for p, t in zip(params, trace):
        err = (quantize_weight(p.detach(), low_bits) - p.detach()).pow(2).sum()
        hessian.append(float(0.5 * t / p.numel() * err))
    dep = [0.0] * len(names)
    single: list[float] = []
    if dependency != "none":
        base = mean_loss(model, batches, task)

        def delta(group: Sequence[str]) -> float:
            with quantized(layers, {n: low_bits for n in group}):
                return mean_loss(model, batches, task) - base

        single = [delta([n]) for n in names]
        if dependency == "context":
            whole = delta(names)
            for i, n in enumerate(names):
                dep[i] = whole - delta([m for m in names if m != n]) - single[i]
            return Sensitivity(names, [float(t) for t in trace], hessian, dep, single)
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                inter = delta([names[i], names[j]]) - single[i] - single[j]
                dep[i] += 0.5 * inter
                dep[j] += 0.5 * inter
    return Sensitivity(names, [float(t) for t in trace], hessian, dep, single)
