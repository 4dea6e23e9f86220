"""``self_pretraining_classifier``: a tinylm backbone with its LM head and a classification head."""

from __future__ import annotations

from typing import Any, Literal

import torch
from paperzoo.errors import ParamError
from paperzoo_tinylm.model import TinyLMDecoder, TinyLMEncoder


class SequenceClassifier(torch.nn.Module):
    """Sequence classifier on a tinylm backbone.

    ``forward(ids [B, T]) -> [B, num_classes]`` reads the backbone's final hidden state (after its final
    norm) at the last position (``pool="last"``) or averaged over positions (``pool="mean"``) through a
    linear head. ``lm_logits(ids) -> [B, T, V]`` is the backbone's own LM head, which self-pretraining
    trains; the classification head is not used there.

    :param num_classes: classes of the downstream task.
    :param backbone: ``decoder`` (causal attention, the paper's causal objective) or ``encoder``
        (bidirectional, for the masked objective).
    :param pool: ``last`` or ``mean``.
    Other keywords: the tinylm model's fields (``d_model``, ``n_layers``, ``n_heads``, ...);
    ``tie_embeddings`` defaults to true here, so that the LM head is the token embedding and every
    parameter is used by ``forward`` too.
    """

    def __init__(
        self,
        num_classes: int = 2,
        backbone: Literal["decoder", "encoder"] = "decoder",
        pool: Literal["last", "mean"] = "last",
        **tinylm: Any,
    ) -> None:
        super().__init__()
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ParamError("num_classes", f"{num_classes!r}; accepted: an integer >= 2")
        if backbone not in ("decoder", "encoder"):
            raise ParamError("backbone", f"{backbone!r}; accepted: 'decoder' or 'encoder'")
        if pool not in ("last", "mean"):
            raise ParamError("pool", f"{pool!r}; accepted: 'last' or 'mean'")
        tinylm.setdefault("tie_embeddings", True)
        self.backbone = (TinyLMDecoder if backbone == "decoder" else TinyLMEncoder)(**tinylm)
        self.pool = pool
        self.head = torch.nn.Linear(self.backbone.config.d_model, num_classes)

    def lm_logits(self, ids: torch.Tensor) -> torch.Tensor:
        """The backbone's token logits ``[B, T, V]``."""
        return self.backbone(ids).logits

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        hidden = self.backbone(ids, output_hidden_states=True).hidden_states[-1]
        pooled = hidden[:, -1] if self.pool == "last" else hidden.mean(dim=1)
        return self.head(pooled)
