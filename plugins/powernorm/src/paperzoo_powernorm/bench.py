"""PowerNorm against nn.LayerNorm (and nn.BatchNorm1d) on transformer-shaped (batch, tokens, features) inputs.

Prints the wall time of one forward+backward pass of each norm, in training and in eval mode, and its
ratio to LayerNorm's; and the peak memory of one pass and its ratio to LayerNorm's. Shapes: the
claim test's (16, 48, 64) (its GPT-2's norms, ``group_num=4``) and (32, 256, 512) (``group_num=8``, a
64-wide head). Time is the median over ``--rounds`` interleaved rounds (one pass of every norm per
round, so that a change of machine load affects all alike) of ``time.perf_counter`` around the pass,
with ``--threads`` intra-op threads (default 2); memory is ``paperzoo.bench.peak_memory`` of one pass
(output, activations saved for backward, gradients and temporaries; the input and the output
gradient are made before). Training mode is after the warm-up (``warmup_iters=0``: the running
statistic normalises, the backward correction is active); eval mode normalises by the stored ``psi``.

``--clock cpu`` times this process's CPU time instead (with one thread, the wall time of an idle
machine, and steadier on a loaded one).

Run: ``registry bench powernorm [--threads 2] [--rounds 40] [--clock wall] [--profile]`` (equivalently
``python -m paperzoo_powernorm.bench ...``). ``--profile`` adds the operators PowerNorm spends its time
in at the larger shape (``torch.profiler``, self CPU time).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial

import torch
from paperzoo.bench import backward_pass, compare, compare_header
from torch import nn

from paperzoo_powernorm.power_norm import PowerNorm

SHAPES = [((16, 48, 64), 4), ((32, 256, 512), 8)]  # (B, T, C), group_num


class TokenBatchNorm(nn.Module):
    """nn.BatchNorm1d over the features of (batch, tokens, features), statistics over batch and tokens."""

    def __init__(self, features: int):
        super().__init__()
        self.bn = nn.BatchNorm1d(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(x.reshape(-1, x.shape[-1])).reshape(x.shape)


def norms_for(features: int, group_num: int, training: bool) -> dict[str, nn.Module]:
    """The compared norms, LayerNorm first (the baseline of every ratio)."""
    norms = {
        "LayerNorm": nn.LayerNorm(features),
        "BatchNorm1d": TokenBatchNorm(features),
        f"PowerNorm(group_num={group_num})": PowerNorm(features, warmup_iters=0, group_num=group_num),
        "PowerNorm(group_num=None)": PowerNorm(features, warmup_iters=0, group_num=None),
    }
    return {name: norm.train(training) for name, norm in norms.items()}


def measure(
    shape: tuple[int, int, int],
    group_num: int,
    training: bool,
    device: torch.device,
    rounds: int,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, tuple[float, int]]:
    """Median seconds (of ``clock``) and peak bytes of one forward+backward pass of each norm, printed
    with the ratios to LayerNorm."""
    x = torch.randn(shape, device=device, requires_grad=True)
    grad = torch.randn_like(x)
    works: dict[str, Callable[[], None]] = {
        name: partial(backward_pass, norm.to(device), x, grad)
        for name, norm in norms_for(shape[-1], group_num, training).items()
    }
    label = f"{str(shape):>16} {'train' if training else 'eval':>5}"
    return compare(works, "LayerNorm", device, rounds, clock, warmup=3, label=label, widths=(22, 26))


def profile(shape: tuple[int, int, int], group_num: int, device: torch.device) -> None:
    """Print the operators of PowerNorm's training forward+backward, by self CPU time."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    x = torch.randn(shape, device=device, requires_grad=True)
    grad = torch.randn_like(x)
    for name, norm in [
        ("LayerNorm", nn.LayerNorm(shape[-1])),
        (f"PowerNorm(group_num={group_num})", PowerNorm(shape[-1], warmup_iters=0, group_num=group_num)),
    ]:
        work = partial(backward_pass, norm.to(device).train(), x, grad)
        for _ in range(3):
            work()
        with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(10):
                work()
        print(f"\n{name} {shape}, 10 forward+backward passes:")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=14))


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=2, help="intra-op CPU threads (default 2)")
    parser.add_argument("--rounds", type=int, default=40, help="interleaved timed rounds (default 40)")
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="wall time (default) or this process's CPU time (steadier on a loaded machine, one thread)",
    )
    parser.add_argument("--profile", action="store_true", help="also print PowerNorm's operators")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    print(
        f"device={device}, threads={torch.get_num_threads()}, torch={torch.__version__}; {args.clock} time of one "
        f"forward+backward pass, median of {args.rounds} interleaved rounds"
    )
    print("ratios are to nn.LayerNorm; memory is the peak of one forward+backward pass")
    print(compare_header(f"{'shape (B, T, C)':>16} {'mode':>5}", "norm", (22, 26)))
    for shape, group_num in SHAPES:
        for training in (True, False):
            measure(shape, group_num, training, device, args.rounds, clock)
    if args.profile:
        profile(*SHAPES[-1], device)


if __name__ == "__main__":
    main()
