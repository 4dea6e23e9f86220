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
