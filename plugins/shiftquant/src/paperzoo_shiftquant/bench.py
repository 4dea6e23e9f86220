"""Speed and peak memory of ``ShiftQuantLinear`` against the ``nn.Linear`` it wraps, and of
``L1Norm`` against ``nn.LayerNorm``.

Prints the median time of one forward+backward pass over ``--rounds`` interleaved rounds (one pass of
each module per round, so that a change of machine load affects both alike), its peak memory
(``paperzoo.bench.peak_memory``), and both as ratios to the baseline. ShiftQuant is simulated in
floating point (fake quantisation), so it costs more than the float layer here; the paper's speed-ups
need integer kernels.

Run: ``registry bench shiftquant [--device cuda] [--threads 1] [--rounds 20]``.
"""

from __future__ import annotations

from functools import partial

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header, train_step
from torch import nn

from paperzoo_shiftquant.linear import ShiftQuantLinear
from paperzoo_shiftquant.norm import L1Norm


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=20)
    parser.add_argument("--features", type=int, default=512)
    parser.add_argument("--tokens", type=int, default=1024)
    args = parser.parse_args(argv)
    device = bench_setup(
        args, f"forward+backward, median of {args.rounds} interleaved rounds; ratios: ours / baseline"
    )
    label = f"{args.tokens} x {args.features}"
    x = torch.randn(args.tokens, args.features, device=device, requires_grad=True)
    linear = nn.Linear(args.features, args.features, device=device)
    norm = nn.LayerNorm(args.features, device=device)
    pairs = {
        "nn.Linear": {"nn.Linear": linear, "shiftquant_linear": ShiftQuantLinear(linear, bits=4)},
        "nn.LayerNorm": {"nn.LayerNorm": norm, "l1_norm": L1Norm(norm)},
    }
    for baseline, modules in pairs.items():
        print(compare_header("tokens x features", "module", (17, 17)))
        works = {name: partial(train_step, module, x) for name, module in modules.items()}
        compare(works, baseline, device, args.rounds, label=label, widths=(17, 17))


if __name__ == "__main__":
    main()
