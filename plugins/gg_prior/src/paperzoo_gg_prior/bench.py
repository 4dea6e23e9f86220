"""Speed and peak memory of the RF8 fake-quantised Linear against ``nn.Linear``, and of GG init against
Kaiming normal init.

1. One forward+backward pass of ``rf8_fake_quant`` and of the plain ``nn.Linear`` it wraps (the RF8 layer
   re-quantises its weight every pass: a training-time cost; at inference the quantised weight is
   computed once).
2. Filling a weight with ``gg_init_`` (beta = 1) and with ``nn.init.kaiming_normal_``.

Medians over ``--rounds`` interleaved rounds (one pass of each per round, so that a change of machine
load affects both alike), peak memory (``paperzoo.bench.peak_memory``), and both as ratios to the baseline.

Run: ``registry bench gg_prior [--device cuda] [--threads 1] [--rounds 20]``.
"""

from __future__ import annotations

from functools import partial

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header, train_step
from torch import nn

from paperzoo_gg_prior.init import gg_init_
from paperzoo_gg_prior.rf8 import RF8FakeQuantLinear


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=20)
    parser.add_argument("--features", type=int, default=512)
    parser.add_argument("--tokens", type=int, default=1024)
    args = parser.parse_args(argv)
    device = bench_setup(args, f"median of {args.rounds} interleaved rounds; ratios: ours / baseline")
    base = nn.Linear(args.features, args.features, device=device)
    layers = {"nn.Linear": base, "rf8": RF8FakeQuantLinear(base)}
    x = torch.randn(args.tokens, args.features, device=device)
    print("forward+backward")
    print(compare_header("tokens x features", "layer", (17, 9)))
    works = {name: partial(train_step, layer, x) for name, layer in layers.items()}
    compare(works, "nn.Linear", device, args.rounds, label=f"{args.tokens} x {args.features}", widths=(17, 9))
    weight = torch.empty(4 * args.features, args.features, device=device)
    inits = {
        "kaiming": partial(nn.init.kaiming_normal_, weight, nonlinearity="relu"),
        "gg_init": partial(gg_init_, weight, beta=1.0),
    }
    print("initialisation of one weight")
    print(compare_header("shape", "init", (17, 9)))
    compare(
        inits, "kaiming", device, args.rounds, label=f"{4 * args.features} x {args.features}", widths=(17, 9)
    )


if __name__ == "__main__":
    main()
