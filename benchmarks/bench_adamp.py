"""Step time and peak memory of paperzoo's AdamP/SGDP against the official PyPI ``adamp`` (0.3.0).

The model is a VGG-style network of 3x3 convolutions, each followed by BatchNorm (9.4M parameters;
every conv weight is scale-invariant, so the projection path is exercised), with a linear head.
Each measurement runs in its own subprocess:

* time: the median wall time of ``optimizer.step()`` over 15 steps, with a fresh backward pass
  (not timed) before each;
* memory: the peak a step needs beyond parameters, gradients and optimizer state (equal for
  both), i.e. its temporaries. On CPU, the high-water mark of the resident set over three steps
  minus the resident set after the first step, with glibc told to return freed blocks at once;
  on CUDA, ``torch.cuda.max_memory_allocated`` minus the allocated memory after the first step.

Run: ``python benchmarks/bench_adamp.py [--device cuda] [--steps 15] [--threads 1]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time


def build_model(width: int = 64):
    """Conv-BN-ReLU blocks: 2 at each of widths w, 2w, 4w, 8w, then 2 more at 8w (~9.4M params at w=64)."""
    from torch import nn

    layers, cin = [], 3
    for cout in [width, width, 2 * width, 2 * width, 4 * width, 4 * width] + [8 * width] * 4:
        layers += [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 10)]
    return nn.Sequential(*layers)


def make_optimizer(impl: str, name: str, params):
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


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def setup(impl: str, name: str, device: str, threads: int):
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = build_model().to(device)
    x, y = torch.randn(8, 3, 8, 8, device=device), torch.randint(0, 10, (8,), device=device)
    opt = make_optimizer(impl, name, model.parameters())

    def backward():
        opt.zero_grad(set_to_none=False)
        torch.nn.functional.cross_entropy(model(x), y).backward()

    return model, opt, backward


def time_worker(impl: str, name: str, device: str, steps: int, threads: int) -> dict:
    """Median wall time of ``opt.step()``, a fresh backward pass before each step (not timed)."""
    import torch

    model, opt, backward = setup(impl, name, device, threads)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    times = []
    for _ in range(steps + 1):
        backward()
        sync()
        start = time.perf_counter()
        opt.step()
        sync()
        times.append(time.perf_counter() - start)
    n_params = sum(p.numel() for p in model.parameters())
    return {"median_s": statistics.median(times[1:]), "params": n_params}


def memory_worker(impl: str, name: str, device: str, steps: int, threads: int) -> dict:
    """Peak memory a step needs beyond parameters, gradients and optimizer state: the high-water
    mark over a few steps (same gradients) minus what is held after the first step."""
    import torch

    model, opt, backward = setup(impl, name, device, threads)
    backward()
    opt.step()  # allocates the optimizer state
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base = rss_bytes()
    for _ in range(3):
        opt.step()
    if device == "cuda":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - base
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base
    return {"peak_bytes": max(peak, 0)}


def run(mode: str, impl: str, name: str, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--worker", mode, impl, name]
    cmd += ["--device", args.device, "--steps", str(args.steps), "--threads", str(args.threads)]
    env = dict(os.environ)
    if mode == "memory":
        # glibc then returns every freed block above 64 KiB to the system at once, so the resident
        # set follows the live tensors and its high-water mark is the peak of the step.
        env.update(MALLOC_MMAP_THRESHOLD_="65536", MALLOC_TRIM_THRESHOLD_="0")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--worker", nargs=3, metavar=("MODE", "IMPL", "NAME"))
    args = parser.parse_args()
    if args.worker:
        mode, impl, name = args.worker
        worker = time_worker if mode == "time" else memory_worker
        print(json.dumps(worker(impl, name, args.device, args.steps, args.threads)))
        return
    print(f"device={args.device} threads={args.threads} steps={args.steps}")
    for name in ("adamp", "sgdp"):
        t_ours, t_ref = (run("time", impl, name, args) for impl in ("ours", "reference"))
        m_ours, m_ref = (run("memory", impl, name, args) for impl in ("ours", "reference"))
        print(
            f"{name} ({t_ours['params'] / 1e6:.1f}M params): step {t_ours['median_s'] * 1e3:.1f} ms "
            f"vs adamp 0.3.0 {t_ref['median_s'] * 1e3:.1f} ms, speedup x{t_ref['median_s'] / t_ours['median_s']:.2f}"
            f" | step peak memory beyond params/grads/state {m_ours['peak_bytes'] / 2**20:.1f} MiB vs "
            f"{m_ref['peak_bytes'] / 2**20:.1f} MiB, ratio ours/ref {m_ours['peak_bytes'] / max(m_ref['peak_bytes'], 1):.2f}"
        )


if __name__ == "__main__":
    main()
