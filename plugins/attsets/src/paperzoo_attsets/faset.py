"""FASet: feature-wise attention-based set training (Yang et al., 2019, Section 4.3, Algorithm 1).

Two training stages of the same model, each a full run of the core ``supervised`` loop:

1. the backbone (every parameter outside the :class:`~paperzoo_attsets.pool.AttSetsPool` modules) is
   trained, the AttSets parameters frozen; the paper (and its official code) feeds single views here
   (``stage1_set_size=1``), where AttSets is the identity;
2. the backbone is frozen (``requires_grad`` off, its modules in eval mode) and only the AttSets
   parameters are trained, on sets cut to a random size each step (``stage2_random_size``).

A fresh optimizer (the configured one) is built for each stage. Cutting a set to fewer elements assumes
its target does not depend on which elements are seen (multi-view reconstruction: every view shows the
same object); for data whose target depends on the whole set, turn both cuts off.

Inputs follow :class:`~paperzoo_attsets.pool.AttSetsSetNet`'s convention: ``(B, N, F + 1)``, the last
channel 1 for real elements and 0 for padding.
"""

from __future__ import annotations

from typing import Any

import torch
from paperzoo.errors import ParamError
from paperzoo.trainer import LoopState, Run, Supervised

from .pool import AttSetsPool

STAGES = ("backbone", "attsets")


def cut_sets(x: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """Keep ``size`` random real elements of each set of ``x`` ``(B, N, F + 1)`` (all of a smaller
    set); dropped elements become padding (all channels zero)."""
    valid = x[..., -1] > 0.5
    keys = torch.rand(valid.shape, generator=generator).to(x.device)
    keys = torch.where(valid, keys, torch.full_like(keys, 2.0))
    rank = torch.argsort(torch.argsort(keys, dim=1), dim=1)
    keep = valid & (rank < size)
    return x * keep.unsqueeze(-1).to(x.dtype)


def attsets_parameters(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    """The parameters of every AttSets module of ``model``."""
    return [p for m in model.modules() if isinstance(m, AttSetsPool) for p in m.parameters()]


class _FreezeCallback:
    """Puts the frozen part of the model in eval mode once the loop has called ``model.train()``."""

    def on_train_start(self, trainer: FASetTwoStage) -> None:
        if STAGES[min(trainer.stage, 1)] == "attsets":
            for module in trainer.run.model.modules():
                if not isinstance(module, AttSetsPool) and not any(
                    isinstance(child, AttSetsPool) for child in module.modules()
                ):
                    module.eval()


class FASetTwoStage(Supervised):
    """Train the backbone, then only the AttSets modules with the backbone frozen.

    :param stage1_set_size: elements per set in stage 1 (paper: 1, single views); null: sets as given.
    :param stage2_random_size: in stage 2, cut every batch's sets to a random size ``1..N`` (paper);
        false: sets as given.
    :param loop: the ``supervised`` loop's params, applied to each stage (``epochs`` or ``max_steps``
        per stage, ``batch_size``, ...).
    """

    def __init__(self, stage1_set_size: int | None = 1, stage2_random_size: bool = True, **loop: Any):
        super().__init__(**loop)
        if stage1_set_size is not None and stage1_set_size < 1:
            raise ParamError(
                "stage1_set_size", f"got {stage1_set_size}; accepted: at least 1, or null (sets as given)"
            )
        self.stage1_set_size, self.stage2_random_size = stage1_set_size, stage2_random_size
        self.callbacks.append(_FreezeCallback())
        self.stage = 0
        self.stage_started = False
        self._loaded: dict[str, Any] | None = None
        self._seconds = 0.0
        self._stage_end = False

    def fit(self, run: Run) -> dict[str, Any]:
        if run.make_optimizer is None:
            raise ValueError("FASet needs an optimizer (a fresh one per stage)")
        self._loaded = None
        self.setup(run)  # restores weights, loop state and extra state when resuming
        self.att_params = attsets_parameters(run.model)
        if not self.att_params:
            raise ParamError("model", "has no AttSets module; accepted: a model with an attsets_pool inside")
        att_ids = {id(p) for p in self.att_params}
        self.backbone_params = [p for p in run.model.parameters() if id(p) not in att_ids]
        if self._loaded is not None:
            self.stage, self.stage_started = int(self._loaded["stage"]), bool(self._loaded["stage_started"])
            self._seconds = float(self._loaded["seconds"])
        else:
            self.stage, self.stage_started, self._seconds = 0, False, 0.0
        while self.stage < len(STAGES):
            self.freeze(STAGES[self.stage])
            if not self.stage_started:
                run.optimizer, run.scheduler = run.make_optimizer(list(run.model.parameters()))
                self.state = LoopState()
                self.stage_started = True
            self.train(run)
            self._seconds += self.train_seconds
            self.log({"step": self.state.step, "stage_end": STAGES[self.stage], **self.evaluate(run)})
            self.stage, self.stage_started = self.stage + 1, False
            self._stage_end = True
            try:
                self.save_checkpoint(run)
            finally:
                self._stage_end = False
        for p in run.model.parameters():
            p.requires_grad_(True)
        return self.finish(run)

    def freeze(self, stage: str) -> None:
        """Stage 1 trains the backbone only, stage 2 the AttSets modules only. Frozen parameters get
        no gradient, so the optimizer (built over all parameters) leaves them bitwise unchanged."""
        for p in self.backbone_params:
            p.requires_grad_(stage == "backbone")
        for p in self.att_params:
            p.requires_grad_(stage == "attsets")

    def compute_loss(self, model: torch.nn.Module, batch: tuple, task: str) -> torch.Tensor:
        x, y = batch
        g = torch.Generator().manual_seed(self.run.seed * 1_000_003 + 7919 * self.stage + self.state.step)
        if self.stage == 0 and self.stage1_set_size is not None:
            x = cut_sets(x, self.stage1_set_size, g)
        elif self.stage == 1 and self.stage2_random_size:
            largest = int((x[..., -1] > 0.5).sum(1).max())
            size = int(torch.randint(1, max(largest, 1) + 1, (1,), generator=g))
            x = cut_sets(x, size, g)
        return super().compute_loss(model, (x, y), task)

    def summarize(self, run: Run, metrics: dict[str, float]) -> dict[str, Any]:
        summary = super().summarize(run, metrics)
        summary.update(
            {
                "stages": list(STAGES),
                "stage1_set_size": self.stage1_set_size,
                "stage2_random_size": self.stage2_random_size,
                "attsets_parameters": sum(p.numel() for p in self.att_params),
                "backbone_parameters": sum(p.numel() for p in self.backbone_params),
            }
        )
        return summary

    def finish(self, run: Run) -> dict[str, Any]:
        self.train_seconds = self._seconds
        return super().finish(run)

    def log(self, record: dict[str, Any]) -> None:
        super().log({"stage": STAGES[min(self.stage, len(STAGES) - 1)], **record})

    def save_checkpoint(self, run: Run) -> None:
        # the loop's own end-of-stage checkpoint is written by ``fit`` once the stage is recorded
        if self.state.step >= self.total_steps(run) and not self._stage_end:
            return
        super().save_checkpoint(run)

    def extra_state(self) -> dict[str, Any]:
        return {"stage": self.stage, "stage_started": self.stage_started, "seconds": self._seconds}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self._loaded = state
