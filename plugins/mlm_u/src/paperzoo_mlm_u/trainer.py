"""``mlm_u``: the supervised loop whose loss is MLM-U (:func:`paperzoo_mlm_u.mlmu.mlm_u_loss`).

The model is a bidirectional encoder (``tinylm_encoder``) that takes ``attention_mask``. Batches are the
next-token pairs of :func:`paperzoo_mlm_u.data.mlm_u_mazes` (or any language-modelling bundle whose
targets mark the tokens to learn), turned back into whole sequences. Draws come from the trainer's own
generator, seeded by the run's seed and saved with checkpoints.
"""

from __future__ import annotations

from typing import Any

import torch
from paperzoo.errors import ParamError
from paperzoo.trainer import Run, Supervised, pick_device

from paperzoo_mlm_u.mlmu import full_sequences, mlm_u_loss


class MLMU(Supervised):
    """MLM-U training (Nolte et al., 2024).

    :param rate: ``null`` (the method: a masking rate drawn uniformly per sequence) or a fixed masking
        probability in ``(0, 1]`` (an ablation: ordinary MLM on the path).
    Other params: those of the supervised loop.
    """

    def __init__(self, rate: float | None = None, **loop: Any) -> None:
        if rate is not None and (
            isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate <= 1
        ):
            raise ParamError("rate", f"{rate!r}; accepted: null (uniform per sequence) or a number in (0, 1]")
        super().__init__(**loop)
        self.rate = None if rate is None else float(rate)
        self.rng: torch.Generator | None = None

    def setup(self, run: Run) -> None:
        self.rng = torch.Generator(device=pick_device(self.device_name)).manual_seed(run.seed)
        super().setup(run)

    def compute_loss(self, model: torch.nn.Module, batch: tuple, task: str) -> torch.Tensor:
        seq, answer = full_sequences(batch[0], batch[1])
        return mlm_u_loss(model, seq, answer, self.rng, self.rate)

    def extra_state(self) -> dict[str, Any]:
        return {"rng": self.rng.get_state()} if self.rng is not None else {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if "rng" in state and self.rng is not None:
            self.rng.set_state(state["rng"])
