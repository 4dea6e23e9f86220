"""GraNd scores: vectorised per-example gradients (torch.func vmap of grad) against the obvious
baseline, one autograd backward pass per example.

Prints wall time and peak memory of each, and their ratios. Peak memory is the growth of the
process's peak resident set size (each measurement runs in a fresh process) on CPU, and
``torch.cuda.max_memory_allocated`` on a GPU.

    python benchmarks/bench_data_diet.py
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import time

import torch
from torch import nn

N = 2048
CHUNKS = (64, 256)
MODELS = {
    "mlp 64-256-256-10": lambda: nn.Sequential(
        nn.Flatten(), nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)
    ),
    "cnn 2x conv16 + bn": lambda: nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.Conv2d(16, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(16 * 8 * 8, 10),
    ),
}


def loop_grand(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """One backward pass per example (model in eval mode)."""
    params = [p for p in model.parameters() if p.requires_grad]
    out = torch.empty(len(x))
    for i in range(len(x)):
        loss = nn.functional.cross_entropy(model(x[i : i + 1]), y[i : i + 1])
        grads = torch.autograd.grad(loss, params)
        out[i] = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
    return out


def measure(name: str, method: str, chunk: int, device: str, queue: mp.Queue) -> None:
    from paperzoo_data_diet.scores import grand_scores
    from torch.utils.data import TensorDataset

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = MODELS[name]().to(device).eval()
    x, y = torch.rand(N, 1, 8, 8, device=device), torch.randint(10, (N,), device=device)

    def run(n: int) -> torch.Tensor:
        if method == "vmap":
            return grand_scores(model, TensorDataset(x[:n], y[:n]), chunk)
        return loop_grand(model, x[:n], y[:n])

    run(2)  # warm-up: loads the code paths (and their memory) before the peak is measured
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    scores = run(N)
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    if device == "cuda":
        peak = torch.cuda.max_memory_allocated() - base
    else:
        peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) * 1024
    queue.put((seconds, peak, scores.cpu().tolist()))


def run_in_process(name: str, method: str, chunk: int, device: str) -> tuple[float, int, torch.Tensor]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=measure, args=(name, method, chunk, device, queue))
    proc.start()
    seconds, peak, scores = queue.get()
    proc.join()
    return seconds, peak, torch.tensor(scores)


def main() -> None:
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"GraNd of {N} examples, device {device}, 1 CPU thread")
    print(
        f"{'model':<20} {'chunk':>5} {'loop s':>7} {'vmap s':>7} {'speed-up':>9} {'loop MiB':>9} {'vmap MiB':>9} "
        f"{'mem ratio':>9} {'max rel err':>11}"
    )
    for name in MODELS:
        t_loop, m_loop, s_loop = run_in_process(name, "loop", 1, device)
        for chunk in CHUNKS:
            t_vmap, m_vmap, s_vmap = run_in_process(name, "vmap", chunk, device)
            err = float(((s_vmap - s_loop).abs() / s_loop).max())
            ratio = m_vmap / m_loop if m_loop > 0 else float("inf")
            print(
                f"{name:<20} {chunk:5d} {t_loop:7.3f} {t_vmap:7.3f} {t_loop / t_vmap:8.1f}x {m_loop / 2**20:9.1f} "
                f"{m_vmap / 2**20:9.1f} {ratio:8.1f}x {err:11.1e}"
            )
    print(
        "speed-up = loop time / vmap time; mem ratio = vmap peak / loop peak (growth of the peak while scoring);"
    )
    print("chunk = examples whose per-example gradients vmap holds at once (score_batch_size / batch_size)")


if __name__ == "__main__":
    main()
