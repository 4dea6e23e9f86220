"""Speed and peak memory: ``ba_layer_norm`` against ``torch.nn.LayerNorm``, and the LN-LSTM (and its
plain path, ``layer_norm=False``) against ``torch.nn.LSTM``, one forward+backward pass each.

Time: the median over ``--rounds`` interleaved rounds (one pass of every method per round, so that a
change of machine load affects all alike) of this process's CPU time around the pass (``--clock
cpu``, the default: with one thread, the wall time of an idle machine, and steadier on a loaded one)
or of ``time.perf_counter`` (``--clock wall``, e.g. with several threads or on a GPU), with
``--threads`` intra-op threads (default 1). Memory: ``paperzoo.bench.peak_memory`` of one pass
(activations saved for backward, gradients and temporaries; the input and the output gradient are
made before). Printed as ratios ours / torch.

Run: ``registry bench layernorm [--threads 1] [--rounds 15] [--clock cpu] [--device cpu]`` (equivalently
``python -m paperzoo_layernorm.bench ...``).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial

import torch
from paperzoo.bench import backward_pass, interleaved_medians, peak_memory
from torch import nn

from paperzoo_layernorm.layer_norm import BaLayerNorm
from paperzoo_layernorm.ln_lstm import LNLSTM

NORM_SHAPES = [(16, 48, 64), (32, 256, 512)]  # (batch, tokens, features)
LSTM_SHAPES = [(32, 40, 2, 32), (64, 100, 128, 256)]  # (batch, time, input, hidden)


class TorchLSTM(nn.Module):
    """``torch.nn.LSTM`` returning only its outputs (batch first)."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lstm(x)[0]


def compare(
    modules: dict[str, nn.Module],
    shape: tuple[int, ...],
    out_shape: tuple[int, ...],
    device: torch.device,
    rounds: int,
    clock: Callable[[], float],
) -> dict[str, tuple[float, int]]:
    """Median seconds and peak bytes of one forward+backward pass of each module (first: baseline)."""
    x = torch.randn(shape, device=device, requires_grad=True)
    grad = torch.randn(out_shape, device=device)
    works: dict[str, Callable[[], None]] = {
        n: partial(backward_pass, m.to(device), x, grad) for n, m in modules.items()
    }
    times = interleaved_medians(works, device, rounds, clock=clock)
    return {name: (times[name], peak_memory(work, device)) for name, work in works.items()}


def report(title: str, results: dict[str, tuple[float, int]]) -> None:
    base_name, (base_time, base_mem) = next(iter(results.items()))
    print(title)
    for name, (seconds, mem) in results.items():
        print(
            f"  {name:<28} {seconds * 1e3:9.2f} ms  time x{seconds / base_time:5.2f}"
            f"  peak {mem / 2**20:8.2f} MiB  memory x{mem / max(base_mem, 1):5.2f}  (vs {base_name})"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    args = parser.parse_args(argv)
    clock = time.process_time if args.clock == "cpu" and args.device == "cpu" else time.perf_counter
    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    clock_name = "process CPU time" if clock is time.process_time else "wall time"
    print(
        f"device={device}, threads={args.threads}, {clock_name}, torch={torch.__version__}, fwd+bwd, float32"
    )
    for b, t, c in NORM_SHAPES:
        modules = {"torch.nn.LayerNorm": nn.LayerNorm(c), "ba_layer_norm": BaLayerNorm(c)}
        report(
            f"norm, input ({b}, {t}, {c})", compare(modules, (b, t, c), (b, t, c), device, args.rounds, clock)
        )
    for b, t, i, h in LSTM_SHAPES:
        modules = {
            "torch.nn.LSTM": TorchLSTM(i, h),
            "ln_lstm (layer_norm=False)": LNLSTM(i, h, layer_norm=False),
            "ln_lstm": LNLSTM(i, h),
        }
        rounds = max(3, args.rounds // 3)
        title = f"LSTM, batch {b}, {t} steps, input {i}, hidden {h}"
        report(title, compare(modules, (b, t, i), (b, t, h), device, rounds, clock))


if __name__ == "__main__":
    main()
