"""DIN against the sum-pooling Embedding&MLP baseline it replaces: one training step's forward+backward pass.

Prints the median time over ``--rounds`` interleaved rounds (one pass of each model per round, so a change
of machine load affects both alike), its peak memory (``paperzoo.bench.peak_memory``), and both as ratios to
the baseline. Both models: the same embeddings (8 wide) and MLP (64, 32); DIN adds the activation unit (36)
and Dice. Sizes: the claim's (batch 256, 12 behaviours) and a longer sequence (batch 256, 100 behaviours).

Run: ``registry bench din [--threads 2] [--rounds 20]`` (or ``python -m paperzoo_din.bench``).
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo_struct.fields import SumPoolingMLP
from torch import nn

from paperzoo_din.model import DinModel

VOCAB = [100, 100, 10]
SIZES = [(256, 12), (256, 100)]


def step(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
    """One forward and backward pass; the gradients are released afterwards."""
    F.cross_entropy(model(x), y).backward()
    model.zero_grad(set_to_none=True)


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=20)
    args = parser.parse_args(argv)
    device = bench_setup(
        args,
        f"median of {args.rounds} interleaved rounds of one forward+backward pass; ratios DIN / sum pooling",
    )
    print(compare_header(f"{'(B, T)':>12}", "model", (12, 8)))
    for b, t in SIZES:
        fields = torch.stack([torch.randint(1, v + 1, (b,)) for v in VOCAB], 1)
        lengths = torch.randint(1, t + 1, (b, 1))
        hist = torch.where(torch.arange(t)[None] < lengths, torch.randint(1, VOCAB[1] + 1, (b, t)), 0)
        x, y = torch.cat([fields, hist], 1).to(device), torch.randint(2, (b,), device=device)
        sizes = {"vocab_sizes": VOCAB, "embedding_dim": 8, "hidden": (64, 32)}
        models = {"sum_pool": SumPoolingMLP(**sizes).to(device), "din": DinModel(**sizes).to(device)}
        works = {name: partial(step, m, x, y) for name, m in models.items()}
        compare(works, "sum_pool", device, args.rounds, warmup=2, label=str((b, t)), widths=(12, 8))


if __name__ == "__main__":
    main()
