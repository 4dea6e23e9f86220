"""JLCM's quantised Linear against the float ``nn.Linear`` it replaces (inference forward), and the time of
quantising one Linear (k-means init, then joint learning) against round-to-nearest.

The quantised Linear is served as a float weight holding the codebook values (a dequantised lookup, as
the kit's ``FakeQuantLinear``), so its forward is the same matmul.

Run: ``registry bench jlcm [--threads 1] [--rounds 20]``.
"""

from __future__ import annotations

import time

import torch
from paperzoo_compress.bench import linear_benchmark
from paperzoo_compress.quant import fake_quantize
from torch import nn

from paperzoo_jlcm.jlcm import jlcm_quantize_weight


@torch.no_grad()
def jlcm_linear(linear: nn.Linear, bits: int = 3, n_groups: int = 32, steps: int = 0) -> nn.Linear:
    """``linear`` with its weight replaced by its JLCM quantisation (weights alone, no calibration data)."""
    with torch.enable_grad():
        books = jlcm_quantize_weight(linear.weight, bits, n_groups, None, steps)
    linear.weight.copy_(books.weight())
    return linear


def _quantisation_times(features: int) -> None:
    torch.manual_seed(0)
    w = torch.randn(features, features)
    rows = {
        "rtn per-channel": lambda: fake_quantize(w, 3, -1, False),
        "jlcm k-means init": lambda: jlcm_quantize_weight(w, 3, 32, None, 0),
        "jlcm + 50 steps": lambda: jlcm_quantize_weight(w, 3, 32, None, 50),
    }
    times = {}
    for name, fn in rows.items():
        start = time.perf_counter()
        fn()
        times[name] = time.perf_counter() - start
    print(f"\nquantising one {features} x {features} Linear at 3 bits (one run each; ratio: / rtn)")
    for name, t in times.items():
        print(f"{name:>18}  {t * 1e3:9.1f} ms  {t / times['rtn per-channel']:8.1f}")


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    linear_benchmark(__doc__.splitlines()[0], {"jlcm w3 g32": jlcm_linear}, argv)
    _quantisation_times(256)


if __name__ == "__main__":
    main()
