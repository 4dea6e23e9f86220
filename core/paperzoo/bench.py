"""Timing and peak-memory helpers for plugin benchmarks (``from paperzoo.bench import best_time, peak_memory``).

A plugin's benchmark is the module ``paperzoo_<slug>.bench`` with a ``main(argv)``; ``registry bench
<slug>`` runs it where the plugin is installed.

Time: best of ``repeats`` runs after a warm-up (or, to compare methods on a busy machine, the
median of interleaved rounds); on a CPU the process's CPU time (with one thread the
wall time of an idle machine, and unaffected by other jobs on a shared one), on a GPU the wall time.
Memory: the peak of tensor memory allocated while the work runs, above what was live before it; on a
GPU from the allocator's statistics, on a CPU from the profiler's allocation events.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from contextlib import contextmanager

import torch


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def seconds(
    work: Callable[[], object], device: torch.device, clock: Callable[[], float] | None = None
) -> float:
    """Time of one call of ``work()``: process CPU time on CPU, wall time on a GPU, unless ``clock``
    is given (e.g. ``time.perf_counter`` for wall time on a CPU running several threads)."""
    if clock is None:
        clock = time.perf_counter if device.type == "cuda" else time.process_time
    sync(device)
    start = clock()
    work()
    sync(device)
    return clock() - start


def best_time(work: Callable[[], object], device: torch.device, repeats: int = 3) -> float:
    """Seconds of the fastest of ``repeats`` calls of ``work()``, after one warm-up call."""
    work()
    return min(seconds(work, device) for _ in range(repeats))


def interleaved_medians(
    works: dict[str, Callable[[], object]],
    device: torch.device,
    rounds: int,
    warmup: int = 1,
    clock: Callable[[], float] | None = None,
) -> dict[str, float]:
    """Median seconds of each of ``works``, timed round-robin (one call of each per round) so that a
    change of machine load during the run affects every method alike (``clock`` as in ``seconds``)."""
    for work in works.values():
        for _ in range(warmup):
            work()
    times: dict[str, list[float]] = {name: [] for name in works}
    for _ in range(rounds):
        for name, work in works.items():
            times[name].append(seconds(work, device, clock))
    return {name: statistics.median(t) for name, t in times.items()}


@contextmanager
def _quiet_stderr():
    """The CPU profiler prints warnings from C++; keep the benchmark's table readable."""
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def peak_memory(work: Callable[[], object], device: torch.device) -> int:
    """Peak bytes of tensors allocated by ``work()`` and live at the same time (inputs made before
    the call are not counted)."""
    if device.type == "cuda":
        sync(device)
        torch.cuda.reset_peak_memory_stats(device)
        start = torch.cuda.memory_allocated(device)
        work()
        sync(device)
        return torch.cuda.max_memory_allocated(device) - start
    from torch.profiler import DeviceType, ProfilerActivity, profile

    with _quiet_stderr(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        work()
    # Every allocation (+) and release (-) as the allocator recorded it, in time order; the running
    # sum is the live memory. These raw records sit under ``kineto_results`` (torch pinned in
    # constraints.txt): the per-op ``cpu_memory_usage`` totals of the public events net an op's frees
    # against its allocations at the op's start, hiding temporaries (an optimizer step reads as 0).
    records = sorted(
        (e.start_ns(), e.nbytes())
        for e in prof.profiler.kineto_results.events()
        if e.name() == "[memory]" and e.device_type() == DeviceType.CPU
    )
    live = peak = 0
    for _, delta in records:
        live += delta
        peak = max(peak, live)
    return peak


def backward_pass(module: torch.nn.Module, x: torch.Tensor, grad: torch.Tensor) -> None:
    """One forward and backward pass of ``module`` on ``x`` with output gradient ``grad``; the gradients
    (of ``x`` and of the parameters) are released afterwards."""
    module(x).backward(grad)
    x.grad = None
    module.zero_grad(set_to_none=True)


def train_step(module: torch.nn.Module, x: torch.Tensor) -> None:
    """One training step's passes of ``module`` on ``x``: forward, the loss ``mean(y^2)``, backward; the
    gradients (of ``x`` and of the parameters) are released afterwards."""
    module(x).square().mean().backward()
    x.grad = None
    module.zero_grad(set_to_none=True)


def compare_header(label: str, name: str, widths: tuple[int, int] = (16, 8), extra: str = "") -> str:
    """The column titles of :func:`compare`'s lines (``extra``: the title of the lines' extra column)."""
    return (
        f"{label:>{widths[0]}} {name:>{widths[1]}} {'ms':>9} {'time ratio':>10} {'MiB':>8} {'mem ratio':>9}"
        + (f" {extra}" if extra else "")
    )


def compare(
    works: dict[str, Callable[[], object]],
    baseline: str,
    device: torch.device,
    rounds: int,
    clock: Callable[[], float] | None = None,
    *,
    warmup: int = 1,
    label: str = "",
    widths: tuple[int, int] = (16, 8),
    extra: dict[str, str] | None = None,
) -> dict[str, tuple[float, int]]:
    """Median seconds (:func:`interleaved_medians` over ``rounds``) and peak bytes (:func:`peak_memory`)
    of each of ``works``; prints one line per work: ``label``, its name, milliseconds and the time ratio to
    ``baseline``, MiB and the memory ratio to ``baseline`` (then ``extra[name]``, if given), in the
    columns of :func:`compare_header` with the same ``widths``."""
    if baseline not in works:
        raise ValueError(f"baseline: got {baseline!r}; accepted: one of {list(works)}")
    times = interleaved_medians(works, device, rounds, warmup=warmup, clock=clock)
    results = {name: (times[name], peak_memory(work, device)) for name, work in works.items()}
    base_time, base_mem = results[baseline]
    for name, (secs, mem) in results.items():
        print(
            f"{label:>{widths[0]}} {name:>{widths[1]}} {secs * 1e3:9.3f} {secs / base_time:10.2f} "
            f"{mem / 2**20:8.2f} {mem / max(base_mem, 1):9.2f}" + (f" {extra[name]}" if extra else "")
        )
    return results


def bench_arguments(description: str, rounds: int = 20, threads: int = 2) -> argparse.ArgumentParser:
    """An argument parser with the options every benchmark takes (``--device``, ``--threads``,
    ``--rounds``); a benchmark adds its own before parsing."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--threads", type=int, default=threads, help=f"intra-op CPU threads (default {threads})"
    )
    parser.add_argument(
        "--rounds", type=int, default=rounds, help=f"interleaved timed rounds (default {rounds})"
    )
    return parser


def bench_setup(args: argparse.Namespace, measures: str) -> torch.device:
    """Seed 0, the thread count and the device of parsed :func:`bench_arguments`; prints the line that
    heads every benchmark's output (device, threads, torch version, then ``measures``)."""
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"device={device}, threads={torch.get_num_threads()}, torch={torch.__version__}; {measures}")
    return device
