"""Speed and peak memory of a training step of ``NMSparseLinear`` (1:8, MDGF at beta 0.5, and SR-STE)
against the dense ``nn.Linear`` it replaces.

Prints the median time of one forward+backward pass over ``--rounds`` interleaved rounds (one pass of
each layer per round, so that a change of machine load affects all alike), its peak memory
(``paperzoo.bench.peak_memory``), and both as ratios to ``nn.Linear``. The sparse layer recomputes the
magnitude mask (a sort of every group) each forward and multiplies by a dense mask: it simulates N:M
sparsity, it does not use sparse kernels, so it is slower than dense by construction.

Run: ``registry bench nm_progressive_flow [--device cuda] [--threads 1] [--rounds 20]``.
"""

from __future__ import annotations

from functools import partial

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from torch import nn

from paperzoo_nm_progressive_flow.layer import NMSparseLinear


def step(layer: nn.Module, x: torch.Tensor) -> None:
    """One forward and backward pass; the gradients are released afterwards."""
    layer(x).square().mean().backward()
    layer.zero_grad(set_to_none=True)


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=20)
    parser.add_argument("--features", type=int, default=512)
    parser.add_argument("--tokens", type=int, default=1024)
    args = parser.parse_args(argv)
    device = bench_setup(
        args, f"forward+backward, median of {args.rounds} interleaved rounds; ratios: ours / nn.Linear"
    )
    base = nn.Linear(args.features, args.features, device=device)
    layers = {
        "nn.Linear": base,
        "mdgf 1:8": NMSparseLinear(base, n=1, m=8, beta=0.5),
        "srste 1:8": NMSparseLinear(base, n=1, m=8, srste_lambda=2e-4),
    }
    x = torch.randn(args.tokens, args.features, device=device)
    print(compare_header("tokens x features", "layer", (17, 9)))
    works = {name: partial(step, layer, x) for name, layer in layers.items()}
    compare(works, "nn.Linear", device, args.rounds, label=f"{args.tokens} x {args.features}", widths=(17, 9))


if __name__ == "__main__":
    main()
