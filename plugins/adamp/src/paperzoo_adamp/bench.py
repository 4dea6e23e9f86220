"""Step time and peak memory of paperzoo's AdamP/SGDP against the official PyPI ``adamp`` (0.3.0) and
torch's fused Adam/SGD.

Two model shapes:

* ``conv``: a VGG-style network of 3x3 convolutions, each followed by BatchNorm (9.4M parameters in
  30 tensors; every conv weight is scale-invariant, so the projection path is exercised), with a
  linear head;
* ``linear``: a stack of 10 x (Linear 1024 -> 1024 + LayerNorm) (10.5M parameters in 40 tensors; the
  weights are not scale-invariant, so only the cosine test runs, and every update is plain).

Every optimizer gets its own copy of the same model with the same gradients (one backward pass, then
two warm-up steps that allocate the optimizer state). The baseline of AdamP is
``torch.optim.Adam(fused=True)``, that of SGDP ``torch.optim.SGD(momentum=0.9, fused=True)``: the
same moment updates without the projection, in one fused kernel. Measured with ``paperzoo.bench``:

* time: wall time (``time.perf_counter``) of ``optimizer.step()``, the median of ``--rounds`` rounds
  in which every optimizer steps once in turn (interleaved, so that a change of load on the machine
  affects all alike), with ``--threads`` intra-op threads;
* memory: ``peak_memory`` of one step, i.e. the peak of tensor memory the step allocates beyond
  parameters, gradients and optimizer state: its temporaries.

Printed as ratios ours / baseline (below 1 means ours is faster or smaller).

Run: ``registry bench adamp [--threads 2] [--rounds 21] [--shapes conv linear]`` (equivalently
``python -m paperzoo_adamp.bench ...``). The reference, PyPI ``adamp``, comes with the plugin's
``test`` extra (``pip install 'paperzoo-adamp[test]'``); it is imported only when the benchmark runs.
"""

from __future__ import annotations

import argparse
import copy
import time
from collections.abc import Callable, Iterable

import torch
from paperzoo.bench import interleaved_medians, peak_memory
from torch import nn

SETTINGS = {
    "adamp": dict(lr=1e-3, weight_decay=1e-2),
    "sgdp": dict(lr=0.1, momentum=0.9, weight_decay=1e-4),
}


def conv_net(width: int = 64) -> tuple[nn.Module, torch.Tensor]:
    """Conv-BN-ReLU blocks: 2 at each of widths w, 2w, 4w, 8w, then 2 more at 8w (~9.4M params at
    w=64), and its input batch."""
    layers: list[nn.Module] = []
    cin = 3
    for cout in [width, width, 2 * width, 2 * width, 4 * width, 4 * width] + [8 * width] * 4:
        layers += [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 10)]
    return nn.Sequential(*layers), torch.randn(8, 3, 8, 8)


def linear_stack(width: int = 1024, depth: int = 10) -> tuple[nn.Module, torch.Tensor]:
    """``depth`` x (Linear(width, width) + LayerNorm(width)) (10.5M params), and its input batch."""
    layers: list[nn.Module] = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), nn.LayerNorm(width)]
    return nn.Sequential(*layers), torch.randn(8, width)


SHAPES: dict[str, Callable[[], tuple[nn.Module, torch.Tensor]]] = {"conv": conv_net, "linear": linear_stack}


def make_optimizer(impl: str, name: str, params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
    """``impl``: "ours", "official" (PyPI adamp) or "torch" (fused Adam / SGD, no projection)."""
    kwargs = SETTINGS[name]
    if impl == "torch":
        if name == "adamp":
            return torch.optim.AdamW(params, fused=True, **kwargs)
        return torch.optim.SGD(params, fused=True, **kwargs)
    if impl == "ours":
        from paperzoo_adamp.adamp import AdamP
        from paperzoo_adamp.sgdp import SGDP
    else:
        from adamp import SGDP, AdamP
    return {"adamp": AdamP, "sgdp": SGDP}[name](params, **kwargs)


def ready_optimizers(shape: str, name: str, impls: Iterable[str]) -> dict[str, torch.optim.Optimizer]:
    """One model copy per implementation, with the same gradients, and optimizers whose state is
    already allocated."""
    torch.manual_seed(0)
    model, x = SHAPES[shape]()
    out = model(x)
    loss = nn.functional.cross_entropy(out, torch.arange(len(x)) % out.shape[1])
    loss.backward()
    opts = {}
    for impl in impls:
        copy_ = copy.deepcopy(model)
        for p, q in zip(model.parameters(), copy_.parameters()):
            q.grad = p.grad.clone()
        opts[impl] = make_optimizer(impl, name, copy_.parameters())
        for _ in range(2):
            opts[impl].step()
    return opts


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=21, help="interleaved rounds (the median counts)")
    parser.add_argument("--shapes", nargs="+", choices=list(SHAPES), default=list(SHAPES))
    parser.add_argument("--optimizers", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device("cpu")
    print(f"cpu, threads={args.threads}, wall time per step, median of {args.rounds} interleaved rounds")
    impls = ("ours", "official", "torch")
    for shape in args.shapes:
        for name in args.optimizers:
            opts = ready_optimizers(shape, name, impls)
            n_params = sum(p.numel() for g in opts["ours"].param_groups for p in g["params"])
            t = interleaved_medians(
                {k: o.step for k, o in opts.items()}, device, args.rounds, clock=time.perf_counter
            )
            m = {k: peak_memory(o.step, device) for k, o in opts.items()}
            base = "AdamW fused" if name == "adamp" else "SGD fused"
            print(
                f"{shape} ({n_params / 1e6:.1f}M params) {name}: step ours {t['ours'] * 1e3:.1f} ms, "
                f"adamp 0.3.0 {t['official'] * 1e3:.1f} ms, {base} {t['torch'] * 1e3:.1f} ms | peak "
                f"memory of a step ours {m['ours'] / 2**20:.1f} MiB, adamp {m['official'] / 2**20:.1f} MiB, "
                f"{base} {m['torch'] / 2**20:.1f} MiB"
            )
            print(
                f"  ratio ours/adamp: time {t['ours'] / t['official']:.2f}, memory "
                f"{memory_ratio(m['ours'], m['official'])} | ratio ours/{base.replace(' ', '-')}: "
                f"time {t['ours'] / t['torch']:.2f}, memory {memory_ratio(m['ours'], m['torch'])}"
            )


def memory_ratio(ours: int, base: int) -> str:
    """``ours / base`` as text; a fused step allocates (almost) no temporaries, so no ratio then."""
    return f"{ours / base:.2f}" if base >= 2**20 else f"n/a ({ours / 2**20:.1f} MiB vs {base} bytes)"


if __name__ == "__main__":
    main()
