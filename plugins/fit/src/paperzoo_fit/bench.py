"""The FIT encoder against a full softmax-attention encoder of the same width and depth: forward+backward.

FIT: ``LLGLLG`` (4 local layers in groups of 64 tokens, 2 global layers over 2 latents per group, and the
4 cross-attentions), width 64, 4 heads. Baseline: 6 full self-attention layers of the same width (a FIT
encoder with one group and no latents: exactly tinylm's blocks over the whole sequence). Both use
``scaled_dot_product_attention``. Batch 1, sequence lengths 256, 1024, 4096. Prints the median time of
one forward+backward pass over ``--rounds`` interleaved rounds, its peak memory
(``paperzoo.bench.peak_memory``), both as ratios FIT / full, and the growth of each with length (slope
of log time and log memory against log length, 256 to 4096).

Run: ``registry bench fit [--threads 2] [--rounds 5]`` (or ``python -m paperzoo_fit.bench``).
"""

from __future__ import annotations

import math
from functools import partial

import torch
from paperzoo.bench import backward_pass, bench_arguments, bench_setup, compare, compare_header

from paperzoo_fit.encoder import FITEncoder

LENGTHS = (256, 1024, 4096)
WIDTH, HEADS, GROUP, LATENTS = 64, 4, 64, 2


def models(seq_len: int, device: torch.device) -> dict[str, torch.nn.Module]:
    """The FIT encoder and the full-attention encoder for sequences of ``seq_len``."""
    common = {"d_model": WIDTH, "n_heads": HEADS}
    return {
        "full": FITEncoder(group_size=seq_len, latents_per_group=0, pattern="LLLLLL", **common).to(device),
        "fit": FITEncoder(group_size=GROUP, latents_per_group=LATENTS, pattern="LLGLLG", **common).to(device),
    }


def slope(values: list[float]) -> float:
    """Slope of log value against log length over ``LENGTHS``, first to last."""
    return math.log(values[-1] / values[0]) / math.log(LENGTHS[-1] / LENGTHS[0])


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory, ratios and growth."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=5)
    args = parser.parse_args(argv)
    device = bench_setup(
        args,
        f"forward+backward, batch 1, width {WIDTH}, 6 layers, median of {args.rounds} interleaved rounds; "
        "ratios: FIT / full attention",
    )
    print(compare_header("length", "encoder", (8, 8)))
    results: dict[str, list[tuple[float, int]]] = {"full": [], "fit": []}
    for t in LENGTHS:
        x = torch.randn(1, t, WIDTH, device=device, requires_grad=True)
        grad = torch.randn(1, t, WIDTH, device=device)
        works = {name: partial(backward_pass, m, x, grad) for name, m in models(t, device).items()}
        for name, res in compare(works, "full", device, args.rounds, label=str(t), widths=(8, 8)).items():
            results[name].append(res)
    for name, res in results.items():
        time_slope = slope([r[0] for r in res])
        mem_slope = slope([float(r[1]) for r in res])
        print(f"growth {name:>5}: time ~ T^{time_slope:.2f}, peak memory ~ T^{mem_slope:.2f} (256 to 4096)")


if __name__ == "__main__":
    main()
