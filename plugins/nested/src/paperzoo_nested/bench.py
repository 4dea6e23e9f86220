"""A prefix view of a wide linear layer against a separate ``nn.Linear`` of the prefix's size.

For each prefix width ``m`` of a ``d x d`` layer: the median time of one forward+backward pass of
``PrefixLinear`` at input and output width ``m`` (views of the full weight; gradients land in the full
weight) and of an ``nn.Linear(m, m)`` of its own, over ``--rounds`` interleaved rounds, and their peak
memory, as ratios to the separate layer. The gap is what reading a strided view and accumulating its
gradient into the full tensor costs.

Run: ``registry bench nested [--threads 1] [--rounds 20]`` (or ``python -m paperzoo_nested.bench``).
"""

from __future__ import annotations

from functools import partial

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header, train_step
from torch import nn

from paperzoo_nested.views import PrefixLinear


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=20)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--tokens", type=int, default=512)
    args = parser.parse_args(argv)
    device = bench_setup(
        args, f"forward+backward, median of {args.rounds} interleaved rounds; ratios: prefix view / own layer"
    )
    wide = PrefixLinear(args.width, args.width).to(device)
    print(compare_header("prefix width m", "layer", (14, 10)))
    for m in (args.width // 8, args.width // 2, args.width):
        wide.out_width = m
        own = nn.Linear(m, m).to(device)
        x = torch.randn(args.tokens, m, device=device)
        works = {"own": partial(train_step, own, x), "prefix": partial(train_step, wide, x)}
        compare(works, "own", device, args.rounds, label=f"{m} of {args.width}", widths=(14, 10))


if __name__ == "__main__":
    main()
