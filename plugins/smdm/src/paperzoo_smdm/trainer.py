"""``masked_diffusion_lm``: the supervised loop whose loss is the masked-diffusion ELBO loss.

The model is a bidirectional ``tinylm_encoder``. Each batch ``(inputs, targets)`` of a language-modelling
bundle is turned back into whole sequences (:func:`full_sequences`), every token is masked with
probability ``(1 - eps) t + eps`` (``t ~ U[0, 1)`` per sequence) and the loss is the cross-entropy on the
masked positions divided by that probability, summed and divided by ``B * L`` (the official code's
normalisation). Random draws come from the trainer's own generator (seeded by the run's seed, saved with
checkpoints).
"""

from __future__ import annotations

from typing import Any

import torch
from paperzoo.errors import ParamError
from paperzoo.trainer import Run, Supervised, pick_device
from paperzoo_tinylm.tokenizer import EOS

from paperzoo_smdm.diffusion import diffusion_loss

IGNORE = -100


def full_sequences(inputs: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Whole sequences ``[B, T + 1]`` from a next-token batch (``inputs`` ``[B, T]``, ``targets`` the
    inputs shifted left with ``-100`` off the answers), and the boolean answer mask of the same shape. The
    last token is the last target, or ``EOS`` where that is ignored (the synthetic tasks end so)."""
    last = torch.where(targets[:, -1:] == IGNORE, EOS, targets[:, -1:])
    seq = torch.cat([inputs, last], 1)
    answer = torch.cat([torch.zeros_like(targets[:, :1], dtype=torch.bool), targets != IGNORE], 1)
    return seq, answer


class MaskedDiffusionLM(Supervised):
    """Masked diffusion language-model training (SMDM) in the supervised loop.

    :param eps: the floor of the masking probability (official: ``1e-3``).
    :param answer_only: mask only the answer tokens (supervised fine-tuning on a prompt); default: every
        token (pre-training, and the official reversal fine-tuning).
    Other params: those of the supervised loop.
    """

    def __init__(self, eps: float = 1e-3, answer_only: bool = False, **loop: Any) -> None:
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 <= eps < 1:
            raise ParamError("eps", f"{eps!r}; accepted: a number in [0, 1)")
        if not isinstance(answer_only, bool):
            raise ParamError("answer_only", f"{answer_only!r}; accepted: true or false")
        super().__init__(**loop)
        self.eps = float(eps)
        self.answer_only = answer_only
        self.rng: torch.Generator | None = None

    def setup(self, run: Run) -> None:
        self.rng = torch.Generator(device=pick_device(self.device_name)).manual_seed(run.seed)
        super().setup(run)

    def compute_loss(self, model: torch.nn.Module, batch: tuple, task: str) -> torch.Tensor:
        seq, answer = full_sequences(batch[0], batch[1])
        return diffusion_loss(model, seq, self.eps, self.rng, answer if self.answer_only else None)

    def extra_state(self) -> dict[str, Any]:
        return {"rng": self.rng.get_state()} if self.rng is not None else {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if "rng" in state and self.rng is not None:
            self.rng.set_state(state["rng"])
