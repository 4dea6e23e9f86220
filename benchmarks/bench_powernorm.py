"""PowerNorm against nn.LayerNorm and nn.BatchNorm1d on transformer-shaped (batch, tokens, features) inputs.

Prints forward+backward time and activation memory (bytes saved for backward; peak allocated memory on
CUDA) of each norm as a ratio to LayerNorm. Run: ``python benchmarks/bench_powernorm.py``.
"""

from __future__ import annotations

import statistics
import time

import torch
from paperzoo_powernorm.power_norm import PowerNorm
from torch import nn

SHAPES = [(32, 128, 256), (16, 256, 512), (8, 128, 1024)]


class TokenBatchNorm(nn.Module):
    """nn.BatchNorm1d over the features of (batch, tokens, features), statistics over batch and tokens."""

    def __init__(self, features: int):
        super().__init__()
        self.bn = nn.BatchNorm1d(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(x.reshape(-1, x.shape[-1])).reshape(x.shape)


def _step(norm: nn.Module, x: torch.Tensor, grad: torch.Tensor) -> None:
    norm(x).backward(grad)


def time_fwd_bwd(norm: nn.Module, x: torch.Tensor, reps: int) -> float:
    grad = torch.randn_like(x)
    for _ in range(3):
        _step(norm, x, grad)
    times = []
    for _ in range(reps):
        if x.is_cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        _step(norm, x, grad)
        if x.is_cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def saved_bytes(norm: nn.Module, x: torch.Tensor) -> int:
    """Bytes of the distinct tensors autograd keeps for the backward pass."""
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = norm(x)
    out.sum().backward()
    return sum(seen.values())


def peak_cuda_bytes(norm: nn.Module, x: torch.Tensor) -> int:
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    norm(x).sum().backward()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() - base


def main() -> None:
    torch.manual_seed(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cpu":
        torch.set_num_threads(1)
    reps = 50 if device.type == "cuda" else 10
    memory = peak_cuda_bytes if device.type == "cuda" else saved_bytes
    memory_name = "peak memory" if device.type == "cuda" else "bytes saved for backward (input included)"
    print(f"device={device}, torch={torch.__version__}; times are medians of {reps} forward+backward passes")
    print(f"ratios are to nn.LayerNorm; memory is {memory_name}")
    print(f"{'shape (B, T, C)':>18} {'norm':>22} {'ms':>8} {'time ratio':>10} {'MiB':>8} {'mem ratio':>9}")
    for shape in SHAPES:
        x = torch.randn(shape, device=device, requires_grad=True)
        c = shape[-1]
        norms = {
            "LayerNorm": nn.LayerNorm(c),
            "BatchNorm1d": TokenBatchNorm(c),
            "PowerNorm": PowerNorm(c, warmup_iters=0),
            "PowerNorm(group_num=None)": PowerNorm(c, warmup_iters=0, group_num=None),
        }
        results = {}
        for name, norm in norms.items():
            norm = norm.to(device).train()
            results[name] = (time_fwd_bwd(norm, x, reps), memory(norm, x))
        ln_time, ln_mem = results["LayerNorm"]
        for name, (seconds, mem) in results.items():
            print(
                f"{str(shape):>18} {name:>22} {seconds * 1e3:8.3f} {seconds / ln_time:10.2f} "
                f"{mem / 2**20:8.2f} {mem / max(ln_mem, 1):9.2f}"
            )


if __name__ == "__main__":
    main()
