"""The masked-LM loss of a tinylm encoder on a transform's output, and a fixed-seed validation loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from paperzoo_tinylm.tokenizer import PAD
from paperzoo_tinylm.transforms import IGNORE, Transformed

from paperzoo_contextual_weight_distill.masking import MaskingStage


def mlm_loss(model: torch.nn.Module, t: Transformed, vocab_limit: int | None = None) -> torch.Tensor:
    """Cross-entropy at the chosen positions (padding masked as keys); ``vocab_limit`` keeps only the
    first logits (a base model trained before its new rows exist). Zero (with a graph) when nothing was
    chosen."""
    logits = model(t.inputs, attention_mask=(t.inputs != PAD).long()).logits
    if vocab_limit is not None:
        logits = logits[..., :vocab_limit]
    if not bool(t.loss_mask.any()):
        return logits.sum() * 0.0
    return F.cross_entropy(logits.flatten(0, 1).float(), t.targets.flatten(), ignore_index=IGNORE)


@torch.no_grad()
def validation_mlm_loss(
    model: torch.nn.Module, ids: torch.Tensor, seed: int = 0, rate: float = 0.15, batch_size: int = 32
) -> float:
    """Mean token-masking (BERT 80/10/10 at ``rate``) loss over ``ids`` ``[N, T]``, masks drawn from
    ``seed``, dropout off; the training mode is restored."""
    was = model.training
    model.eval()
    g = torch.Generator(device=ids.device).manual_seed(seed)
    stage = MaskingStage(strategy="token", rate=rate)
    total, n = 0.0, 0
    for start in range(0, ids.shape[0], batch_size):
        total += float(mlm_loss(model, stage(ids[start : start + batch_size], g)))
        n += 1
    model.train(was)
    return total / max(n, 1)
