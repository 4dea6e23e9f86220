"""Masked training (a lottery ticket) vs plain dense training of the same model.

LeNet-300-100 on MNIST-shaped inputs, batch 60, Adam (the paper's setting) and SGD with momentum.
The masked step is what ``iterative_magnitude_pruning`` runs every step: forward, backward,
``g <- m ⊙ g``, optimizer step, ``theta <- m ⊙ theta`` (its ``MaskEnforcer`` callback); masks at ~21%
density (7 rounds at 20%, output layer at 10%). The dense step is the same loop without the callback.
The masks add one weight-sized tensor and two elementwise multiplies per step; with Adam on a CPU the
optimizer step itself also gets slower, because the second moment of every pruned weight is exactly
zero and the CPU square root in PyTorch is markedly slower on zeros.

Prints time per step, peak memory and masked / dense ratios; then the temporaries of one pruning
round (a ``topk`` over the surviving weights of each pool, once per round). Time: the median over ``--repeats`` runs of
``--steps`` steps, dense and masked runs interleaved so that a drift in machine load affects both alike;
process CPU time on CPU, wall time on CUDA. Memory: ``peak_memory`` from ``paperzoo.bench`` of
building the model, optimizer and masks, then 5 training steps (the peak of tensor memory allocated,
from the CUDA allocator or the CPU profiler).

    registry bench lottery_ticket [--steps 200] [--repeats 3] [--device cpu]

(equivalently ``python -m paperzoo_lottery_ticket.bench``)
"""

from __future__ import annotations

import argparse
import statistics
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from paperzoo.bench import peak_memory, seconds
from paperzoo.builtins.layers import MLP
from torch import nn

from paperzoo_lottery_ticket.masks import magnitude_prune, pools, prunable_weights
from paperzoo_lottery_ticket.trainer import MaskEnforcer


def ticket_masks(device: torch.device) -> list[torch.Tensor]:
    """Masks of a LeNet-300-100 after 7 layer-wise rounds (20%, output layer 10%) of its own weights."""
    torch.manual_seed(0)
    found = prunable_weights(MLP(784, 10, hidden=[300, 100]).to(device))
    params = [p.param for p in found]
    groups, rates = pools([p.kind for p in found], "layerwise", 0.2, 0.1, None)
    masks = [torch.ones_like(p, dtype=torch.bool) for p in params]
    for _ in range(7):
        masks = magnitude_prune(params, masks, groups, rates)
    return masks


Batches = list[tuple[torch.Tensor, torch.Tensor]]


def build(
    masks: list[torch.Tensor] | None, device: torch.device, optimizer: str = "adam"
) -> tuple[nn.Module, torch.optim.Optimizer, SimpleNamespace | None]:
    """Model, optimizer and (when masked) a trainer-shaped holder of the 0/1 masks the callback uses."""
    torch.manual_seed(0)
    model = MLP(784, 10, hidden=[300, 100]).to(device)
    if optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=1.2e-3)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    holder = None
    if masks is not None:
        params = [p.param for p in prunable_weights(model)]
        holder = SimpleNamespace(
            pruned_params=params,
            mask_values=[m.to(p.dtype) for m, p in zip(masks, params)],
            maybe_capture_rewind_point=lambda: None,
        )
        with torch.no_grad():
            torch._foreach_mul_(params, holder.mask_values)
    return model, opt, holder


def train_steps(
    model: nn.Module, opt: torch.optim.Optimizer, holder: SimpleNamespace | None, batches: Batches, n: int
) -> None:
    enforcer = MaskEnforcer()
    for i in range(n):
        x, y = batches[i % len(batches)]
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        if holder is not None:
            enforcer.after_backward(holder)
        opt.step()
        if holder is not None:
            enforcer.on_step_end(holder, 0.0)


def time_per_step(
    masks: list[torch.Tensor] | None,
    device: torch.device,
    batches: Batches,
    steps: int,
    repeats: int,
    optimizer: str,
) -> float:
    model, opt, holder = build(masks, device, optimizer)
    train_steps(model, opt, holder, batches, 20)  # warm-up

    def run() -> None:
        train_steps(model, opt, holder, batches, steps)

    times = [seconds(run, device) / steps for _ in range(repeats)]
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    g = torch.Generator().manual_seed(0)
    batches = [
        (torch.rand(60, 784, generator=g).to(device), torch.randint(10, (60,), generator=g).to(device))
        for _ in range(10)
    ]

    masks = ticket_masks(device)
    kept, total = sum(int(m.sum()) for m in masks), sum(m.numel() for m in masks)
    print(f"LeNet-300-100, batch 60, {device}; masks keep {kept}/{total} weights ({kept / total:.1%})")
    print(f"{'':14s}{'step (ms)':>12s}{'peak memory (MiB)':>20s}")
    for optimizer in ("adam", "sgd"):
        dense_t = masked_t = 0.0
        for _ in range(2):  # interleave so that drifting machine load hits both alike
            dense_t += time_per_step(None, device, batches, args.steps, args.repeats, optimizer) / 2
            masked_t += time_per_step(masks, device, batches, args.steps, args.repeats, optimizer) / 2
        # build model + optimizer (+ masks), then 5 training steps
        dense_m = peak_memory(lambda o=optimizer: train_steps(*build(None, device, o), batches, 5), device)
        masked_m = peak_memory(lambda o=optimizer: train_steps(*build(masks, device, o), batches, 5), device)
        print(f"{'dense ' + optimizer:14s}{dense_t * 1e3:12.3f}{dense_m / 2**20:20.2f}")
        print(f"{'masked ' + optimizer:14s}{masked_t * 1e3:12.3f}{masked_m / 2**20:20.2f}")
        print(
            f"ratio masked/dense ({optimizer}): step time {masked_t / dense_t:.3f}x, "
            f"peak memory {masked_m / dense_m:.3f}x"
        )
    # once per round, not per step: ranking the surviving magnitudes of every pool
    torch.manual_seed(0)
    found = prunable_weights(MLP(784, 10, hidden=[300, 100]).to(device))
    params, ones = [p.param for p in found], [torch.ones_like(p.param, dtype=torch.bool) for p in found]
    groups, rates = pools([p.kind for p in found], "layerwise", 0.2, 0.1, None)
    prune_m = peak_memory(lambda: magnitude_prune(params, ones, groups, rates), device)
    print(f"pruning one round (once per round, not per step): {prune_m / 2**20:.2f} MiB of temporaries")


if __name__ == "__main__":
    main()
