"""The claim's experiment: train one extractor with a label-drop probability and score relation F1."""

from __future__ import annotations

import torch
from paperzoo_tinylm.training import fit_targets

from paperzoo_ldnet.drop import LabelDrop
from paperzoo_ldnet.model import LDNetExtractor
from paperzoo_ldnet.relations import f1_of, relation_counts, relation_loss, relation_task

MODEL = {"d_model": 48, "n_layers": 2, "n_heads": 4, "max_seq_len": 64, "n_levels": 4, "n_relations": 24}
DATA = {"n_train": 2048, "n_val": 512, "n_relations": 24, "n_words": 18, "n_distractors": 23}


def train_and_score(p: float, seed: int, steps: int = 300, batch: int = 32, lr: float = 3e-3) -> float:
    """Relation F1 on the validation split (every label listed) after ``steps`` AdamW steps (one-cycle
    schedule, :func:`~paperzoo_tinylm.training.fit_targets`) with negatives dropped at rate ``p``. Same
    data, initialisation and batch order for every ``p`` of a seed: runs differ only in the drop."""
    data = relation_task(seed=seed, **DATA)
    x, y = data.train.tensors
    torch.manual_seed(seed)
    model = LDNetExtractor(**MODEL)
    drops, drop = torch.Generator().manual_seed(seed + 1), LabelDrop(p)

    def dropped_loss(m: torch.nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        out = drop(xb, yb, drops)
        return relation_loss(m(out.inputs), out.targets)

    fit_targets(model, x, y, steps, batch, lr=lr, seed=seed, loss_fn=dropped_loss)
    xv, yv = data.val.tensors
    with torch.no_grad():
        return f1_of(*relation_counts(model(xv), yv))
