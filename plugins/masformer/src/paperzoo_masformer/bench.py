"""Sliding-window attention against full causal SDPA, and MASFormer against an all-full-attention decoder.

1. Kernels, forward+backward of one attention call (batch 1, 4 heads of width 32, span ``--window``) at
   256, 1024 and 4096 tokens: ``full``: ``scaled_dot_product_attention(is_causal=True)`` (the layer a
   local block replaces), ``band``: SDPA with the boolean band mask (``form="sdpa"``), ``blocked``: the
   blocked form (``form="blocked"``, scores ``T (2w - 1)``). Then the slopes of log time and log memory
   against log T from the shortest to the longest length (2: quadratic, 1: linear).
2. Models, one training step's forward+backward (``lm_step``): MASFormer (4 blocks, the bottom one full,
   the others blocked sliding windows) against tinylm's decoder of the same size with full attention in
   every block, at 1024 tokens.

Prints median times of interleaved rounds, peak memory (``paperzoo.bench.peak_memory``) and ratios to the
full-attention baseline. Peak memory stays well under 1 GiB.

Run: ``registry bench masformer [--threads 2] [--rounds 5]`` (or ``python -m paperzoo_masformer.bench``).
"""

from __future__ import annotations

import math
from functools import partial

import torch
import torch.nn.functional as F
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo_tinylm.attention import AttentionMask
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.training import lm_step

from paperzoo_masformer.attention import sliding_window_attention
from paperzoo_masformer.model import MASFormer

LENGTHS = (256, 1024, 4096)
MODEL = dict(d_model=128, n_layers=4, n_heads=4, max_seq_len=1024)


def _kernel_step(q: torch.Tensor, form: str | None, window: int) -> None:
    """Forward and backward of one attention call (``form=None``: full causal SDPA)."""
    q = q.detach().requires_grad_(True)
    if form is None:
        z = F.scaled_dot_product_attention(q, q, q, is_causal=True)
    else:
        z = sliding_window_attention(q, q, q, window, AttentionMask(causal=True), form=form)
    z.sum().backward()


def _slope(results: dict[int, dict[str, tuple[float, int]]], name: str, which: int) -> float:
    lo, hi = LENGTHS[0], LENGTHS[-1]
    return math.log(results[hi][name][which] / results[lo][name][which]) / math.log(hi / lo)


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory, ratios and slopes."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=5)
    parser.add_argument("--window", type=int, default=128)
    args = parser.parse_args(argv)
    device = bench_setup(
        args,
        f"median of {args.rounds} interleaved rounds of forward+backward; ratios are to full causal attention "
        f"(span {args.window})",
    )
    print(compare_header(f"{'kernel, T':>16}", "form", (16, 8)))
    results = {}
    for t in LENGTHS:
        q = torch.randn(1, 4, t, 32, device=device)
        works = {
            "full": partial(_kernel_step, q, None, args.window),
            "band": partial(_kernel_step, q, "sdpa", args.window),
            "blocked": partial(_kernel_step, q, "blocked", args.window),
        }
        results[t] = compare(works, "full", device, args.rounds, label=f"T={t}", widths=(16, 8))
    for name in ("full", "band", "blocked"):
        print(
            f"slope of log time / log memory against log T, {LENGTHS[0]}..{LENGTHS[-1]}, {name}: "
            f"{_slope(results, name, 0):.2f} / {_slope(results, name, 1):.2f}"
        )
    print()
    print(compare_header(f"{'model, (B, T)':>16}", "model", (16, 10)))
    ids = torch.randint(363, (2, 1024), device=device)
    models = {
        "all_full": TinyLMDecoder(**MODEL).to(device),
        "masformer": MASFormer(window=args.window, n_full=1, form="blocked", **MODEL).to(device),
    }
    works = {name: partial(lm_step, m, ids) for name, m in models.items()}
    compare(works, "all_full", device, args.rounds, label="(2, 1024)", widths=(16, 10))


if __name__ == "__main__":
    main()
