"""The claim's experiment: a tiny causal LM trained on the parent/child facts with and without SPT,
then asked the held-out pairs' reverse and forward questions (answer ranking among all answers)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.training import fit_targets

from paperzoo_semantic_permutation_training.evaluate import ranking_accuracy
from paperzoo_semantic_permutation_training.facts import encode_rows, fact_corpus
from paperzoo_semantic_permutation_training.permute import Lexicon, draw_modes
from paperzoo_semantic_permutation_training.trainer import permute_batch

MODEL = {"d_model": 64, "n_layers": 2, "n_heads": 4, "max_seq_len": 64}


def train_on_facts(
    p_reverse: float,
    p_shuffle: float,
    seed: int,
    units: str = "phrases",
    steps: int = 600,
    batch: int = 32,
    lr: float = 3e-3,
    n_pairs: int = 30,
    n_paired: int = 30,
) -> dict[str, float]:
    """Train a fresh decoder (seeded ``seed``) for ``steps`` AdamW steps (one-cycle schedule,
    :func:`~paperzoo_tinylm.training.fit_targets`: the batch rows are the same with and without SPT) on the
    corpus's sentences, each micro-batch's units permuted as SPT does (``p_reverse = p_shuffle = 0``:
    standard training); return the reverse and forward ranking accuracies and the chance level."""
    corpus = fact_corpus(n_pairs, n_paired, seed=0)
    x, y = encode_rows([("", s) for s in corpus.sentences()])
    lexicon = Lexicon.of(corpus.phrases()) if units == "phrases" else None
    torch.manual_seed(seed)
    model = TinyLMDecoder(**MODEL)
    g_order = torch.Generator().manual_seed(seed + 1000)  # SPT's orders; the batch rows are drawn apart

    def spt_loss(m: torch.nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        modes = draw_modes(len(xb), p_reverse, p_shuffle, g_order)
        xb, yb = permute_batch(xb, yb, modes, units, lexicon, g_order)
        return F.cross_entropy(m(xb).logits.flatten(0, 1), yb.flatten())

    loss_fn = spt_loss if p_reverse or p_shuffle else None  # standard training: fit_targets' own loss
    fit_targets(model, x, y, steps, batch, lr=lr, seed=seed, loss_fn=loss_fn)
    out = {"chance": 1.0 / n_pairs}
    for direction in ("reverse", "forward"):
        out[direction] = ranking_accuracy(model, *encode_rows(corpus.questions(direction)))
    return out
