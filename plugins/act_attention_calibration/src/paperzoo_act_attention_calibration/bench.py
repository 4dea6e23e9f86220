"""ACT attention against plain softmax attention: one attention-kernel forward pass (inference).

Prints the median time over ``--rounds`` interleaved rounds and the peak memory
(``paperzoo.bench.peak_memory``) of the tinylm kernels on ``q, k, v`` ``[1, 8, T, 64]`` with a causal
mask, at lengths 256 and 1024: explicit softmax (``eager``, the baseline: ACT needs the probabilities),
the fused kernel (``sdpa``), and ACT calibrating all 8 heads (official beta 0.4, threshold 0.1). Ratios
are to the explicit softmax.

Run: ``registry bench act_attention_calibration [--threads 2] [--rounds 10]`` (or
``python -m paperzoo_act_attention_calibration.bench``).
"""

from __future__ import annotations

from functools import partial

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo_tinylm.attention import AttentionMask, SoftmaxAttention
from paperzoo_tinylm.hooks import HookPoint

from paperzoo_act_attention_calibration.kernel import SinkCalibratedAttention

LENGTHS = (256, 1024)
HEADS, HEAD_DIM = 8, 64


@torch.no_grad()
def forward(kernel: torch.nn.Module, q, k, v, mask, pattern) -> torch.Tensor:
    return kernel(q, k, v, mask, pattern)


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=10)
    parser.add_argument("--lengths", type=int, nargs="+", default=list(LENGTHS))
    args = parser.parse_args(argv)
    device = bench_setup(
        args,
        f"wall time of one attention forward, median of {args.rounds} interleaved rounds; ratios are to "
        "explicit softmax (eager)",
    )
    print(compare_header(f"{'length':>8}", "kernel", (8, 14)))
    kernels = {
        "softmax_eager": SoftmaxAttention(impl="eager"),
        "softmax_sdpa": SoftmaxAttention(impl="sdpa"),
        "act_all_heads": SinkCalibratedAttention(heads=None),
    }
    mask, pattern = AttentionMask(causal=True), HookPoint()
    for t in args.lengths:
        q, k, v = (torch.randn(1, HEADS, t, HEAD_DIM, device=device) for _ in range(3))
        works = {name: partial(forward, m.to(device), q, k, v, mask, pattern) for name, m in kernels.items()}
        compare(works, "softmax_eager", device, args.rounds, warmup=1, label=f"{t:>8}", widths=(8, 14))


if __name__ == "__main__":
    main()
