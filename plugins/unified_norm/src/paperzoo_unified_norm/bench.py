"""UnifiedNorm against nn.LayerNorm on transformer-shaped (batch, tokens, features) inputs.

Prints the median wall time of one forward+backward pass and its peak memory, with ratios to
LayerNorm's, in training mode (after the warm-up: window smoothing and the smoothed backward active)
and in eval mode (UN is then a per-feature affine map; folded into the next Linear it costs nothing).

Run: ``registry bench unified_norm [--rounds 30] [--threads 2]`` (or ``python -m paperzoo_unified_norm.bench``).
"""

from __future__ import annotations

import argparse
from functools import partial

import torch
from paperzoo.bench import backward_pass, compare, compare_header
from torch import nn

from paperzoo_unified_norm.unified_norm import UnifiedNorm

SHAPES = [(16, 64, 64), (32, 256, 512)]


def norms(features: int, training: bool) -> dict[str, nn.Module]:
    """LayerNorm (the baseline) and UnifiedNorm, both in the given mode."""
    found = {
        "LayerNorm": nn.LayerNorm(features),
        "UnifiedNorm": UnifiedNorm(features, window=4, warmup_iters=0, ratio_warmup=0),
    }
    return {name: norm.train(training) for name, norm in found.items()}


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` and print times, peak memory and the ratios to LayerNorm."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"device={device}, threads={torch.get_num_threads()}, torch={torch.__version__}")
    print(compare_header(f"{'shape (B, T, C)':>16} {'mode':>5}", "norm", (22, 12)))
    for shape in SHAPES:
        x = torch.randn(shape, device=device, requires_grad=True)
        grad = torch.randn_like(x)
        for training in (True, False):
            works = {
                name: partial(backward_pass, norm.to(device), x, grad)
                for name, norm in norms(shape[-1], training).items()
            }
            label = f"{str(shape):>16} {'train' if training else 'eval':>5}"
            compare(works, "LayerNorm", device, args.rounds, warmup=6, label=label, widths=(22, 12))


if __name__ == "__main__":
    main()
