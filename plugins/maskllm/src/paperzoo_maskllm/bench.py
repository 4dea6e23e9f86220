"""Speed and peak memory of ``learnable_nm_mask_linear`` against the plain ``nn.Linear`` it wraps and the
fixed-mask kit ``MaskedLinear`` (magnitude 2:4).

Prints the median time of one training step (forward + backward: the mask logits' gradient for ours,
the weight's for the baselines) over ``--rounds`` interleaved rounds (one pass of each layer per round,
so that a change of machine load affects all alike), its peak memory (``paperzoo.bench.peak_memory``),
and both as ratios to ``nn.Linear``.

Run: ``registry bench maskllm [--device cuda] [--threads 1] [--rounds 20]``.
"""

from __future__ import annotations

from functools import partial

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo_compress.sparsity import MaskedLinear, nm_mask
from torch import nn

from paperzoo_maskllm.layer import LearnableNMMaskLinear


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
    torch.manual_seed(0)
    dense = nn.Linear(args.features, args.features, device=device)
    fixed = nn.Linear(args.features, args.features, device=device)
    fixed.load_state_dict(dense.state_dict())
    frozen = nn.Linear(args.features, args.features, device=device)
    frozen.load_state_dict(dense.state_dict())
    layers = {
        "nn.Linear": dense,
        "MaskedLinear 2:4": MaskedLinear(fixed, nm_mask(fixed.weight, 2, 4)),
        "ours": LearnableNMMaskLinear(frozen, n=2, m=4).train(),
    }
    x = torch.randn(args.tokens, args.features, device=device)
    print(compare_header("tokens x features", "layer", (17, 17)))
    works = {name: partial(step, layer, x) for name, layer in layers.items()}
    compare(
        works, "nn.Linear", device, args.rounds, label=f"{args.tokens} x {args.features}", widths=(17, 17)
    )


if __name__ == "__main__":
    main()
