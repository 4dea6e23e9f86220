"""``pst_sparse_finetune``: parameter-efficient sparse fine-tuning (PST) of a model's Linears.

The chosen ``nn.Linear`` modules (a regular expression on their names; default every Linear but the
model's last, its output layer, as the official code converts the encoder only) become
:class:`~paperzoo_pst_sparse.layer.PSTLinear`; every other parameter of the model is frozen, and the
configured optimizer trains only ``U, V, A, B, R, C`` (the official optimizer's parameter list). Before
the forward pass of optimizer step ``t`` of ``T`` every PST layer prunes ``int(numel * s(t))`` weights,
``s`` the cubic schedule of :func:`~paperzoo_pst_sparse.schedule.pst_sparsity`.

``method: magnitude`` is the baseline with the same machinery: no importance parameters (``S = |W'|``),
only the weight update ``U V``; give it ``weight_rank = r_w + r_m + 1`` for PST's trainable budget.
The summary adds ``sparsity`` (the final schedule value), ``density`` (fraction of the PST layers'
weights kept), ``trainable`` and ``dense_params`` (parameter counts).
"""

from __future__ import annotations

import re
from typing import Any, Literal

import torch
from paperzoo.checks import check_choice, check_float, check_int
from paperzoo.errors import ParamError
from paperzoo.trainer import Run, Supervised
from torch import nn

from paperzoo_pst_sparse.layer import PSTLinear
from paperzoo_pst_sparse.schedule import pst_sparsity

METHODS = ("pst", "magnitude")


def chosen_linears(model: nn.Module, layers: str | None) -> list[tuple[str, nn.Linear]]:
    """The ``nn.Linear`` modules whose name matches ``layers`` (default: every Linear but the last)."""
    linears = [(name, mod) for name, mod in model.named_modules() if type(mod) is nn.Linear]
    if layers is None:
        return linears[:-1]
    return [(name, mod) for name, mod in linears if re.search(layers, name)]


def convert_pst(model: nn.Module, layers: str | None = None, **params: Any) -> dict[str, PSTLinear]:
    """Replace, in place, the chosen Linears by :class:`PSTLinear` (``params``: its keywords) and freeze
    every other parameter; existing PST layers are kept. Returns the PST layers by name."""
    for name, linear in chosen_linears(model, layers):
        parent, _, leaf = name.rpartition(".")
        setattr(model.get_submodule(parent) if parent else model, leaf, PSTLinear(linear, **params))
    out = {name: mod for name, mod in model.named_modules() if isinstance(mod, PSTLinear)}
    if not out:
        raise ParamError("layers", f"{layers!r} matches no nn.Linear of the model")
    keep = {id(p) for layer in out.values() for p in layer.trainable()}
    for p in model.parameters():
        p.requires_grad_(id(p) in keep)
    return out


def set_sparsity(layers: dict[str, PSTLinear], sparsity: float) -> None:
    """The official ``update_network_sparsity``: one sparsity for every PST layer."""
    for layer in layers.values():
        layer.sparsity = sparsity


class PSTSparseFinetune(Supervised):
    """Sparse fine-tuning that trains only small matrices (PST) or, as the baseline, only a low-rank
    weight update under magnitude pruning.

    :param final_sparsity: ``s_f`` in [0, 1): the fraction of each PST layer's weights pruned at the end.
    :param initial_sparsity: ``s_i``: the sparsity before and at the warmup's end (official 0).
    :param initial_warmup: fraction of the steps before the sparsity rises (official 0.1).
    :param final_warmup: fraction of the last steps at ``s_f`` (official 0.3).
    :param method: ``pst`` (learned importance) or ``magnitude`` (``S = |W + beta U V|``).
    :param weight_rank: rank of the weight update ``U V`` (official 8).
    :param mask_rank: rank of the importance ``A B`` (official 8; ``pst`` only).
    :param weight_beta: scale of ``U V`` (official 1).
    :param mask_alpha1: scale of ``A B`` (official 1).
    :param mask_alpha2: scale of ``R 1^T + 1 C^T`` (official 1).
    :param layers: regular expression of the Linear names to sparsify (default: all but the last).
    :param loop: the ``supervised`` loop's params (``max_steps`` or ``epochs``, ``batch_size``, ...).
    """

    def __init__(
        self,
        final_sparsity: float = 0.9,
        initial_sparsity: float = 0.0,
        initial_warmup: float = 0.1,
        final_warmup: float = 0.3,
        method: Literal["pst", "magnitude"] = "pst",
        weight_rank: int = 8,
        mask_rank: int = 8,
        weight_beta: float = 1.0,
        mask_alpha1: float = 1.0,
        mask_alpha2: float = 1.0,
        layers: str | None = None,
        **loop: Any,
    ) -> None:
        super().__init__(**loop)
        check_float("final_sparsity", final_sparsity, 0.0)
        if not final_sparsity < 1.0:
            raise ParamError("final_sparsity", f"{final_sparsity!r}; accepted: a number >= 0 and < 1")
        check_float("initial_sparsity", initial_sparsity, 0.0, final_sparsity)
        check_float("initial_warmup", initial_warmup, 0.0, 1.0)
        check_float("final_warmup", final_warmup, 0.0, 1.0)
        if not initial_warmup + final_warmup < 1.0:
            raise ParamError(
                "final_warmup",
                f"{final_warmup!r}; accepted: a number with initial_warmup + final_warmup < 1 "
                f"(initial_warmup is {initial_warmup})",
            )
        check_choice("method", method, METHODS)
        check_int("weight_rank", weight_rank, 0)
        check_int("mask_rank", mask_rank, 0)
        for name, value in (
            ("weight_beta", weight_beta),
            ("mask_alpha1", mask_alpha1),
            ("mask_alpha2", mask_alpha2),
        ):
            check_float(name, value, 0.0)
        if layers is not None:
            try:
                re.compile(layers)
            except re.error as exc:
                raise ParamError("layers", f"{layers!r} is not a regular expression ({exc})") from None
        self.final_sparsity, self.initial_sparsity = final_sparsity, initial_sparsity
        self.initial_warmup, self.final_warmup, self.method, self.layers = (
            initial_warmup,
            final_warmup,
            method,
            layers,
        )
        pst = method == "pst"
        self.params = {
            "weight_rank": weight_rank,
            "mask_rank": mask_rank if pst else 0,
            "weight_beta": weight_beta,
            "mask_alpha1": mask_alpha1 if pst else 0.0,
            "mask_alpha2": mask_alpha2 if pst else 0.0,
            "structured": pst,
        }

    def check_model(self, model: nn.Module) -> None:
        """Refuse, before the run directory exists, a model with no Linear to sparsify."""
        if not chosen_linears(model, self.layers) and not any(
            isinstance(m, PSTLinear) for m in model.modules()
        ):
            raise ValueError(f"trainer.layers {self.layers!r} matches no nn.Linear of the model")

    def sparsity_at(self, step: int, total: int) -> float:
        """The schedule's sparsity for the forward pass of optimizer step ``step`` (0-based) of ``total``."""
        return pst_sparsity(
            step, total, self.final_sparsity, self.initial_warmup, self.final_warmup, self.initial_sparsity
        )

    def fit(self, run: Run) -> dict[str, Any]:
        self.dense_params = sum(p.numel() for p in run.model.parameters())
        # the PST parameters exist before a checkpoint is restored into the model
        self.pst_layers = convert_pst(run.model, self.layers, **self.params)
        if run.make_optimizer is None:
            raise ParamError("optimizer", "missing; accepted: an optimizer section (U, V, A, B, R, C train)")
        trainable = [p for layer in self.pst_layers.values() for p in layer.trainable()]
        run.optimizer, run.scheduler = run.make_optimizer(trainable)
        self.setup(run)
        self.train(run)
        set_sparsity(self.pst_layers, self.sparsity_at(self.total_steps(run), self.total_steps(run)))
        return self.finish(run)

    def compute_loss(self, model: nn.Module, batch: tuple, task: str) -> torch.Tensor:
        set_sparsity(self.pst_layers, self.sparsity_at(self.state.step, self.total_steps(self.run)))
        return super().compute_loss(model, batch, task)

    def summarize(self, run: Run, metrics: dict[str, float]) -> dict[str, Any]:
        out = super().summarize(run, metrics)
        kept = sum(int(layer.mask().sum()) for layer in self.pst_layers.values())
        total = sum(layer.weight.numel() for layer in self.pst_layers.values())
        out.update(
            sparsity=self.sparsity_at(self.total_steps(run), self.total_steps(run)),
            density=kept / total,
            trainable=sum(p.numel() for p in run.model.parameters() if p.requires_grad),
            dense_params=self.dense_params,
        )
        return out
