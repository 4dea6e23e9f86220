"""The claim's experiment: tiny decoders trained on ``tinylm_kv_retrieval`` (the queried pair lies far
before the query) with full softmax attention, Combiner-Fixed (regions of ``REGION``
tokens plus summaries of the other regions) and a local-only model (the same regions, no summaries).
Same sizes, steps, batches and data for all (compute-matched by steps and tokens; the kernels' attention
multiply-adds per head are given by :func:`paperzoo_combiner.attention.attention_flops`)."""

from __future__ import annotations

import torch
from paperzoo_tinylm.long_context import kv_retrieval
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.tasks import answer_accuracy
from paperzoo_tinylm.training import fit_targets

TASK = dict(seq_len=32, key_len=1, value_len=1)  # about 7 pairs "k:v," before the query
MODEL = dict(d_model=48, n_layers=2, n_heads=4, max_seq_len=64)
REGION = 6  # ceil(sqrt(32)): the O(L sqrt L) region size
KERNELS = {
    "softmax": ("softmax", {}),
    "combiner_fixed": ("combiner_attention", {"partition": "fixed", "region_size": REGION}),
    "local_only": ("combiner_attention", {"partition": "fixed", "region_size": REGION, "local_only": True}),
}


def train_eval(seed: int, kernel: str, steps: int = 200, batch: int = 32, n_samples: int = 1024) -> float:
    """Validation exact-match accuracy on the answers after ``steps`` AdamW steps."""
    data = kv_retrieval(n_samples=n_samples, seed=seed, **TASK)
    xt, yt = data.train.tensors
    xv, yv = data.val.tensors
    torch.manual_seed(seed)
    attention, params = KERNELS[kernel]
    model = TinyLMDecoder(attention=attention, attention_params=params, **MODEL)
    fit_targets(model, xt, yt, steps, batch, lr=3e-3, seed=seed)
    with torch.no_grad():
        return answer_accuracy(model(xv).logits, yv)[1]
