"""PowerNorm against nn.LayerNorm and nn.BatchNorm1d on transformer-shaped (batch, tokens, features) inputs.

Prints forward+backward time and peak memory of each norm, and their ratios to LayerNorm, measured
with ``paperzoo.bench``: time is ``best_time`` (the best of ``--reps`` passes after a warm-up pass;
process CPU time on CPU, wall time on CUDA), memory is ``peak_memory`` of one pass (the peak of
tensor memory it allocates: output, activations saved for backward, gradients and temporaries; the
input and the output gradient are made before).

Run: ``registry bench powernorm [--device cpu] [--reps 10]`` (equivalently
``python -m paperzoo_powernorm.bench ...``).
"""

from __future__ import annotations

import argparse
from functools import partial

import torch
from paperzoo.bench import best_time, peak_memory
from torch import nn

from paperzoo_powernorm.power_norm import PowerNorm

SHAPES = [(32, 128, 256), (16, 256, 512), (8, 128, 1024)]


class TokenBatchNorm(nn.Module):
    """nn.BatchNorm1d over the features of (batch, tokens, features), statistics over batch and tokens."""

    def __init__(self, features: int):
        super().__init__()
        self.bn = nn.BatchNorm1d(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(x.reshape(-1, x.shape[-1])).reshape(x.shape)


def step(norm: nn.Module, x: torch.Tensor, grad: torch.Tensor) -> None:
    """One forward and backward pass; the gradients are released afterwards."""
    norm(x).backward(grad)
    x.grad = None
    norm.zero_grad(set_to_none=True)


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--reps", type=int, default=None, help="timed passes (default 50 on CUDA, 10 on CPU)")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    device = torch.device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(1)
    reps = args.reps or (50 if device.type == "cuda" else 10)
    print(f"device={device}, torch={torch.__version__}; times are the best of {reps} forward+backward passes")
    print("ratios are to nn.LayerNorm; memory is the peak of one forward+backward pass")
    print(f"{'shape (B, T, C)':>18} {'norm':>26} {'ms':>8} {'time ratio':>10} {'MiB':>8} {'mem ratio':>9}")
    for shape in SHAPES:
        x = torch.randn(shape, device=device, requires_grad=True)
        grad = torch.randn_like(x)
        c = shape[-1]
        norms = {
            "LayerNorm": nn.LayerNorm(c),
            "BatchNorm1d": TokenBatchNorm(c),
            "PowerNorm": PowerNorm(c, warmup_iters=0),
            "PowerNorm(group_num=None)": PowerNorm(c, warmup_iters=0, group_num=None),
        }
        results = {}
        for name, norm in norms.items():
            work = partial(step, norm.to(device).train(), x, grad)
            results[name] = (best_time(work, device, reps), peak_memory(work, device))
        ln_time, ln_mem = results["LayerNorm"]
        for name, (seconds, mem) in results.items():
            print(
                f"{str(shape):>18} {name:>26} {seconds * 1e3:8.3f} {seconds / ln_time:10.2f} "
                f"{mem / 2**20:8.2f} {mem / max(ln_mem, 1):9.2f}"
            )


if __name__ == "__main__":
    main()
