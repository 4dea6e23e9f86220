"""``label_drop``: the supervised loop on multi-target instructions with LDNet's label drop."""

from __future__ import annotations

from typing import Any

import torch
from paperzoo.data import batches
from paperzoo.errors import ParamError
from paperzoo.losses import logits_of
from paperzoo.trainer import Run, Supervised

from paperzoo_ldnet.drop import LabelDrop
from paperzoo_ldnet.relations import LABEL_BASE, f1_of, relation_counts, relation_loss


class LabelDropTrainer(Supervised):
    """Trains a relation extractor (``model(ids) -> [B, T, 2, T]`` pointer logits) on ``(ids, targets)``
    bundles (``ldnet_relations``). Before each micro-batch, every negative label of the instruction is
    dropped with probability ``p`` (gold labels never); ``p = 0`` is the plain loop bit for bit (no draw).
    The summary adds ``val_relation_f1`` (triples exactly right, on the validation split, nothing dropped).

    :param p: the label-drop probability.
    :param label_low, label_high: label tokens are ids in ``[label_low, label_high)``.
    Other params: those of the supervised loop. Drops come from a generator seeded with the run's seed
    (saved with checkpoints).
    """

    def __init__(
        self, p: float = 0.5, label_low: int = LABEL_BASE, label_high: int = 256, **loop: Any
    ) -> None:
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
            raise ParamError("p", f"{p!r}; accepted: a number in [0, 1]")
        for name, value in (("label_low", label_low), ("label_high", label_high)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ParamError(name, f"{value!r}; accepted: a token id >= 0")
        super().__init__(**loop)
        self.drop = LabelDrop(float(p), label_low, label_high)
        self.generator: torch.Generator | None = None

    def setup(self, run: Run) -> None:
        self.generator = None
        super().setup(run)  # restores the generator when resuming
        if self.generator is None:
            self.generator = torch.Generator(device=self.device).manual_seed(run.seed)

    def compute_loss(self, model: torch.nn.Module, batch: tuple, task: str) -> torch.Tensor:
        ids, targets = batch
        out = self.drop(ids, targets, self.generator)
        return relation_loss(logits_of(model(out.inputs)), out.targets)

    def extra_state(self) -> dict[str, Any]:
        return {"drop_generator": self.generator.get_state()} if self.generator is not None else {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if "drop_generator" in state:
            self.generator = torch.Generator(device=self.device)
            self.generator.set_state(state["drop_generator"])

    @torch.no_grad()
    def relation_f1(self, run: Run) -> float:
        """F1 of the decoded triples on the validation split."""
        model, totals = run.model, [0, 0, 0]
        was_training = model.training
        model.eval()
        for ids, targets in batches(run.data.val, 256):
            counts = relation_counts(logits_of(model(ids.to(self.device))), targets.to(self.device))
            totals = [a + b for a, b in zip(totals, counts)]
        model.train(was_training)
        return f1_of(*totals)

    def summarize(self, run: Run, metrics: dict[str, float]) -> dict[str, Any]:
        return {**super().summarize(run, metrics), "p": self.drop.p, "val_relation_f1": self.relation_f1(run)}
