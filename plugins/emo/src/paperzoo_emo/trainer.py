"""``emo_loss``: the supervised loop trained with EMO's loss (CE + DEMD, dynamically weighted)."""

from __future__ import annotations

from typing import Any

import torch
from paperzoo.errors import ParamError
from paperzoo.losses import logits_of
from paperzoo.trainer import Run, Supervised

from paperzoo_emo.loss import emo_loss

COSTS = ("fixed", "current")


def output_embedding(model: torch.nn.Module) -> torch.Tensor:
    """The LM head's weight ``[V, d]``: ``get_output_embeddings()`` (transformers) or ``lm_head``."""
    model = getattr(model, "module", model)  # DistributedDataParallel
    get = getattr(model, "get_output_embeddings", None)
    head = get() if callable(get) else getattr(model, "lm_head", None)
    if head is None or not isinstance(getattr(head, "weight", None), torch.Tensor):
        raise ValueError(
            "the emo_loss trainer needs a language model with an LM head (lm_head.weight [V, d])"
        )
    return head.weight


class EMOTrainer(Supervised):
    """The supervised loop with :func:`~paperzoo_emo.loss.emo_loss` as the loss of a language model.

    :param mode: 1 (MLE emphasised, the official default for fine-tuning) or 2 (EMO emphasised).
    :param cost_embedding: ``fixed``: the LM head's weight when training starts, copied and frozen (the
        paper's fixed cost, ``emo2_fixed`` / the GPT-2 experiments); ``current``: the head's weight at each
        step, detached (``emo1_adaptive``).
    :param max_ratio: optional cap of the detached weight in mode 1 (``emo_llama.py`` uses 3).
    :param ignore_index: labels that do not count (padding, prompt tokens).
    Other params: those of the supervised loop.
    """

    def __init__(
        self,
        mode: int = 1,
        cost_embedding: str = "fixed",
        max_ratio: float | None = None,
        ignore_index: int = -100,
        **loop: Any,
    ) -> None:
        if mode not in (1, 2) or isinstance(mode, bool):
            raise ParamError("mode", f"{mode!r}; accepted: 1 (MLE emphasised) or 2 (EMO emphasised)")
        if cost_embedding not in COSTS:
            raise ParamError("cost_embedding", f"{cost_embedding!r}; accepted: {', '.join(COSTS)}")
        if max_ratio is not None and (not isinstance(max_ratio, (int, float)) or max_ratio <= 0):
            raise ParamError("max_ratio", f"{max_ratio!r}; accepted: a number > 0 or null")
        if not isinstance(ignore_index, int) or isinstance(ignore_index, bool):
            raise ParamError("ignore_index", f"{ignore_index!r}; accepted: an integer")
        super().__init__(**loop)
        self.mode, self.cost, self.max_ratio, self.ignore_index = (
            mode,
            cost_embedding,
            max_ratio,
            ignore_index,
        )
        self.fixed_cost: torch.Tensor | None = None

    def setup(self, run: Run) -> None:
        if run.data.task != "language_modeling":
            raise ValueError(
                f"the emo_loss trainer trains language models; the data's task is {run.data.task!r}"
            )
        self.fixed_cost = None
        super().setup(run)  # restores fixed_cost when resuming
        if self.fixed_cost is None:
            self.fixed_cost = output_embedding(run.model).detach().clone()

    def cost_matrix_source(self, model: torch.nn.Module) -> torch.Tensor:
        """The embeddings whose cosine distances are the transport cost of this step (detached)."""
        if self.cost == "current" or self.fixed_cost is None:
            return output_embedding(model).detach()
        return self.fixed_cost.to(output_embedding(model).device)

    def compute_loss(self, model: torch.nn.Module, batch: tuple, task: str) -> torch.Tensor:
        x, y = batch
        logits = logits_of(model(x)).float()
        return emo_loss(
            logits, y, self.cost_matrix_source(model), self.mode, self.ignore_index, self.max_ratio
        )

    def extra_state(self) -> dict[str, Any]:
        return {"fixed_cost": self.fixed_cost.cpu()} if self.fixed_cost is not None else {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if "fixed_cost" in state:
            self.fixed_cost = state["fixed_cost"].to(self.device)

    def summarize(self, run: Run, metrics: dict[str, float]) -> dict[str, Any]:
        return {**super().summarize(run, metrics), "emo_mode": self.mode, "cost_embedding": self.cost}
