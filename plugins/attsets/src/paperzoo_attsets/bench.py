"""AttSets pooling against mean pooling: one forward+backward pass of the pooling alone.

Prints the median time over ``--rounds`` interleaved rounds (one pass of each per round, so a change of
machine load affects both alike), the peak memory (``paperzoo.bench.peak_memory``: activations saved
for backward, gradients and temporaries), and both as ratios AttSets / mean pooling. AttSets adds a
``D x D`` score layer and a softmax over the set; mean pooling has no parameters. Sizes: (batch, set
size, width) of the claim test's pooling (128, 8, 32), of the paper's 24 views of 1024 features
(4, 24, 1024), and a large batch of small sets (1024, 16, 256).

Run: ``registry bench attsets [--threads 2] [--rounds 20]`` (or ``python -m paperzoo_attsets.bench``).
"""

from __future__ import annotations

from functools import partial

import torch
from paperzoo.bench import backward_pass, bench_arguments, bench_setup, compare, compare_header

from paperzoo_attsets.pool import AttSetsPool

SIZES = [(128, 8, 32), (4, 24, 1024), (1024, 16, 256)]


class _MeanPool(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=1)


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    args = bench_arguments(__doc__.splitlines()[0], rounds=20).parse_args(argv)
    device = bench_setup(
        args,
        f"wall time of one forward+backward pass, median of {args.rounds} interleaved rounds; ratios are "
        "AttSets / mean pooling",
    )
    print(compare_header(f"{'(B, N, D)':>16}", "pooling"))
    for b, n, d in SIZES:
        x = torch.randn(b, n, d, device=device, requires_grad=True)
        grad = torch.randn(b, d, device=device)
        layers = {"mean": _MeanPool().to(device), "attsets": AttSetsPool(d).to(device)}
        works = {name: partial(backward_pass, layer, x, grad) for name, layer in layers.items()}
        compare(works, "mean", device, args.rounds, warmup=2, label=f"{str((b, n, d)):>16}")


if __name__ == "__main__":
    main()
