"""The claim's experiment: tiny decoders trained on ``tinylm_kv_retrieval`` (the queried pair lies far
before the query) with full attention in every block, MASFormer (full attention in the bottom ``l``
blocks, span ``w`` in the rest) and an all-local model (``l = 0``, the same ``w``). Same sizes, steps,
batches and data for all (compute-matched by tokens; the local blocks only do less attention work)."""

from __future__ import annotations

import torch
from paperzoo_tinylm.long_context import kv_retrieval
from paperzoo_tinylm.tasks import answer_accuracy
from paperzoo_tinylm.training import fit_targets

from paperzoo_masformer.model import MASFormer

# 4 pairs ``k:v,`` (16 tokens), filler, then 4 queries ``?k=v``: the nearest pair is 11 tokens before the
# first answer, beyond the 3 local layers' receptive field of 3 * (WINDOW - 1) = 9 tokens.
TASK = dict(seq_len=40, key_len=1, value_len=1, n_pairs=4, n_queries=4)
MODEL = dict(d_model=32, n_layers=3, n_heads=2, max_seq_len=64)
WINDOW = 4
STEPS, BATCH, LR = 300, 16, 1e-2


def train_eval(
    seed: int,
    n_full: int,
    steps: int = STEPS,
    batch: int = BATCH,
    n_samples: int = 2048,
    lr: float = LR,
    full_layers: list[int] | None = None,
) -> tuple[float, float]:
    """Validation (token, exact-match) accuracy on the answers after ``steps`` AdamW steps."""
    data = kv_retrieval(n_samples=n_samples, seed=seed, **TASK)
    xt, yt = data.train.tensors
    xv, yv = data.val.tensors
    torch.manual_seed(seed)
    model = MASFormer(window=WINDOW, n_full=n_full, full_layers=full_layers, **MODEL)
    fit_targets(model, xt, yt, steps, batch, lr=lr, seed=seed)
    with torch.no_grad():
        return answer_accuracy(model(xv).logits, yv)
