"""``prior_weighted_ntp``: next-token prediction with each target token's loss weighted by PRIOR."""

from __future__ import annotations

from typing import Any

import torch
from paperzoo.data import fetch
from paperzoo.errors import ParamError
from paperzoo.losses import logits_of
from paperzoo.trainer import Run, Supervised
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.training import fit_targets

from paperzoo_prior_token_weighting.weighting import prior_weights, target_probs, weighted_ntp_loss

DEFAULT_REFERENCE = {"d_model": 32, "n_layers": 1, "n_heads": 2}


def _number(name: str, value: Any, low: float, strict: bool = False) -> float:
    ok = not isinstance(value, bool) and isinstance(value, (int, float))
    if not ok or value < low or (strict and value == low):
        raise ParamError(name, f"{value!r}; accepted: a number {'>' if strict else '>='} {low}")
    return float(value)


def _integer(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ParamError(name, f"{value!r}; accepted: an integer >= {low}")
    return value


class PriorWeightedNTP(Supervised):
    """Next-token prediction on ``language_modeling`` bundles ``(inputs, targets)`` (targets ``-100``
    off the caption), or ``(images, inputs, targets)`` batches for a model called ``model(inputs,
    images=images)``, where each target's cross-entropy is weighted by
    :func:`~paperzoo_prior_token_weighting.weighting.prior_weights` of the probability a frozen text-only
    reference LM gives it. The reference (a tinylm decoder) is trained first on the training split's
    text alone (``reference_steps`` AdamW steps, seeded by the run's seed) and saved with checkpoints.

    :param alpha: sharpness of the score ``(1 - p_ref) ** alpha`` (0: plain NTP bit for bit in value).
    :param clip_min: floor of the score (a guard against ``0 / 0`` on a caption the reference predicts
        with certainty; the paper has none).
    :param reference_model: sizes of the reference decoder (``TinyLMDecoder`` fields; ``vocab_size`` and
        ``max_seq_len`` come from the data).
    :param reference_steps, reference_batch, reference_lr: its training.
    :param ignore_index: the target value of positions that are not trained on.
    Other params: those of the supervised loop.
    """

    def __init__(
        self,
        alpha: float = 1.0,
        clip_min: float = 1e-6,
        reference_model: dict[str, Any] | None = None,
        reference_steps: int = 200,
        reference_batch: int = 32,
        reference_lr: float = 3e-3,
        ignore_index: int = -100,
        **loop: Any,
    ) -> None:
        self.alpha = _number("alpha", alpha, 0.0)
        self.clip_min = _number("clip_min", clip_min, 0.0, strict=True)
        if self.clip_min > 1:
            raise ParamError("clip_min", f"{clip_min!r}; accepted: a number in (0, 1]")
        if reference_model is not None and not isinstance(reference_model, dict):
            raise ParamError(
                "reference_model", f"{reference_model!r}; accepted: a mapping of TinyLMDecoder fields"
            )
        self.reference_steps = _integer("reference_steps", reference_steps, 0)
        self.reference_batch = _integer("reference_batch", reference_batch, 1)
        self.reference_lr = _number("reference_lr", reference_lr, 0.0, strict=True)
        if isinstance(ignore_index, bool) or not isinstance(ignore_index, int):
            raise ParamError("ignore_index", f"{ignore_index!r}; accepted: an integer")
        super().__init__(**loop)
        self.reference_spec = {**DEFAULT_REFERENCE, **(reference_model or {})}
        self.ignore_index = ignore_index
        self.reference: TinyLMDecoder | None = None

    def setup(self, run: Run) -> None:
        if run.data.task != "language_modeling":
            raise ValueError(
                f"the prior_weighted_ntp trainer trains language models; the data's task is {run.data.task!r}"
            )
        resuming = run.resume and run.run_dir is not None  # the checkpoint then holds the reference
        train = fetch(run.data.train, torch.arange(1 if resuming else len(run.data.train)))
        inputs, targets = train[-2], train[-1]
        spec = {"vocab_size": run.data.vocab_size, "max_seq_len": inputs.shape[1], **self.reference_spec}
        torch.manual_seed(run.seed)
        self.reference = TinyLMDecoder(**spec)
        super().setup(run)  # restores the reference's weights when resuming
        if not resuming and self.reference_steps:  # 0 steps: the seeded initialisation
            fit_targets(
                self.reference, inputs, targets, self.reference_steps, self.reference_batch,
                self.reference_lr, seed=run.seed,
            )  # fmt: skip
        self.reference.to(self.device).eval().requires_grad_(False)

    def batch_weights(self, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """PRIOR's weights of one micro-batch's targets (0 off the targets)."""
        with torch.no_grad():
            p_ref = target_probs(self.reference(inputs).logits, targets, self.ignore_index)
        return prior_weights(p_ref, targets != self.ignore_index, self.alpha, self.clip_min)

    def compute_loss(self, model: torch.nn.Module, batch: tuple, task: str) -> torch.Tensor:
        if len(batch) == 3:
            images, x, y = batch
            logits = logits_of(model(x, images=images))
        else:
            x, y = batch
            logits = logits_of(model(x))
        return weighted_ntp_loss(logits, y, self.batch_weights(x, y), self.ignore_index)

    def extra_state(self) -> dict[str, Any]:
        return {"reference": {k: v.detach().cpu() for k, v in self.reference.state_dict().items()}}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.reference.load_state_dict(state["reference"])

    def summarize(self, run: Run, metrics: dict[str, float]) -> dict[str, Any]:
        return {**super().summarize(run, metrics), "alpha": self.alpha, "clip_min": self.clip_min}
