"""Softplus attention (LSSA, LSSAR) against softmax ``scaled_dot_product_attention``: one causal forward.

Prints the median time of one causal attention forward (no gradient) over ``--rounds`` interleaved rounds,
its peak memory (``paperzoo.bench.peak_memory``), and both as ratios to SDPA (``is_causal=True``, the fused
kernel tinylm's ``softmax`` slot uses). Shapes: batch 1, 2 heads of width 32, float32, lengths 256, 1024 and
4096. LSSA forms the ``[T, T]`` weights explicitly (as the paper and its reference code do), so its time and
memory grow with ``T^2`` where SDPA's memory does not. ``--flex`` adds LSSA through FlexAttention (softplus
then l1-normalisation is ``softmax(log softplus(s))``: a ``score_mod``), compiled with ``torch.compile``.

Run: ``registry bench softplus_attention [--threads 2] [--rounds 10] [--flex]`` (or ``python -m
paperzoo_softplus_attention.bench``).
"""

from __future__ import annotations

import math
from functools import partial

import torch
import torch.nn.functional as F
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo_tinylm.attention import AttentionMask

from paperzoo_softplus_attention.kernel import SoftplusAttention

LENGTHS = (256, 1024, 4096)
HEADS, HEAD_DIM = 2, 32


def flex_lssa(head_dim: int):
    """LSSA (no re-weighting, eps 0) as a compiled FlexAttention call on L2-normalised ``q``, ``k``."""
    from torch.nn.attention.flex_attention import flex_attention

    log_d = math.log(head_dim)

    def score_mod(s, b, h, q_idx, k_idx):
        x = F.softplus(s * log_d * torch.log((q_idx + 1).to(s.dtype)))
        return torch.where(k_idx <= q_idx, torch.log(x), -float("inf"))

    compiled = torch.compile(flex_attention)

    def run(q, k, v):
        return compiled(F.normalize(q, dim=-1), F.normalize(k, dim=-1), v, score_mod=score_mod, scale=1.0)

    return run


@torch.no_grad()
def _call(fn, q, k, v):
    return fn(q, k, v)


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=10)
    parser.add_argument("--flex", action="store_true", help="add LSSA through compiled FlexAttention")
    args = parser.parse_args(argv)
    device = bench_setup(
        args,
        f"wall time of one causal attention forward, median of {args.rounds} interleaved rounds; ratios are "
        "ours / SDPA",
    )
    mask = AttentionMask(causal=True)
    kernels = {
        "sdpa": lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
        "lssa": partial(SoftplusAttention(), mask=mask),
        "lssar": partial(SoftplusAttention(p=15.0), mask=mask),
    }
    if args.flex:
        kernels["lssa_flex"] = flex_lssa(HEAD_DIM)
    print(compare_header(f"{'T':>8}", "kernel", (8, 9)))
    for t in LENGTHS:
        q, k, v = (torch.randn(1, HEADS, t, HEAD_DIM, device=device) for _ in range(3))
        works = {name: partial(_call, fn, q, k, v) for name, fn in kernels.items()}
        compare(works, "sdpa", device, args.rounds, warmup=1, label=f"{t:>8}", widths=(8, 9))


if __name__ == "__main__":
    main()
