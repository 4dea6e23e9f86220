"""The Peri-LN block against the Pre-LN block (and Post-LN) of the same size: one forward+backward pass.

Prints the median time of one forward+backward pass of each block over ``--rounds`` interleaved rounds
(one pass of every block per round, so that a change of machine load affects all alike), its peak memory
(``paperzoo.bench.peak_memory``: activations saved for backward, gradients and temporaries), and both as
ratios to the Pre-LN block. Shapes (batch, tokens, d_model): the claim test's width (16, 32, 32) and a
larger one (8, 256, 256). The blocks are tinylm's (RMSNorm, RoPE, SwiGLU); Peri-LN adds two RMSNorms.

Run: ``registry bench peri_ln [--threads 2] [--rounds 30]`` (or ``python -m paperzoo_peri_ln.bench``).
"""

from __future__ import annotations

from functools import partial

import torch
from paperzoo.bench import backward_pass, bench_arguments, bench_setup, compare, compare_header

from paperzoo_peri_ln.layer import NormPlacementBlock

SHAPES = [((16, 32, 32), 2), ((8, 256, 256), 8)]  # (B, T, d_model), heads


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=30)
    args = parser.parse_args(argv)
    device = bench_setup(
        args,
        f"wall time of one forward+backward pass, median of {args.rounds} interleaved rounds; ratios are to the Pre-LN block",
    )
    print(compare_header("shape (B, T, d)", "block", (16, 6)))
    for shape, heads in SHAPES:
        x = torch.randn(shape, device=device, requires_grad=True)
        grad = torch.randn_like(x)
        works = {}
        for placement in ("pre", "peri", "post"):
            block = NormPlacementBlock(shape[-1], heads, placement=placement).to(device)
            works[placement] = partial(backward_pass, block, x, grad)
        compare(works, "pre", device, args.rounds, warmup=3, label=str(shape), widths=(16, 6))


if __name__ == "__main__":
    main()
