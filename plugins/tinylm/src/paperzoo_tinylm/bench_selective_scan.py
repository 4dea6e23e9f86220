"""The parallel selective scan against the sequential (time-loop) reference: one forward+backward pass.

Prints, per sequence length (256, 1024, 4096), the median time of a forward+backward pass of the scan
over ``--rounds`` interleaved rounds and its peak memory (``paperzoo.bench.peak_memory``), for the
whole-sequence associative scan, a chunked one (``--chunk``) and the time loop, with ratios to the loop.
Sizes: batch 2, 64 channels, state 16 (a small Mamba layer: ``d_inner`` 64, ``d_state`` 16).

Run: ``python -m paperzoo_tinylm.bench_selective_scan [--threads 2] [--rounds 5] [--lengths 256 1024]``.
"""

from __future__ import annotations

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header

from paperzoo_tinylm.selective_scan import selective_scan, selective_scan_ref


def _work(scan, inputs: dict[str, torch.Tensor], **kw):
    def run() -> None:
        leaves = {k: v.detach().requires_grad_(True) for k, v in inputs.items()}
        scan(**leaves, delta_softplus=True, **kw).pow(2).mean().backward()

    return run


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=5)
    parser.add_argument("--lengths", type=int, nargs="+", default=[256, 1024, 4096])
    parser.add_argument("--chunk", type=int, default=64)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--state", type=int, default=16)
    args = parser.parse_args(argv)
    device = bench_setup(
        args,
        f"forward+backward of the selective scan, median of {args.rounds} interleaved rounds; ratios are "
        "parallel / sequential",
    )
    print(compare_header(f"{'length':>8}", "scan", (8, 12)))
    b, d, n = args.batch, args.channels, args.state
    for length in args.lengths:
        inputs = {
            "u": torch.randn(b, d, length, device=device),
            "delta": torch.randn(b, d, length, device=device),
            "A": -torch.rand(d, n, device=device) * n,
            "B": torch.randn(b, n, length, device=device),
            "C": torch.randn(b, n, length, device=device),
            "D": torch.randn(d, device=device),
            "z": torch.randn(b, d, length, device=device),
        }
        works = {
            "sequential": _work(selective_scan_ref, inputs),
            "parallel": _work(selective_scan, inputs),
            f"chunked{args.chunk}": _work(selective_scan, inputs, chunk_size=args.chunk),
        }
        compare(works, "sequential", device, args.rounds, label=f"{length:>8}", widths=(8, 12))


if __name__ == "__main__":
    main()
