"""``masked_thought_sft``: the supervised loop with Masked Thought's input masking on the response."""

from __future__ import annotations

from typing import Any

import torch
from paperzoo.errors import ParamError
from paperzoo.losses import logits_of
from paperzoo.trainer import Run, Supervised
from paperzoo_tinylm.tokenizer import MASK

from paperzoo_masked_thought.masking import mask_reasoning, response_mask_of_targets, scheduled_rate


def sft_loss(logits: torch.Tensor, targets: torch.Tensor, ignore_index: int = -100) -> torch.Tensor:
    """Mean cross-entropy (float32) over the kept targets: the plain SFT loss on the response."""
    return torch.nn.functional.cross_entropy(
        logits.flatten(0, 1).float(), targets.flatten(), ignore_index=ignore_index
    )


class MaskedThoughtSFT(Supervised):
    """Supervised fine-tuning on ``(inputs, targets)`` bundles whose targets keep only the response
    (the tinylm tasks' layout: inputs ``seq[:-1]``, targets ``seq[1:]``, ``-100`` elsewhere). Each
    micro-batch's response input tokens are replaced by ``mask_id`` with probability ``mask_rate``; the
    targets are untouched. ``mask_rate = 0`` is the plain loop bit for bit.

    :param mask_rate: the masking probability ``p`` (paper: 0.2; 0.1-0.4 studied).
    :param mask_id: the replacing token id (the kit's ``MASK`` = 259).
    :param warmup_steps: linear warm-up of the rate from 0 over this many optimizer steps (0: none).
    :param ignore_index: the target value that marks non-response positions.
    Other params: those of the supervised loop. Masks come from a generator seeded with the run's seed
    (saved with checkpoints).
    """

    def __init__(
        self,
        mask_rate: float = 0.2,
        mask_id: int = MASK,
        warmup_steps: int = 0,
        ignore_index: int = -100,
        **loop: Any,
    ) -> None:
        if isinstance(mask_rate, bool) or not isinstance(mask_rate, (int, float)) or not 0 <= mask_rate <= 1:
            raise ParamError("mask_rate", f"{mask_rate!r}; accepted: a number in [0, 1]")
        if isinstance(mask_id, bool) or not isinstance(mask_id, int) or mask_id < 0:
            raise ParamError("mask_id", f"{mask_id!r}; accepted: a token id >= 0")
        if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, int) or warmup_steps < 0:
            raise ParamError("warmup_steps", f"{warmup_steps!r}; accepted: an integer >= 0")
        if isinstance(ignore_index, bool) or not isinstance(ignore_index, int):
            raise ParamError("ignore_index", f"{ignore_index!r}; accepted: an integer")
        super().__init__(**loop)
        self.mask_rate, self.mask_id = float(mask_rate), mask_id
        self.warmup_steps, self.ignore_index = warmup_steps, ignore_index
        self.generator: torch.Generator | None = None

    def setup(self, run: Run) -> None:
        if run.data.task != "language_modeling":
            raise ValueError(
                f"the masked_thought_sft trainer trains language models; the data's task is {run.data.task!r}"
            )
        self.generator = None
        super().setup(run)  # restores the generator when resuming
        if self.generator is None:
            self.generator = torch.Generator(device=self.device).manual_seed(run.seed)

    def masked_inputs(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The inputs of one micro-batch after masking at this step's rate."""
        rate = scheduled_rate(self.mask_rate, self.state.step, self.warmup_steps)
        if rate == 0.0:
            return x
        response = response_mask_of_targets(y, self.ignore_index)
        return mask_reasoning(x, response, rate, self.mask_id, self.generator)

    def compute_loss(self, model: torch.nn.Module, batch: tuple, task: str) -> torch.Tensor:
        x, y = batch
        return sft_loss(logits_of(model(self.masked_inputs(x, y))), y, self.ignore_index)

    def extra_state(self) -> dict[str, Any]:
        return {"mask_generator": self.generator.get_state()} if self.generator is not None else {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if "mask_generator" in state:
            self.generator = torch.Generator(device=self.device)
            self.generator.set_state(state["mask_generator"])

    def summarize(self, run: Run, metrics: dict[str, float]) -> dict[str, Any]:
        return {**super().summarize(run, metrics), "mask_rate": self.mask_rate}
