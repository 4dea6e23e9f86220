"""The `supervised` trainer against a hand-written PyTorch loop doing the same work.

Both train the same MLP (same initial weights) on the same synthetic classification data, with the
same batch order, SGD with momentum and number of steps; the hand loop is what a PyTorch user writes
for a tensor dataset: a seeded ``randperm`` per epoch (the order the trainer's one-process
``DistributedSampler`` gives), one index per tensor and batch, ``zero_grad``, loss, ``backward``,
``step``, and the loss read on the steps the trainer logs. Before timing, both are run once and
their final weights must be bitwise equal (else the script stops: they would not be doing the same
work). The trainer runs with its progress bar on (its default) and no run directory.

Two settings: ``model-heavy`` (hidden 512-512, where the model's arithmetic dominates a step) and
``small`` (hidden 32, a step of a fraction of a millisecond, where the trainer's per-step cost
shows most). Printed per setting and thread count: the median wall time of interleaved repetitions
(one call of each loop per round) and the ratio trainer / hand loop (target: at most 1.05).
Run: python benchmarks/bench_trainer_overhead.py [--threads 1 2] [--rounds 7]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import sys
import time
from collections.abc import Callable

import paperzoo
import torch
from paperzoo.trainer import Run

BATCH, LOG_EVERY, SEED = 64, 50, 0
SETTINGS = {"model-heavy": ([512, 512], 5), "small": ([32], 10)}  # hidden sizes, epochs
TARGET = 1.05


def make_data():
    """6554 training examples of 64 features in 10 classes, held as a ``TensorDataset``."""
    return paperzoo.create("synthetic_classification", n_samples=8192, n_features=64, num_classes=10)


def make_model(hidden: list[int]) -> torch.nn.Module:
    torch.manual_seed(0)
    return paperzoo.create("mlp", in_features=64, num_classes=10, hidden=hidden)


def make_optimizer(model: torch.nn.Module) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)


def hand_loop(model: torch.nn.Module, data, epochs: int) -> Callable[[], list[float]]:
    """The loop a user writes (ready to run); it returns the losses read at the logged steps."""
    opt = make_optimizer(model)
    x_all, y_all = data.train.tensors

    def run() -> list[float]:
        logged, step = [], 0
        for epoch in range(epochs):
            order = torch.randperm(len(x_all), generator=torch.Generator().manual_seed(SEED + epoch))
            for idx in order.split(BATCH):
                x, y = x_all[idx], y_all[idx]
                opt.zero_grad(set_to_none=True)
                loss = torch.nn.functional.cross_entropy(model(x), y)
                loss.backward()
                opt.step()
                step += 1
                if step % LOG_EVERY == 0:
                    logged.append(loss.item())
        return logged

    return run


def trainer(model: torch.nn.Module, data, epochs: int) -> Callable[[], list[float]]:
    """``fit`` of the ``supervised`` trainer on the same work (ready to run); it returns the losses
    of the logged steps."""
    t = paperzoo.create(
        "supervised", epochs=epochs, batch_size=BATCH, log_every=LOG_EVERY, progress=True, device="cpu"
    )
    run = Run(model=model, data=data, optimizer=make_optimizer(model), seed=SEED)

    def fit() -> list[float]:
        with contextlib.redirect_stdout(io.StringIO()):  # the bar's last frame, not this script's output
            t.fit(run)
        return [r["loss"] for r in t.history if "loss" in r and r["step"] % LOG_EVERY == 0]

    return fit


def prepare(loop: Callable, hidden: list[int], data, epochs: int) -> Callable[[], tuple]:
    """``loop`` made ready on a freshly initialised model (the same initial weights every time)."""
    model = make_model(hidden)
    return loop(model, data, epochs), model


def check_same_work(hidden: list[int], data, epochs: int, setting: str) -> None:
    """Both loops once (also the warm-up); they must end with the same logged losses and weights."""
    (hand, hand_model), (ours, our_model) = (prepare(loop, hidden, data, epochs) for loop in LOOPS.values())
    same = hand() == ours() and all(
        torch.equal(p, q) for p, q in zip(hand_model.state_dict().values(), our_model.state_dict().values())
    )
    if not same:
        sys.exit(f"error: {setting}: the hand loop and the trainer did not compute the same weights")


def interleaved(hidden: list[int], data, epochs: int, rounds: int) -> dict[str, float]:
    """Median wall seconds of each loop over ``rounds`` rounds of one run of each; a run's fresh
    model, optimizer and trainer are made before its clock starts."""
    times: dict[str, list[float]] = {name: [] for name in LOOPS}
    for _ in range(rounds):
        for name, loop in LOOPS.items():
            work, _model = prepare(loop, hidden, data, epochs)
            start = time.perf_counter()
            work()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


LOOPS = {"hand": hand_loop, "supervised": trainer}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    data = make_data()
    for threads in args.threads:
        torch.set_num_threads(threads)
        for setting, (hidden, epochs) in SETTINGS.items():
            check_same_work(hidden, data, epochs, setting)
            med = interleaved(hidden, data, epochs, args.rounds)
            steps = epochs * -(-len(data.train) // BATCH)
            print(
                json.dumps(
                    {
                        "setting": setting,
                        "threads": threads,
                        "steps": steps,
                        "clock": "wall",
                        "rounds": args.rounds,
                        "hand_loop_ms_per_step": round(med["hand"] / steps * 1e3, 4),
                        "supervised_ms_per_step": round(med["supervised"] / steps * 1e3, 4),
                        "overhead_ratio": round(med["supervised"] / med["hand"], 3),
                        "target": TARGET,
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
