"""EoRA's compensated layer (a W3 ``FakeQuantLinear`` plus a rank-r path ``B (A x)``) against the same
uncompensated W3 layer: one inference forward pass per round (the extra cost is the rank-r matmuls).

Run: ``registry bench eora [--threads 1] [--rounds 20] [--features 512] [--tokens 1024]``.
"""

from __future__ import annotations

from functools import partial

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo_compress.bench import forward
from paperzoo_compress.linear import FakeQuantLinear
from torch import nn

from paperzoo_eora.layer import EoRALinear

RANKS = (8, 32, 128)


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=20)
    parser.add_argument("--features", type=int, default=512)
    parser.add_argument("--tokens", type=int, default=1024)
    args = parser.parse_args(argv)
    device = bench_setup(args, f"inference forward, median of {args.rounds} rounds; ratios: ours / w3")
    base = FakeQuantLinear(nn.Linear(args.features, args.features, device=device), bits=3, group_size=-1)
    modules: dict[str, nn.Module] = {"w3": base}
    for rank in RANKS:
        layer = EoRALinear(base, rank)
        with torch.no_grad():
            layer.lora_A.normal_()
            layer.lora_B.normal_()
        modules[f"w3+eora r{rank}"] = layer
    x = torch.randn(args.tokens, args.features, device=device)
    print(compare_header("tokens x features", "layer", (17, 14)))
    works = {name: partial(forward, module, x) for name, module in modules.items()}
    compare(works, "w3", device, args.rounds, label=f"{args.tokens} x {args.features}", widths=(17, 14))


if __name__ == "__main__":
    main()
