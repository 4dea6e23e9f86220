"""Combiner attention (fixed and axial partitions, regions of ``ceil(sqrt(T))``) against softmax
attention (``scaled_dot_product_attention(is_causal=True)``): one causal forward pass of the kernel.

Prints, per sequence length (256, 1024, 4096), the median time over ``--rounds`` interleaved rounds and
the peak memory (``paperzoo.bench.peak_memory``) of each kernel and their ratios to SDPA, then the slope
of log time and log memory against log T (SDPA is quadratic in work, Combiner ``O(T sqrt T)``). Sizes:
batch 1, 4 heads of width 32, float32 (under 2 GB at 4096).

Run: ``registry bench combiner [--threads 2] [--rounds 5]`` (or ``python -m paperzoo_combiner.bench``).
"""

from __future__ import annotations

import math
from functools import partial

import torch
import torch.nn.functional as F
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo_tinylm.attention import AttentionMask

from paperzoo_combiner.attention import CombinerAttention

LENGTHS = (256, 1024, 4096)


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory, ratios and slopes."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=5)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--head-dim", type=int, default=32)
    args = parser.parse_args(argv)
    device = bench_setup(
        args,
        f"causal forward of one attention kernel, median of {args.rounds} interleaved rounds; ratios are "
        "kernel / SDPA",
    )
    kernels = {"fixed": CombinerAttention("fixed"), "axial": CombinerAttention("axial")}
    mask = AttentionMask(causal=True)
    print(compare_header(f"{'T':>6}", "kernel", (6, 8)))
    results = {}
    for t in LENGTHS:
        q, k, v = (torch.randn(1, args.heads, t, args.head_dim, device=device) for _ in range(3))
        works = {"sdpa": partial(F.scaled_dot_product_attention, q, k, v, is_causal=True)}
        works.update({name: partial(kern, q, k, v, mask) for name, kern in kernels.items()})
        with torch.no_grad():
            results[t] = compare(works, "sdpa", device, args.rounds, label=f"{t:>6}", widths=(6, 8))
    span = math.log(LENGTHS[-1] / LENGTHS[0])
    for name in ("sdpa", *kernels):
        slope_t = math.log(results[LENGTHS[-1]][name][0] / results[LENGTHS[0]][name][0]) / span
        slope_m = (
            math.log(max(results[LENGTHS[-1]][name][1], 1) / max(results[LENGTHS[0]][name][1], 1)) / span
        )
        print(f"slope of log time / log memory against log T, {name}: {slope_t:.2f} / {slope_m:.2f}")


if __name__ == "__main__":
    main()
