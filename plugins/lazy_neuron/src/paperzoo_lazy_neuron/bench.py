"""The Top-k activation (``lazy_neuron_topk``) against the ReLU it replaces, on MLP activation maps.

For each shape ``(tokens, d_ff)`` and ``k``: the time of one forward+backward pass of the activation
alone (input pre-made, output gradient pre-made) and of the whole MLP sublayer ``down(act(up(x)))``
of width ``d_model = d_ff / 4``, each as the median over ``--rounds`` interleaved rounds (one pass of
every variant per round, so that a change of machine load affects all alike); and the peak memory of
one pass (``paperzoo.bench.peak_memory``: output, saved tensors, gradients, temporaries). Printed as
ratios Top-k / ReLU. The Top-k here is dense arithmetic with a mask (a ``topk`` per token, then a
comparison): it buys sparsity, not speed; a sparse down projection is not implemented.

Run: ``registry bench lazy_neuron [--device cuda] [--rounds 30] [--threads 1]`` (equivalently
``python -m paperzoo_lazy_neuron.bench ...``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from functools import partial

import torch
from paperzoo.bench import backward_pass, interleaved_medians, peak_memory
from torch import nn

from paperzoo_lazy_neuron.topk import LazyNeuronTopK

# (tokens, d_ff, k): the claim test's MLP (32 sequences x 13 tokens, width 128, k 8) and a
# GPT-2-small-like one (8 x 256 tokens, width 3072, k 128 as the paper's ViT-B/16 runs)
SHAPES = [(416, 128, 8), (2048, 3072, 128)]


def mlp(d_ff: int, act: nn.Module, device: torch.device) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(d_ff // 4, d_ff), act, nn.Linear(d_ff, d_ff // 4)).to(device)


def measure(
    tokens: int, d_ff: int, k: int, device: torch.device, rounds: int
) -> dict[str, tuple[float, int]]:
    """Median seconds and peak bytes of one forward+backward pass of each variant."""
    z = torch.randn(tokens, d_ff, device=device, requires_grad=True)
    gz = torch.randn_like(z)
    x = torch.randn(tokens, d_ff // 4, device=device, requires_grad=True)
    gx = torch.randn_like(x)
    works: dict[str, Callable[[], None]] = {
        "ReLU": partial(backward_pass, nn.ReLU(), z, gz),
        f"Top-{k}": partial(backward_pass, LazyNeuronTopK(k=k), z, gz),
        "MLP ReLU": partial(backward_pass, mlp(d_ff, nn.ReLU(), device), x, gx),
        f"MLP Top-{k}": partial(backward_pass, mlp(d_ff, LazyNeuronTopK(k=k), device), x, gx),
    }
    times = interleaved_medians(works, device, rounds, warmup=3)
    return {name: (times[name], peak_memory(work, device)) for name, work in works.items()}


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=1, help="intra-op CPU threads (default 1)")
    parser.add_argument("--rounds", type=int, default=30, help="interleaved timed rounds (default 30)")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    print(
        f"device={device}, threads={torch.get_num_threads()}, torch={torch.__version__}; one forward+backward"
    )
    print(f"pass, median of {args.rounds} interleaved rounds; ratios are Top-k / ReLU")
    print(f"{'tokens x d_ff':>14} {'variant':>12} {'ms':>9} {'time ratio':>10} {'MiB':>8} {'mem ratio':>9}")
    for tokens, d_ff, k in SHAPES:
        results = measure(tokens, d_ff, k, device, args.rounds)
        for name, (secs, mem) in results.items():
            base_time, base_mem = results["MLP ReLU" if name.startswith("MLP") else "ReLU"]
            print(
                f"{f'{tokens} x {d_ff}':>14} {name:>12} {secs * 1e3:9.3f} {secs / base_time:10.2f} "
                f"{mem / 2**20:8.2f} {mem / base_mem:9.2f}"
            )


if __name__ == "__main__":
    main()
