"""The claim's experiment: a tiny linear-attention tinylm decoder trained on ``tinylm_mqar`` with the
context read once or read twice (JRT-Prompt), compute-matched by training tokens, and the same decoder
with prefix linear attention (JRT-RNN) against causal linear attention."""

from __future__ import annotations

import torch
from paperzoo_tinylm.long_context import mqar
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.tasks import answer_accuracy
from paperzoo_tinylm.training import fit_targets

from paperzoo_jrt.jrt_prompt import jrt_batch

TASK = dict(seq_len=48, n_pairs=8, n_queries=8, n_keys=16, n_values=10)
MODEL = dict(d_model=32, n_layers=2, n_heads=2, max_seq_len=128, position="none", ffn="gated")
DECAYS = [0.3, 1.0]  # a short-memory head (token shift) and a long-memory head


LINEAR = {
    "attention": "tinylm_linear_attention",
    "attention_params": {"feature_map": "elu1", "decay": DECAYS},
}


def compute_matched_steps(steps_twice: int) -> int:
    """Steps of the read-once run that process as many training tokens as ``steps_twice`` read-twice
    steps (sequences of 48 + 17 = 65 tokens against 48)."""
    once, twice = TASK["seq_len"], TASK["seq_len"] + 2 * TASK["n_pairs"] + 1
    return round(steps_twice * twice / once)


def claim_runs(seed: int, steps_twice: int = 100) -> tuple[float, float]:
    """Validation answer accuracy read once and read twice (compute-matched)."""
    once = train_eval(seed, 1, compute_matched_steps(steps_twice), LINEAR)[0]
    twice = train_eval(seed, 2, steps_twice, LINEAR)[0]
    return once, twice


def train_eval(
    seed: int, repeats: int, steps: int, attention: dict, batch: int = 32, n_samples: int = 1024
) -> tuple[float, int]:
    """Train on ``mqar`` with the context read ``repeats`` times for ``steps`` steps; validation token
    accuracy on the answers (same format)."""
    data = mqar(n_samples=n_samples, seed=seed, **TASK)
    xt, yt = data.train.tensors
    xv, yv = data.val.tensors
    if repeats > 1:
        xt, yt = jrt_batch(xt, yt, "tinylm_mqar", repeats)
        xv, yv = jrt_batch(xv, yv, "tinylm_mqar", repeats)
    torch.manual_seed(seed)
    model = TinyLMDecoder(**MODEL, **attention)
    fit_targets(model, xt, yt, steps, batch, lr=3e-3, seed=seed)
    with torch.no_grad():
        return answer_accuracy(model(xv).logits, yv)[0], xt.shape[1]
