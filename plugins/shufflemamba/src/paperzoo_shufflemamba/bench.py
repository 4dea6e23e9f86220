"""The stochastic layer-wise shuffle's cost: a vision Mamba's training step with the shuffle against without.

Prints the median time of one training step's forward+backward pass over ``--rounds`` interleaved rounds
and its peak memory (``paperzoo.bench.peak_memory``), with ratios to the model without the shuffle. The
shuffled model has ``shuffle_rate`` 1 so that its deeper blocks shuffle often (block ``i`` of ``depth``
with probability ``i / (depth - 1)``): the overhead measured is an upper bound for the paper's rates
(0.1-0.5). Both models have the same weights. Sizes: the claim test's (8x8 digits, 16 tokens, width 16,
4 blocks, batch 32) and a larger one (16x16 images, 2x2 patches: 64 tokens, width 32, 6 blocks, batch 16).

Run: ``registry bench shufflemamba [--threads 2] [--rounds 20]`` (or ``python -m paperzoo_shufflemamba.bench``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header

from paperzoo_shufflemamba.model import ShuffleVisionMamba

# (model sizes, batch)
SIZES = [
    ({"image_size": 8, "patch_size": 2, "dim": 16, "depth": 4, "d_state": 4}, 32),
    ({"image_size": 16, "patch_size": 2, "dim": 32, "depth": 6, "d_state": 8}, 16),
]


def _step(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor):
    def run() -> None:
        F.cross_entropy(model(images), labels).backward()

    return run


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=20)
    args = parser.parse_args(argv)
    device = bench_setup(
        args,
        f"wall time of one forward+backward pass, median of {args.rounds} interleaved rounds; ratios are "
        "with shuffle (shuffle_rate 1) / without",
    )
    print(compare_header(f"{'tokens x dim x depth':>20} {'B':>3}", "model", (24, 8)))
    for sizes, batch in SIZES:
        images = torch.rand(batch, 1, sizes["image_size"], sizes["image_size"], device=device)
        labels = torch.randint(10, (batch,), device=device)
        torch.manual_seed(0)
        plain = ShuffleVisionMamba(shuffle_rate=0.0, **sizes).to(device).train()
        shuffled = ShuffleVisionMamba(shuffle_rate=1.0, **sizes).to(device).train()
        shuffled.load_state_dict(plain.state_dict())
        works = {"plain": _step(plain, images, labels), "shuffle": _step(shuffled, images, labels)}
        tokens = (sizes["image_size"] // sizes["patch_size"]) ** 2
        label = f"{tokens:>6} x {sizes['dim']:>3} x {sizes['depth']:<4} {batch:>3}"
        compare(works, "plain", device, args.rounds, warmup=2, label=label, widths=(24, 8))


if __name__ == "__main__":
    main()
