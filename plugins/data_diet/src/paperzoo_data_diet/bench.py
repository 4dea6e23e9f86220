"""GraNd scores: vectorised per-example gradients (torch.func vmap of grad) against the obvious
baseline, one autograd backward pass per example.

Prints the time and peak memory of scoring ``--n`` examples each way, and their ratios, measured with
``paperzoo.bench``: time is ``best_time`` (the best of ``--repeats`` runs after a warm-up run;
process CPU time on CPU, wall time on CUDA), memory is ``peak_memory`` of one run (the peak of tensor
memory it allocates, from the CUDA allocator or the CPU profiler; model and inputs are made before).

    registry bench data_diet [--n 2048] [--repeats 3] [--chunks 64 256]

(equivalently ``python -m paperzoo_data_diet.bench``)
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from functools import partial

import torch
from paperzoo.bench import best_time, peak_memory
from torch import nn
from torch.utils.data import TensorDataset

from paperzoo_data_diet.scores import grand_scores

MODELS: dict[str, Callable[[], nn.Module]] = {
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


def measure_scores(
    work: Callable[[], torch.Tensor], device: torch.device, repeats: int
) -> tuple[float, int, torch.Tensor]:
    """Best time (s) of ``repeats`` runs, peak bytes and the scores of ``work()``."""
    return best_time(work, device, repeats), peak_memory(work, device), work().cpu()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2048, help="examples scored")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chunks", type=int, nargs="+", default=[64, 256], help="vmap chunk sizes")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    print(f"GraNd of {args.n} examples, device {device}, 1 CPU thread, best of {args.repeats}")
    print(
        f"{'model':<20} {'chunk':>5} {'loop s':>7} {'vmap s':>7} {'time ratio':>10} {'loop MiB':>9} "
        f"{'vmap MiB':>9} {'mem ratio':>9} {'max rel err':>11}"
    )
    for name, build in MODELS.items():
        torch.manual_seed(0)
        model = build().to(device).eval()
        x, y = torch.rand(args.n, 1, 8, 8, device=device), torch.randint(10, (args.n,), device=device)
        t_loop, m_loop, s_loop = measure_scores(partial(loop_grand, model, x, y), device, args.repeats)
        data = TensorDataset(x, y)
        for chunk in args.chunks:
            t_vmap, m_vmap, s_vmap = measure_scores(
                partial(grand_scores, model, data, chunk), device, args.repeats
            )
            err = float(((s_vmap - s_loop).abs() / s_loop).max())
            print(
                f"{name:<20} {chunk:5d} {t_loop:7.3f} {t_vmap:7.3f} {t_vmap / t_loop:10.3f} "
                f"{m_loop / 2**20:9.2f} {m_vmap / 2**20:9.2f} {m_vmap / m_loop:9.1f} {err:11.1e}"
            )
    print("time ratio = vmap time / loop time; mem ratio = vmap peak / loop peak")
    print("chunk = examples whose per-example gradients vmap holds at once (score_batch_size / batch_size)")


if __name__ == "__main__":
    main()
