"""INSET against the subset-only DeepSets: one forward+backward pass of the subset encoder.

Prints the median time over ``--rounds`` interleaved rounds (one pass of each per round, so a change of
machine load affects both alike), the peak memory (``paperzoo.bench.peak_memory``: activations saved
for backward, gradients and temporaries), and both as ratios INSET / DeepSets at the same width.
INSET adds a second element encoder over the whole ground set and widens rho's input (concat fusion).
Sizes: (batch, ground-set size, hidden) of the claim test (128, 10, 32) and larger ones.

Run: ``registry bench inset [--threads 2] [--rounds 20]`` (or ``python -m paperzoo_inset.bench``).
"""

from __future__ import annotations

from functools import partial

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header

from paperzoo_inset.encoder import InsetSubsetEncoder

SIZES = [(128, 10, 32), (64, 100, 128), (16, 1000, 256)]


def _step(model: InsetSubsetEncoder, x: torch.Tensor, s: torch.Tensor) -> None:
    model(x, s).sum().backward()
    model.zero_grad(set_to_none=True)


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    args = bench_arguments(__doc__.splitlines()[0], rounds=20).parse_args(argv)
    device = bench_setup(
        args,
        f"wall time of one forward+backward pass, median of {args.rounds} interleaved rounds; ratios are "
        "INSET / DeepSets (same hidden width)",
    )
    print(compare_header(f"{'(B, N, hidden)':>16}", "model", (16, 9)))
    for b, n, h in SIZES:
        x = torch.randn(b, n, 8, device=device)
        s = torch.rand(b, n, device=device) < 0.3
        models = {
            "deepsets": InsetSubsetEncoder(8, h, superset=False).to(device),
            "inset": InsetSubsetEncoder(8, h).to(device),
        }
        works = {name: partial(_step, m, x, s) for name, m in models.items()}
        compare(
            works, "deepsets", device, args.rounds, warmup=2, label=f"{str((b, n, h)):>16}", widths=(16, 9)
        )


if __name__ == "__main__":
    main()
