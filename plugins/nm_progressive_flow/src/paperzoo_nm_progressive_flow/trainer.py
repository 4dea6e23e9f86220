"""``nm_progressive_gradient_flow``: supervised training of a model whose Linears are N:M sparse
(:class:`~paperzoo_nm_progressive_flow.layer.NMSparseLinear`), driving the schedule of the paper.

Per optimizer step ``t`` of ``total``: ``t < dense_steps``: dense; then, with ``s = t - dense_steps``,
- ``mdgf``: target ``n:m``, ``beta = mask_decay(s, decay, decay_coef)`` (linear or exponential);
- ``sdgf``: ``beta = 0`` (binary mask, straight-through), the pattern of the structure-decay frame of ``t``;
- ``srste``: ``beta = 0`` with SR-STE's term ``srste_lambda (1 - M) ⊙ W`` in the gradient;
- ``ste``: ``beta = 0`` (Zhou et al.'s straight-through baseline);
and in the last ``fine_tune_steps`` steps every method trains the binary target ``n:m`` mask. After
training the layers compute with the binary target mask (what is evaluated and deployed).

The summary adds ``grad_norm_mean`` and ``grad_norm_var``: mean and variance over the sparse-phase steps
of the global gradient norm of the sparse layers' weights (the paper's gradient-noise measure), and
``density`` (fraction of nonzero weights the sparse layers compute with).
"""

from __future__ import annotations

import re
from typing import Any, Literal

import torch
from paperzoo.checks import check_choice, check_float, check_int
from paperzoo.errors import ParamError
from paperzoo.trainer import Run, Supervised
from paperzoo_compress.sparsity import check_nm
from torch import nn

from paperzoo_nm_progressive_flow.layer import NMSparseLinear
from paperzoo_nm_progressive_flow.schedule import (
    DECAYS,
    STRUCTURES,
    mask_decay,
    pattern_at,
    structure_schedule,
)

METHODS = ("mdgf", "sdgf", "srste", "ste")


def chosen_linears(model: nn.Module, layers: str | None) -> list[tuple[str, nn.Linear]]:
    """The ``nn.Linear`` modules (by name) whose name matches the regular expression ``layers``; by
    default every Linear but the model's last (its output layer)."""
    linears = [(name, mod) for name, mod in model.named_modules() if type(mod) is nn.Linear]
    if layers is None:
        return linears[:-1]
    return [(name, mod) for name, mod in linears if re.search(layers, name)]


def sparsify_linears(
    model: nn.Module, layers: str | None, max_m: int, **params: Any
) -> dict[str, NMSparseLinear]:
    """Replace, in place, the ``nn.Linear`` modules whose name matches the regular expression ``layers``
    (default: every Linear but the model's last, its output layer) by :class:`NMSparseLinear` sharing
    their parameters; existing ``NMSparseLinear`` modules are kept and returned too."""
    chosen = chosen_linears(model, layers)
    out = {name: mod for name, mod in model.named_modules() if isinstance(mod, NMSparseLinear)}
    for name, linear in chosen:
        if linear.in_features % max_m:
            raise ParamError("layers", f"{name} has {linear.in_features} inputs, not a multiple of m={max_m}")
        parent, _, leaf = name.rpartition(".")
        out[name] = NMSparseLinear(linear, **params)
        setattr(model.get_submodule(parent) if parent else model, leaf, out[name])
    if not out:
        raise ParamError("layers", f"{layers!r} matches no nn.Linear of the model")
    return out


class _GradNorm:
    """Loop callback: the global gradient norm of the sparse layers' weights after each backward."""

    def after_backward(self, trainer: NMProgressiveGradientFlow) -> None:
        if trainer.state.step >= trainer.dense_steps:
            grads = [
                layer.weight.grad for layer in trainer.sparse_layers.values() if layer.weight.grad is not None
            ]
            if grads:
                trainer.grad_norms.append(
                    float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])))
                )


class NMProgressiveGradientFlow(Supervised):
    """N:M sparse training with progressive gradient flow (MDGF, SDGF) or the SR-STE / STE baselines.

    :param n: kept weights per group of the target pattern.
    :param m: group size along input channels.
    :param method: ``mdgf`` (mask decay), ``sdgf`` (structure decay), ``srste`` or ``ste``.
    :param decay: MDGF's decay: ``linear`` or ``exp``.
    :param decay_coef: MDGF's coefficient per sparse step (official default 2e-4).
    :param decay_on: ``forward`` (official) or ``gradient`` (see ``NMSparseLinear``).
    :param structure: SDGF's schedule: ``sparsify`` (paper), ``densify`` or ``fine``.
    :param dense_steps: dense steps before sparsity starts.
    :param fine_tune_steps: final steps with the binary target mask.
    :param srste_lambda: SR-STE's ``lambda`` (method ``srste`` only).
    :param layers: regular expression of the Linear module names to sparsify (default: all but the last).
    :param loop: the ``supervised`` loop's params (``max_steps``, ``batch_size``, ...).
    """

    def __init__(
        self,
        n: int = 1,
        m: int = 8,
        method: Literal["mdgf", "sdgf", "srste", "ste"] = "mdgf",
        decay: Literal["linear", "exp"] = "linear",
        decay_coef: float = 2e-4,
        decay_on: Literal["forward", "gradient"] = "forward",
        structure: Literal["sparsify", "densify", "fine"] = "sparsify",
        dense_steps: int = 0,
        fine_tune_steps: int = 0,
        srste_lambda: float = 2e-4,
        layers: str | None = None,
        **loop: Any,
    ):
        super().__init__(**loop)
        check_nm(n, m)
        check_choice("method", method, METHODS)
        check_choice("decay", decay, DECAYS[:2])
        check_float("decay_coef", decay_coef, 0.0, open_low=True)
        check_choice("decay_on", decay_on, ("forward", "gradient"))
        check_choice("structure", structure, STRUCTURES)
        check_int("dense_steps", dense_steps, 0)
        check_int("fine_tune_steps", fine_tune_steps, 0)
        check_float("srste_lambda", srste_lambda, 0.0)
        if layers is not None:
            try:
                re.compile(layers)
            except re.error as exc:
                raise ParamError("layers", f"{layers!r} is not a regular expression ({exc})") from None
        self.n, self.m, self.method, self.decay, self.decay_coef = n, m, method, decay, decay_coef
        self.decay_on, self.structure, self.layers = decay_on, structure, layers
        self.dense_steps, self.fine_tune_steps, self.srste_lambda = dense_steps, fine_tune_steps, srste_lambda
        self.callbacks.append(_GradNorm())
        self.grad_norms: list[float] = []

    def check_model(self, model: nn.Module) -> None:
        """Refuse, before the run directory exists, a model whose chosen Linears cannot hold the target
        ``n:m`` pattern (``ValueError``: a config error at ``model``, exit 2)."""
        chosen = chosen_linears(model, self.layers)
        if not chosen and not any(isinstance(mod, NMSparseLinear) for mod in model.modules()):
            raise ValueError(f"trainer.layers {self.layers!r} matches no nn.Linear of the model")
        bad = [f"{name} ({mod.in_features} inputs)" for name, mod in chosen if mod.in_features % self.m]
        if bad:
            raise ValueError(f"inputs not a multiple of trainer.m={self.m}: {', '.join(bad[:3])}")

    def schedule_state(self, step: int, total: int) -> dict[str, Any]:
        """The layers' state at optimizer step ``step`` of ``total`` (``NMSparseLinear.set_state`` keywords)."""
        if step < self.dense_steps:
            return {"dense": True}
        if step >= total - self.fine_tune_steps:
            return {"beta": 0.0}
        if self.method == "mdgf":
            return {"beta": mask_decay(step - self.dense_steps, self.decay, self.decay_coef)}
        if self.method == "sdgf":
            n, m = pattern_at(self.frames, step)
            return {"beta": 0.0, "n": n, "m": m}
        return {"beta": 0.0}

    def fit(self, run: Run) -> dict[str, Any]:
        total = self.total_steps(run)
        self.frames = structure_schedule(
            self.n, self.m, total, self.dense_steps, self.fine_tune_steps, self.structure
        )
        max_m = max([self.m] + [m for _, m in self.frames.values()]) if self.method == "sdgf" else self.m
        lam = self.srste_lambda if self.method == "srste" else 0.0
        self.sparse_layers = sparsify_linears(
            run.model, self.layers, max_m, n=self.n, m=self.m, decay_on=self.decay_on, srste_lambda=lam
        )
        self.grad_norms = []
        self.setup(run)
        self.train(run)
        for layer in self.sparse_layers.values():
            layer.set_state(beta=0.0)  # evaluated and deployed: the binary target mask
        return self.finish(run)

    def compute_loss(self, model: nn.Module, batch: tuple, task: str) -> torch.Tensor:
        state = self.schedule_state(self.state.step, self.total_steps(self.run))
        for layer in self.sparse_layers.values():
            layer.set_state(**state)
        return super().compute_loss(model, batch, task)

    def extra_state(self) -> dict[str, Any]:
        return {"grad_norms": list(self.grad_norms)}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.grad_norms = list(state.get("grad_norms", []))

    def summarize(self, run: Run, metrics: dict[str, float]) -> dict[str, Any]:
        out = super().summarize(run, metrics)
        norms = torch.tensor(self.grad_norms, dtype=torch.float64)
        nonzero = sum(int((layer.mask()).sum()) for layer in self.sparse_layers.values())
        total = sum(layer.weight.numel() for layer in self.sparse_layers.values())
        out.update(
            grad_norm_mean=float(norms.mean()) if len(norms) else 0.0,
            grad_norm_var=float(norms.var()) if len(norms) > 1 else 0.0,
            density=nonzero / total,
        )
        return out
