"""Linear attention's three forms against softmax attention (SDPA): causal forward time and peak memory.

For each sequence length (default 256, 1024, 4096; batch 2, 4 heads of width 32, float32, per-head decays
``1 - 2^(-5-h)``, no normaliser, as in lightning attention) prints each form's median time over
``--rounds`` interleaved rounds and its peak memory (``paperzoo.bench.compare``), as ratios to
``torch.nn.functional.scaled_dot_product_attention(is_causal=True)``; then the slope of time and memory
against length on a log-log scale between the shortest and longest length (1: linear, 2: quadratic).

Run: ``python -m paperzoo_tinylm.bench_linear_attention [--lengths 256 1024 4096] [--chunk-size 64]``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header

from paperzoo_tinylm.linear_attention import (
    linear_attention_chunked,
    linear_attention_parallel,
    linear_attention_recurrent,
    retnet_decays,
)


def _works(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, decay: torch.Tensor, chunk: int) -> dict:
    """The four causal forward passes on ``q, k, v``."""
    return {
        "sdpa": lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True),
        "parallel": lambda: linear_attention_parallel(q, k, v, decay=decay),
        "recurrent": lambda: linear_attention_recurrent(q, k, v, decay=decay),
        "chunked": lambda: linear_attention_chunked(q, k, v, decay=decay, chunk_size=chunk),
    }


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory, ratios and slopes."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=5)
    parser.add_argument("--lengths", type=int, nargs="+", default=[256, 1024, 4096])
    parser.add_argument("--chunk-size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--head-dim", type=int, default=32)
    args = parser.parse_args(argv)
    device = bench_setup(
        args,
        f"causal forward of one attention layer, median of {args.rounds} interleaved rounds; ratios are "
        "linear-attention form / softmax SDPA",
    )
    decay = torch.tensor(retnet_decays(args.heads), device=device)
    results = {}
    print(compare_header(f"{'T':>6}", "form", (6, 10)))
    for t in args.lengths:
        q, k, v = (torch.randn(args.batch, args.heads, t, args.head_dim, device=device) for _ in range(3))
        works = _works(q, k, v, decay, args.chunk_size)
        with torch.no_grad():
            results[t] = compare(works, "sdpa", device, args.rounds, label=f"{t:>6}", widths=(6, 10))
    lo, hi = min(args.lengths), max(args.lengths)
    if lo == hi:
        return
    print(f"\nslope of log(time) and log(peak memory) against log(T) from T={lo} to T={hi}")
    for name in results[lo]:
        (t0, m0), (t1, m1) = results[lo][name], results[hi][name]
        span = math.log(hi / lo)
        print(
            f"{name:>10} time {math.log(t1 / t0) / span:5.2f}  memory {math.log(max(m1, 1) / max(m0, 1)) / span:5.2f}"
        )


if __name__ == "__main__":
    main()
