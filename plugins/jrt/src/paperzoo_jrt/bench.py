"""Prefix linear attention against causal linear attention and softmax SDPA: one causal forward pass.

Prints the median time of one kernel forward over ``--rounds`` interleaved rounds and its peak memory
(``paperzoo.bench.peak_memory``), with ratios to ``scaled_dot_product_attention(is_causal=True)``, at
lengths 256, 1024 and 4096 (batch 2, 4 heads of width 16, float32; both linear kernels chunked, 64 tokens
per chunk, with the ``elu1`` feature map so the state is the same size; the prefix is the first half of
the sequence), then the slopes of log time and log memory against log length.

Run: ``registry bench jrt [--threads 2] [--rounds 5]`` (or ``python -m paperzoo_jrt.bench``).
"""

from __future__ import annotations

import math
from functools import partial

import torch
import torch.nn.functional as F
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo_tinylm.attention import AttentionMask
from paperzoo_tinylm.linear_attention import LinearAttention

from paperzoo_jrt.prefix_attention import PrefixLinearAttention

LENGTHS = (256, 1024, 4096)
B, H, D = 2, 4, 16


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory, ratios and slopes."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=5)
    args = parser.parse_args(argv)
    device = bench_setup(
        args,
        f"wall time of one causal forward, median of {args.rounds} interleaved rounds; ratios to softmax SDPA",
    )
    mask = AttentionMask(causal=True)
    print(compare_header(f"{'T':>6}", "kernel", (6, 8)))
    results = {}
    for t in LENGTHS:
        q, k, v = (torch.randn(B, H, t, D, device=device) for _ in range(3))
        prefix = PrefixLinearAttention(t // 2, H * D, feature_map="elu1").to(device)
        causal = LinearAttention(feature_map="elu1", normalize=True)
        works = {
            "sdpa": partial(F.scaled_dot_product_attention, q, k, v, is_causal=True),
            "causal": partial(causal, q, k, v, mask),
            "prefix": partial(prefix, q, k, v, mask),
        }
        with torch.no_grad():
            results[t] = compare(works, "sdpa", device, args.rounds, label=f"{t:>6}", widths=(6, 8))
    lo, hi = LENGTHS[0], LENGTHS[-1]
    span = math.log(hi / lo)
    print(f"slopes of log time / log memory against log T from {lo} to {hi}:")
    for name in ("sdpa", "causal", "prefix"):
        ts = math.log(results[hi][name][0] / results[lo][name][0]) / span
        ms = math.log(max(results[hi][name][1], 1) / max(results[lo][name][1], 1)) / span
        print(f"  {name:>8}: time {ts:.2f}, memory {ms:.2f}")


if __name__ == "__main__":
    main()
