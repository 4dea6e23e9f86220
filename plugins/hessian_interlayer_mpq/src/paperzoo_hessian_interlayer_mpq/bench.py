"""Cost of the sensitivity analysis: the augmented sensitivity (Hutchinson Hessian traces plus the
inter-layer dependency terms) against the Hessian-only baseline (Hutchinson traces alone) on an MLP.

Prints the median time over ``--rounds`` interleaved rounds (one analysis of each kind per round, so that
a change of machine load affects both alike), peak memory (``paperzoo.bench.peak_memory``), and both as
ratios to the Hessian-only analysis.

Run: ``registry bench hessian_interlayer_mpq [--device cpu] [--threads 1] [--rounds 5] [--layers 6]``.
"""

from __future__ import annotations

from functools import partial

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from torch import nn

from paperzoo_hessian_interlayer_mpq.sensitivity import layer_sensitivity


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=5)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--examples", type=int, default=512)
    parser.add_argument("--samples", type=int, default=16, help="Hutchinson probes")
    args = parser.parse_args(argv)
    device = bench_setup(
        args, f"one analysis, median of {args.rounds} interleaved rounds; ratios: ours / hessian"
    )
    torch.manual_seed(0)
    mods: list[nn.Module] = []
    for _ in range(args.layers - 1):
        mods += [nn.Linear(args.width, args.width), nn.ReLU()]
    model = nn.Sequential(*mods, nn.Linear(args.width, 10)).to(device)
    x = torch.randn(args.examples, args.width, device=device)
    y = torch.randint(0, 10, (args.examples,), device=device)
    run = partial(layer_sensitivity, model, [(x, y)], "classification", 4, args.samples)
    works = {
        "hessian": partial(run, dependency="none"),
        "aug-pairwise": partial(run, dependency="pairwise"),
        "aug-context": partial(run, dependency="context"),
    }
    print(compare_header("layers x width", "analysis", (17, 13)))
    label = f"{args.layers} x {args.width}"
    compare(works, "hessian", device, args.rounds, label=label, widths=(17, 13))


if __name__ == "__main__":
    main()
