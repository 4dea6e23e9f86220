"""Speed and peak memory of a sparse pre-training layer (a ``MaskedLinear`` with a static random mask)
and of the densified layer (masks opened) against the plain ``nn.Linear``, with the matmul FLOP ratio
the mask would save on hardware that skips zeros.

Prints the median time of one forward+backward pass over ``--rounds`` interleaved rounds (one pass of
each layer per round, so that a change of machine load affects both alike), its peak memory
(``paperzoo.bench.peak_memory``), and both as ratios to ``nn.Linear``. Dense kernels compute the zeros:
the masked layer is no faster here; the FLOP ratio is what a sparse kernel could save.

Run: ``registry bench spdf [--device cuda] [--threads 1] [--rounds 20] [--sparsity 0.5]``.
"""

from __future__ import annotations

import copy
from functools import partial

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header, train_step
from torch import nn

from paperzoo_spdf.flops import linear_flops
from paperzoo_spdf.masks import open_masks_, sparsify_random


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=20)
    parser.add_argument("--features", type=int, default=512)
    parser.add_argument("--tokens", type=int, default=1024)
    parser.add_argument("--sparsity", type=float, default=0.5)
    args = parser.parse_args(argv)
    device = bench_setup(
        args, f"forward+backward, median of {args.rounds} interleaved rounds; ratios: ours / nn.Linear"
    )
    base = nn.Linear(args.features, args.features, device=device)
    sparse = nn.Sequential(copy.deepcopy(base))
    sparsify_random(sparse, args.sparsity, seed=0, layers="0")
    dense = copy.deepcopy(sparse)
    open_masks_(dense)
    layers = {"nn.Linear": base, "masked (sparse)": sparse, "opened (dense FT)": dense}
    x = torch.randn(args.tokens, args.features, device=device)
    print(compare_header("tokens x features", "layer", (17, 17)))
    works = {name: partial(train_step, layer, x) for name, layer in layers.items()}
    compare(
        works, "nn.Linear", device, args.rounds, label=f"{args.tokens} x {args.features}", widths=(17, 17)
    )
    flops = linear_flops(sparse, args.tokens)
    print(f"matmul FLOPs of the masked layer / dense: {flops.ratio:.4f} (sparsity {args.sparsity})")


if __name__ == "__main__":
    main()
