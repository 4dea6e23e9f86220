"""Quantised Linears against the float ``nn.Linear`` they replace: one inference forward pass per round
(post-training quantisation serves inference; nothing trains the quantised weight).

Run: ``registry bench compress [--threads 1] [--rounds 20]``. Paper plugins time their own quantised
or sparse layers with :func:`linear_benchmark` (``train=True`` for a training step).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import partial

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header, train_step
from torch import nn

from paperzoo_compress.linear import FakeQuantLinear


@torch.no_grad()
def forward(layer: nn.Module, x: torch.Tensor) -> None:
    """One inference forward pass."""
    layer(x)


def linear_benchmark(
    title: str,
    layers: dict[str, Callable[[nn.Linear], nn.Module]],
    argv: list[str] | None = None,
    train: bool = False,
) -> None:
    """Time and peak memory of each layer built from a float ``nn.Linear`` (``layers``: name -> constructor
    from a copy of that Linear) against the Linear itself, on ``--tokens x --features`` inputs: inference
    forward passes, or (``train=True``) forward and backward passes, for sparse or quantisation-aware
    training layers."""
    parser = bench_arguments(title, rounds=20)
    parser.add_argument("--features", type=int, default=512)
    parser.add_argument("--tokens", type=int, default=1024)
    args = parser.parse_args(argv)
    what = "forward+backward" if train else "inference forward"
    device = bench_setup(
        args, f"{what}, median of {args.rounds} interleaved rounds; ratios: ours / nn.Linear"
    )
    torch.manual_seed(0)
    base = nn.Linear(args.features, args.features, device=device)
    modules = {"nn.Linear": base, **{name: make(copy.deepcopy(base)) for name, make in layers.items()}}
    x = torch.randn(args.tokens, args.features, device=device)
    width = max(9, *(len(name) + 1 for name in modules))
    print(compare_header("tokens x features", "layer", (17, width)))
    run = train_step if train else forward
    works = {name: partial(run, module.train(train), x) for name, module in modules.items()}
    compare(
        works, "nn.Linear", device, args.rounds, label=f"{args.tokens} x {args.features}", widths=(17, width)
    )


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    linear_benchmark(
        __doc__.splitlines()[0], {"rtn_w4": partial(FakeQuantLinear, bits=4, group_size=128)}, argv
    )


if __name__ == "__main__":
    main()
