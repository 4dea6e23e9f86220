"""``self_pretraining``: the supervised loop, its first steps spent on an LM objective over the inputs."""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
import torch.nn.functional as F
from paperzoo.errors import ParamError
from paperzoo.trainer import Run, Supervised
from paperzoo_tinylm.transforms import IGNORE, MLMTransform


def causal_lm_loss(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy (float32): logits at ``0..T-2`` against tokens ``1..T-1``."""
    return F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), ids[:, 1:].flatten())


def masked_lm_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy (float32) over the corrupted positions (``targets != IGNORE``); zero (with a
    gradient of zeros) when a batch has none."""
    if not (targets != IGNORE).any():
        return logits.float().sum() * 0.0
    return F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=IGNORE)


class SelfPretraining(Supervised):
    """Self-pretraining then fine-tuning in one run of ``total_steps`` optimizer steps.

    Steps ``0 .. pretrain_steps - 1`` (``pretrain_steps = floor(pretrain_fraction * total_steps)``) train
    with the LM objective on the training split's inputs only (the targets in the batch are never read);
    the remaining steps use the task's loss on labels, as the supervised loop does. The model provides
    ``lm_logits(ids) -> [B, T, V]`` (``self_pretraining_classifier`` does) beside ``forward(ids)``.

    :param pretrain_fraction: share of the steps spent pretraining, in ``[0, 1]`` (0: the supervised
        loop bit for bit).
    :param objective: ``causal`` (next-token prediction, the paper's default for causal models) or
        ``masked`` (BERT corruption of the inputs, loss on the chosen positions).
    :param mask_rate: the masked objective's share of corrupted tokens (BERT: 0.15).
    :param reset_optimizer: clear the optimizer's state (moments) when fine-tuning starts, as a separate
        fine-tuning run would; the learning-rate schedule still spans the whole run.
    Other params: those of the supervised loop. Masks come from a generator seeded with the run's seed
    (saved with checkpoints).
    """

    def __init__(
        self,
        pretrain_fraction: float = 0.5,
        objective: Literal["causal", "masked"] = "causal",
        mask_rate: float = 0.15,
        reset_optimizer: bool = True,
        **loop: Any,
    ) -> None:
        number = (int, float)
        if isinstance(pretrain_fraction, bool) or not isinstance(pretrain_fraction, number):
            raise ParamError("pretrain_fraction", f"{pretrain_fraction!r}; accepted: a number in [0, 1]")
        if not 0 <= pretrain_fraction <= 1:
            raise ParamError("pretrain_fraction", f"{pretrain_fraction!r}; accepted: a number in [0, 1]")
        if objective not in ("causal", "masked"):
            raise ParamError("objective", f"{objective!r}; accepted: 'causal' or 'masked'")
        if isinstance(mask_rate, bool) or not isinstance(mask_rate, number) or not 0 < mask_rate <= 1:
            raise ParamError("mask_rate", f"{mask_rate!r}; accepted: a number in (0, 1]")
        if not isinstance(reset_optimizer, bool):
            raise ParamError("reset_optimizer", f"{reset_optimizer!r}; accepted: true or false")
        super().__init__(**loop)
        self.pretrain_fraction, self.objective = float(pretrain_fraction), objective
        self.mask_rate, self.reset_optimizer = float(mask_rate), reset_optimizer
        self.generator: torch.Generator | None = None
        self.pretrain_steps = 0

    def setup(self, run: Run) -> None:
        if self.pretrain_fraction > 0 and not callable(getattr(run.model, "lm_logits", None)):
            raise ValueError(
                "the self_pretraining trainer needs a model with lm_logits(ids) (e.g. "
                f"self_pretraining_classifier); got {type(run.model).__name__}"
            )
        self.pretrain_steps = math.floor(self.pretrain_fraction * self.total_steps(run))
        self.generator = None
        super().setup(run)  # restores the generator when resuming
        if self.generator is None:
            self.generator = torch.Generator(device=self.device).manual_seed(run.seed)

    def stage(self, step: int) -> str:
        """``pretrain`` or ``finetune``: the stage of optimizer step ``step`` (0-based)."""
        return "pretrain" if step < self.pretrain_steps else "finetune"

    def pretrain_loss(self, model: torch.nn.Module, ids: torch.Tensor) -> torch.Tensor:
        """The LM loss of one micro-batch of inputs."""
        lm = model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model
        if self.objective == "causal":
            return causal_lm_loss(lm.lm_logits(ids), ids)
        out = MLMTransform(rate=self.mask_rate)(ids, self.generator)
        return masked_lm_loss(lm.lm_logits(out.inputs), out.targets)

    def compute_loss(self, model: torch.nn.Module, batch: tuple, task: str) -> torch.Tensor:
        step = self.state.step
        if self.stage(step) == "pretrain":
            return self.pretrain_loss(model, batch[0])  # the labels (batch[1]) are never read
        if step == self.pretrain_steps > 0 and self.reset_optimizer:
            self.run.optimizer.state.clear()  # before this step's update: fine-tuning starts afresh
        return super().compute_loss(model, batch, task)

    def extra_state(self) -> dict[str, Any]:
        return {"mask_generator": self.generator.get_state()} if self.generator is not None else {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if "mask_generator" in state:
            self.generator = torch.Generator(device=self.device)
            self.generator.set_state(state["mask_generator"])

    def summarize(self, run: Run, metrics: dict[str, float]) -> dict[str, Any]:
        return {
            **super().summarize(run, metrics),
            "pretrain_steps": self.pretrain_steps,
            "finetune_steps": self.state.step - min(self.state.step, self.pretrain_steps),
        }
