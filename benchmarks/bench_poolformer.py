"""PoolFormer-S12: our implementation against timm's, forward + backward time and activation memory.

    python benchmarks/bench_poolformer.py [--batch 8] [--size 224] [--repeats 10] [--threads 1] [--device cpu]

Both models are built without weights. Times are the median over ``repeats`` interleaved runs of
one forward and backward pass (one warm-up run each first). Memory is the size of the tensors that
autograd saves for the backward pass (counted with ``saved_tensors_hooks``, the same on every
device), plus the peak allocated memory on CUDA. Ratios are ours / timm's (below 1 means ours is
faster or smaller).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from paperzoo.compat import import_timm
from paperzoo_poolformer.variants import poolformer_s12


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def step_time(model: torch.nn.Module, x: torch.Tensor) -> float:
    _sync(x.device)
    start = time.perf_counter()
    model(x).sum().backward()
    _sync(x.device)
    model.zero_grad(set_to_none=True)
    return time.perf_counter() - start


def saved_bytes(model: torch.nn.Module, x: torch.Tensor) -> int:
    total = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal total
        total += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = model(x).sum()
    out.backward()
    model.zero_grad(set_to_none=True)
    return total


def cuda_peak(model: torch.nn.Module, x: torch.Tensor) -> int:
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    model(x).sum().backward()
    model.zero_grad(set_to_none=True)
    return torch.cuda.max_memory_allocated()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    torch.manual_seed(0)
    ref = import_timm().create_model("poolformer_s12", pretrained=False).to(device)
    ours = poolformer_s12().to(device)
    ours.load_state_dict(ref.state_dict())
    models = {"ours": ours, "timm": ref}
    x = torch.randn(args.batch, 3, args.size, args.size, device=device)

    times: dict[str, list[float]] = {name: [] for name in models}
    for model in models.values():
        step_time(model, x)  # warm-up
    for _ in range(args.repeats):
        for name, model in models.items():
            times[name].append(step_time(model, x))
    median = {name: statistics.median(t) for name, t in times.items()}
    saved = {name: saved_bytes(model, x) for name, model in models.items()}

    print(
        f"PoolFormer-S12 forward+backward, batch {args.batch}, {args.size}x{args.size}, {device}, "
        f"{args.threads} thread(s), median of {args.repeats}"
    )
    for name in models:
        print(f"  {name:5s} {median[name] * 1e3:9.1f} ms   saved activations {saved[name] / 2**20:8.1f} MiB")
    print(f"  time ratio (ours / timm):             {median['ours'] / median['timm']:.3f}")
    print(f"  saved-activation ratio (ours / timm): {saved['ours'] / saved['timm']:.3f}")
    if device.type == "cuda":
        peak = {name: cuda_peak(model, x) for name, model in models.items()}
        print(f"  CUDA peak memory ratio (ours / timm): {peak['ours'] / peak['timm']:.3f}")


if __name__ == "__main__":
    main()
