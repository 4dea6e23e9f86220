"""The claim experiment: ACT on the ``stdlib-small`` checkpoint's next-byte prediction.

Per seed, the held-out validation blocks of the checkpoint's corpus are split at random into a
calibration set (the head search) and an evaluation set; the score is next-byte accuracy. The plain and
calibrated models are compared on the evaluation set, and the sink statistics of every head reported."""

from __future__ import annotations

import torch
from paperzoo_tinylm.hooks import capture

from paperzoo_act_attention_calibration.calibration import BETA, THRESHOLD, sink_statistics
from paperzoo_act_attention_calibration.kernel import calibrated
from paperzoo_act_attention_calibration.search import all_heads, search_heads

SEQ_LEN = 128


def validation_blocks(seq_len: int = SEQ_LEN) -> torch.Tensor:
    """The checkpoint corpus's held-out text as ``[N, seq_len + 1]`` byte ids (non-overlapping blocks)."""
    from paperzoo_tinylm.data import stdlib_split

    text = stdlib_split()[1]
    n = len(text) // (seq_len + 1)
    return torch.tensor(list(text[: n * (seq_len + 1)]), dtype=torch.long).view(n, seq_len + 1)


@torch.no_grad()
def accuracy(model: torch.nn.Module, blocks: torch.Tensor, batch: int = 64) -> float:
    """Next-byte accuracy (greedy) over every position of ``blocks``."""
    hits = 0
    for i in range(0, len(blocks), batch):
        b = blocks[i : i + batch]
        hits += (model(b[:, :-1]).logits.argmax(-1) == b[:, 1:]).sum().item()
    return hits / blocks[:, 1:].numel()


@torch.no_grad()
def head_sinks(model: torch.nn.Module, blocks: torch.Tensor, threshold: float = THRESHOLD) -> dict:
    """Per layer and head: the mean number of sinks ACT would scale, the share of sequences whose first
    detected key is position 0, and the mean attention a query gives the sinks."""
    with capture(model, "blocks.*.attn.pattern") as got:
        model(blocks[:, :-1])
    stats = {}
    for name, p in got.items():
        layer = int(name.split(".")[1])
        s = sink_statistics(p.double(), threshold)
        stats[layer] = {k: [round(float(x), 4) for x in v] for k, v in s.items()}
    return stats


def run(
    seed: int, n_cal: int = 32, n_eval: int = 256, beta: float = BETA, threshold: float = THRESHOLD
) -> dict:
    """One seed: the head search on ``n_cal`` random validation blocks, accuracy on ``n_eval`` others."""
    import paperzoo_tinylm

    model = paperzoo_tinylm.pretrained("stdlib-small")
    blocks = validation_blocks()
    order = torch.randperm(len(blocks), generator=torch.Generator().manual_seed(seed))
    cal, ev = blocks[order[:n_cal]], blocks[order[n_cal : n_cal + n_eval]]
    c = model.config
    heads, gains = search_heads(
        model, lambda m: accuracy(m, cal), all_heads(c.n_layers, c.n_heads), beta, threshold
    )
    plain = accuracy(model, ev)
    with calibrated(model, heads, beta, threshold):
        act = accuracy(model, ev)
    with calibrated(model, list(all_heads(c.n_layers, c.n_heads)), beta, threshold):
        every = accuracy(model, ev)
    return {
        "seed": seed,
        "acc_plain": plain,
        "acc_act": act,
        "acc_all_heads": every,
        "heads": heads,
        "n_heads_kept": sum(len(h) for h in heads.values()),
        "gains": {f"{layer}.{h}": round(g, 5) for (layer, h), g in gains.items()},
    }
