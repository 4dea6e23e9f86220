"""Step time and peak memory of paperzoo's AdamP/SGDP against the official PyPI ``adamp`` (0.3.0).

The model is a VGG-style network of 3x3 convolutions, each followed by BatchNorm (9.4M parameters;
every conv weight is scale-invariant, so the projection path is exercised), with a linear head.
Both implementations get the same model, data and gradients (one backward pass, then two warm-up
steps that allocate the optimizer state). Measured with ``paperzoo.bench``:

* time: ``best_time`` of ``optimizer.step()``, the best of ``--steps`` steps after a warm-up step
  (process CPU time on CPU, wall time on CUDA);
* memory: ``peak_memory`` of one step, i.e. the peak of tensor memory the step allocates beyond
  parameters, gradients and optimizer state (equal for both): its temporaries.

Printed as ratios ours / ``adamp`` (below 1 means ours is faster or smaller).

Run: ``registry bench adamp [--device cuda] [--steps 15] [--threads 1]`` (equivalently
``python -m paperzoo_adamp.bench ...``). The reference, PyPI ``adamp``, comes with the plugin's
``test`` extra (``pip install 'paperzoo-adamp[test]'``); it is imported only when the benchmark runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable

import torch
from paperzoo.bench import best_time, peak_memory
from torch import nn


def build_model(width: int = 64) -> nn.Sequential:
    """Conv-BN-ReLU blocks: 2 at each of widths w, 2w, 4w, 8w, then 2 more at 8w (~9.4M params at w=64)."""
    layers: list[nn.Module] = []
    cin = 3
    for cout in [width, width, 2 * width, 2 * width, 4 * width, 4 * width] + [8 * width] * 4:
        layers += [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 10)]
    return nn.Sequential(*layers)


def make_optimizer(impl: str, name: str, params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
    kwargs = {
        "adamp": dict(lr=1e-3, weight_decay=1e-2),
        "sgdp": dict(lr=0.1, momentum=0.9, weight_decay=1e-4),
    }
    if impl == "ours":
        from paperzoo_adamp.adamp import AdamP
        from paperzoo_adamp.sgdp import SGDP
    else:
        from adamp import SGDP, AdamP
    return {"adamp": AdamP, "sgdp": SGDP}[name](params, **kwargs[name])


def ready_optimizer(impl: str, name: str, device: torch.device) -> tuple[nn.Module, torch.optim.Optimizer]:
    """A model with gradients and an optimizer whose state is already allocated."""
    torch.manual_seed(0)
    model = build_model().to(device)
    x, y = torch.randn(8, 3, 8, 8, device=device), torch.randint(0, 10, (8,), device=device)
    opt = make_optimizer(impl, name, model.parameters())
    nn.functional.cross_entropy(model(x), y).backward()
    for _ in range(2):
        opt.step()
    return model, opt


def measure_step(impl: str, name: str, device: torch.device, steps: int) -> tuple[float, int, int]:
    """Best step time (s), peak bytes of one step, and the number of parameters."""
    model, opt = ready_optimizer(impl, name, device)
    seconds = best_time(opt.step, device, steps)
    peak = peak_memory(opt.step, device)
    return seconds, peak, sum(p.numel() for p in model.parameters())


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=15, help="timed steps (the best one counts)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"device={device} threads={args.threads} best of {args.steps} steps")
    for name in ("adamp", "sgdp"):
        t_ours, m_ours, n_params = measure_step("ours", name, device, args.steps)
        t_ref, m_ref, _ = measure_step("reference", name, device, args.steps)
        print(
            f"{name} ({n_params / 1e6:.1f}M params): step {t_ours * 1e3:.1f} ms vs adamp 0.3.0 "
            f"{t_ref * 1e3:.1f} ms | step peak memory beyond params/grads/state {m_ours / 2**20:.1f} MiB "
            f"vs {m_ref / 2**20:.1f} MiB"
        )
        print(
            f"  ratio ours/adamp ({name}): time {t_ours / t_ref:.2f}, "
            f"peak memory {m_ours / max(m_ref, 1):.2f}"
        )


if __name__ == "__main__":
    main()
