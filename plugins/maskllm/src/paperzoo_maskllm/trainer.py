"""``maskllm``: learn N:M masks of a model's frozen Linears with the ``supervised`` loop.

``fit`` wraps the chosen Linears in :class:`~paperzoo_maskllm.layer.LearnableNMMaskLinear` (weights
frozen, logits initialised from the magnitude prior), builds the configured optimizer over the mask
logits only, and trains them on the task's loss minus the official annealed weight regulariser
``weight_reg * (1 - t / T) * sum ||W ⊙ mask||^2``; at step ``t`` of ``T`` the layers' temperature and
logit scale stand at ``t / T`` of their linear schedules. Evaluation (eval mode) uses the argmax masks.

The summary adds ``density`` (kept fraction of the masked weights under the hard masks: ``n / m``) and
``mask_change``: the fraction of groups whose learned mask differs from the magnitude N:M mask.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import torch
from paperzoo.checks import check_float
from paperzoo.errors import ParamError
from paperzoo.trainer import Run, Supervised
from paperzoo_compress.sparsity import check_nm, nm_mask
from torch import nn

from paperzoo_maskllm.apply import apply_maskllm, chosen_linears, maskllm_loss, set_progress
from paperzoo_maskllm.layer import LearnableNMMaskLinear


class MaskLLMTrainer(Supervised):
    """Learnable semi-structured (N:M) sparsity of a frozen model (MaskLLM).

    :param n: kept weights per group.
    :param m: group size along input channels.
    :param temperature: ``[start, end]`` of the Gumbel temperature (official ``[4, 0.05]``).
    :param scale: ``[start, end]`` of the logit scale (official scripts ``[1e2, 5e2]``).
    :param hard: straight-through hard samples (official default: soft).
    :param prior: ``magnitude`` or ``none`` (logit initialisation).
    :param prior_strength: the prior's strength (official scripts: 3.0).
    :param weight_reg: the weight regulariser's coefficient (official scripts: 1e-5; 0: off).
    :param layers: regular expression of the Linear names to sparsify (default: all but the last).
    :param loop: the ``supervised`` loop's params (``max_steps``, ``batch_size``, ...).
    """

    def __init__(
        self,
        n: int = 2,
        m: int = 4,
        temperature: Sequence[float] = (4.0, 0.05),
        scale: Sequence[float] = (1e2, 5e2),
        hard: bool = False,
        prior: str = "magnitude",
        prior_strength: float = 3.0,
        weight_reg: float = 1e-5,
        layers: str | None = None,
        **loop: Any,
    ):
        super().__init__(**loop)
        check_nm(n, m)
        check_float("weight_reg", weight_reg, 0.0)
        if layers is not None:
            try:
                re.compile(layers)
            except re.error as exc:
                raise ParamError("layers", f"{layers!r} is not a regular expression ({exc})") from None
        self.layers, self.weight_reg = layers, float(weight_reg)
        self.params = dict(
            n=n,
            m=m,
            temperature=temperature,
            scale=scale,
            hard=hard,
            prior=prior,
            prior_strength=prior_strength,
        )
        # validate the layer params once, on a dummy Linear, so a config error surfaces before training
        LearnableNMMaskLinear(nn.Linear(m, 1, bias=False), **self.params)

    @property
    def requires_optimizer(self) -> bool:
        return True

    def check_model(self, model: nn.Module) -> None:
        """Refuse, before the run directory exists, a model whose chosen Linears cannot hold ``n:m``."""
        chosen = chosen_linears(model, self.layers)
        if not chosen:
            raise ValueError(f"trainer.layers {self.layers!r} matches no nn.Linear of the model")
        m = self.params["m"]
        bad = [f"{name} ({mod.in_features} inputs)" for name, mod in chosen if mod.in_features % m]
        if bad:
            raise ValueError(f"inputs not a multiple of trainer.m={m}: {', '.join(bad[:3])}")

    def fit(self, run: Run) -> dict[str, Any]:
        self.mask_layers = apply_maskllm(run.model, self.layers, **self.params)
        self.prior_masks = {
            name: nm_mask(layer.weight, self.params["n"], self.params["m"])
            for name, layer in self.mask_layers.items()
        }
        if run.make_optimizer is None:
            raise ParamError("optimizer", "missing; accepted: an optimizer section (the mask logits train)")
        run.optimizer, run.scheduler = run.make_optimizer([layer.gate for layer in self.mask_layers.values()])
        self.setup(run)
        self.train(run)
        return self.finish(run)

    def compute_loss(self, model: nn.Module, batch: tuple, task: str) -> torch.Tensor:
        progress = self.state.step / max(self.total_steps(self.run), 1)
        set_progress(self.mask_layers, progress)
        loss = super().compute_loss(model, batch, task)
        return maskllm_loss(loss, self.mask_layers, self.weight_reg, progress)

    def summarize(self, run: Run, metrics: dict[str, float]) -> dict[str, Any]:
        out = super().summarize(run, metrics)
        kept = changed = total = groups = 0
        m = self.params["m"]
        for name, layer in self.mask_layers.items():
            hard = layer.hard_mask()
            kept, total = kept + int(hard.sum()), total + hard.numel()
            differs = (hard != self.prior_masks[name]).reshape(-1, m).any(-1)
            changed, groups = changed + int(differs.sum()), groups + differs.numel()
        out.update(density=kept / total, mask_change=changed / groups)
        return out
