"""The claim tests' small experiment: a tiny ReLU tinylm decoder trained on the kit's sorting task, with
true, random or partly random answer labels, as a dense ReLU model or a Top-k model.

The Top-k model is built with the same config and a ``patches``-style replacement of every ``nn.ReLU``
by ``lazy_neuron_topk`` (what a config ``patches: [{type: ReLU, with: {name: lazy_neuron_topk}}]``
does); the activation map is read at the kit's ``blocks.*.mlp.post`` hooks.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.tasks import IGNORE, sorting
from torch import nn

from paperzoo_lazy_neuron.sparsity import nonzero_fractions
from paperzoo_lazy_neuron.topk import LazyNeuronTopK

D_MODEL, N_LAYERS, N_HEADS, D_FF = 32, 2, 4, 128
STEPS, BATCH, LR = 200, 32, 3e-3
N_SAMPLES, LENGTH, N_SYMBOLS = 400, 6, 10  # 320 training sequences: small enough to memorise noise


def task() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Training inputs and targets, validation inputs and (clean) targets of the sorting task."""
    data = sorting(n_samples=N_SAMPLES, length=LENGTH, n_symbols=N_SYMBOLS, seed=0)
    return (*data.train.tensors, *data.val.tensors)


def corrupt(targets: torch.Tensor, fraction: float, seed: int) -> torch.Tensor:
    """Each answer token replaced, with probability ``fraction``, by a uniformly drawn answer symbol."""
    alphabet = torch.unique(targets[targets != IGNORE])
    g = torch.Generator().manual_seed(seed)
    flip = (targets != IGNORE) & (torch.rand(targets.shape, generator=g) < fraction)
    drawn = alphabet[torch.randint(len(alphabet), targets.shape, generator=g)]
    return torch.where(flip, drawn, targets)


def expected_calibration_error(logits: torch.Tensor, targets: torch.Tensor, bins: int = 15) -> float:
    """ECE over the answer tokens: equal-width confidence bins, ``sum_b |B_b|/n |conf_b - acc_b|``."""
    keep = targets != IGNORE
    conf, pred = logits[keep].softmax(-1).max(-1)
    correct = (pred == targets[keep]).double()
    conf = conf.double()
    which = torch.clamp((conf * bins).ceil().long() - 1, 0, bins - 1)
    total = 0.0
    for b in range(bins):
        m = which == b
        if m.any():
            total += float(m.double().mean() * (conf[m].mean() - correct[m].mean()).abs())
    return total


def build(seed: int, k: int | None) -> nn.Module:
    """The tiny ReLU decoder; with ``k``, every ReLU replaced by the Top-k activation."""
    torch.manual_seed(seed)
    model = TinyLMDecoder(
        d_model=D_MODEL,
        n_layers=N_LAYERS,
        n_heads=N_HEADS,
        d_ff=D_FF,
        max_seq_len=32,
        ffn="mlp",
        activation="relu",
    )
    if k is not None:
        for name, module in list(model.named_modules()):
            if isinstance(module, nn.ReLU):
                parent, _, attr = name.rpartition(".")
                setattr(model.get_submodule(parent), attr, LazyNeuronTopK(module, k=k))
    return model


def train(seed: int, k: int | None, noise: float) -> dict[str, float]:
    """Train one model; the nonzero fraction (mean over layers, on the validation inputs) before and
    after, and the ECE, accuracy and mean confidence on the clean validation answers."""
    x, y, x_val, y_val = task()
    if noise:
        y = corrupt(y, noise, 1000 + seed)
    model = build(seed, k)

    def sparsity() -> float:
        per_layer = nonzero_fractions(model, [x_val])
        return sum(per_layer.values()) / len(per_layer)

    before = sparsity()
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.0)
    order = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(STEPS):
        idx = torch.randint(len(x), (BATCH,), generator=order)
        loss = F.cross_entropy(model(x[idx]).logits.flatten(0, 1), y[idx].flatten(), ignore_index=IGNORE)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    after = sparsity()
    model.eval()
    with torch.no_grad():
        logits = model(x_val).logits
    keep = y_val != IGNORE
    accuracy = float((logits[keep].argmax(-1) == y_val[keep]).double().mean())
    return {
        "nonzero_before": before,
        "nonzero_after": after,
        "ece": expected_calibration_error(logits, y_val),
        "accuracy": accuracy,
        "confidence": float(logits[keep].softmax(-1).amax(-1).double().mean()),
        "train_loss": float(loss.detach()),
    }
