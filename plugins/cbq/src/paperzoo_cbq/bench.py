"""Speed and peak memory of a LoRA-Rounding Linear during reconstruction (soft rounding, forward and
backward into the low-rank matrices) against the plain ``nn.Linear`` it replaces (forward and backward).

After CBQ the model holds plain ``nn.Linear`` modules with weights on the grid: inference costs what the
float model costs (ratio 1 by construction); the reconstruction step is what this measures. Prints the
median time over ``--rounds`` interleaved rounds, peak memory (``paperzoo.bench.peak_memory``) and both
as ratios to ``nn.Linear``.

Run: ``registry bench cbq [--device cuda] [--threads 1] [--rounds 20]``.
"""

from __future__ import annotations

from functools import partial

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from torch import nn

from paperzoo_cbq.rounding import LoRARoundingLinear


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
    layers = {"nn.Linear": base, "lora_round": LoRARoundingLinear(base, bits=4, group_size=128, rank=4)}
    x = torch.randn(args.tokens, args.features, device=device)
    print(compare_header("tokens x features", "layer", (17, 10)))
    works = {name: partial(step, layer, x) for name, layer in layers.items()}
    compare(
        works, "nn.Linear", device, args.rounds, label=f"{args.tokens} x {args.features}", widths=(17, 10)
    )


if __name__ == "__main__":
    main()
