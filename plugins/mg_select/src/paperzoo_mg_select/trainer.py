"""``condition_dropout``: the supervised loop on rows whose state and instruction tokens are masked at
random, so that one policy learns its conditional and condition-masked distributions jointly (the
paper's joint training, MG-Select*)."""

from __future__ import annotations

from typing import Any

import torch
from paperzoo.checks import check_float, check_int
from paperzoo.trainer import Run, Supervised, pick_device
from paperzoo_tinylm.tokenizer import MASK

from paperzoo_mg_select.checks import check_positions
from paperzoo_mg_select.dropout import drop_conditions
from paperzoo_mg_select.goal_reaching import STATE_POSITIONS, TEXT_POSITIONS


class ConditionDropout(Supervised):
    """Supervised training with condition dropout.

    :param p_state: probability of masking a row's state tokens.
    :param p_text: probability of masking a row's instruction tokens (drawn independently of the state).
    :param state_positions: input positions of the state tokens (default: the goal-reaching task's).
    :param text_positions: input positions of the instruction tokens.
    :param mask_id: the id written over a dropped condition (the kit tokenizer's ``<mask>``).
    Other params: the supervised loop's. With ``p_state = p_text = 0`` it is that loop, bit for bit.
    """

    def __init__(
        self,
        p_state: float = 0.25,
        p_text: float = 0.25,
        state_positions: list[int] | tuple[int, ...] = STATE_POSITIONS,
        text_positions: list[int] | tuple[int, ...] = TEXT_POSITIONS,
        mask_id: int = MASK,
        **loop: Any,
    ) -> None:
        check_float("p_state", p_state, 0.0, 1.0)
        check_float("p_text", p_text, 0.0, 1.0)
        self.state_positions = check_positions("state_positions", state_positions)
        self.text_positions = check_positions("text_positions", text_positions)
        check_int("mask_id", mask_id, 0)
        super().__init__(**loop)
        self.p_state, self.p_text, self.mask_id = float(p_state), float(p_text), mask_id
        self.generator: torch.Generator | None = None

    def setup(self, run: Run) -> None:
        # the dropout draws have their own generator, seeded by the run (restored on resume)
        self.generator = torch.Generator(pick_device(self.device_name)).manual_seed(run.seed)
        super().setup(run)

    def extra_state(self) -> dict[str, Any]:
        return {**super().extra_state(), "dropout_generator": self.generator.get_state()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        super().load_extra_state(state)
        if "dropout_generator" in state:
            self.generator.set_state(state["dropout_generator"])

    def compute_loss(self, model: torch.nn.Module, batch: tuple, task: str) -> torch.Tensor:
        """The task's default loss on the batch with its conditions dropped."""
        x, y = batch
        width = max(self.state_positions + self.text_positions, default=-1)
        if width >= x.shape[1]:
            raise ValueError(f"condition position {width} is past the rows' length {x.shape[1]}")
        x = drop_conditions(
            x,
            self.state_positions,
            self.text_positions,
            self.p_state,
            self.p_text,
            self.generator,
            self.mask_id,
        )
        return super().compute_loss(model, (x, y), task)

    def summarize(self, run: Run, metrics: dict[str, float]) -> dict[str, Any]:
        return {**super().summarize(run, metrics), "p_state": self.p_state, "p_text": self.p_text}
