"""The built-in ``supervised`` trainer, and the ``Run`` that every trainer receives.

Paper trainers reuse this loop instead of copying it: subclass :class:`Supervised` and override
``compute_loss`` / ``fit``, or pass callbacks with any of ``on_train_start(trainer)``,
``after_backward(trainer)``, ``on_step_end(trainer, loss)``, ``on_epoch_end(trainer)``.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
import torch.distributed as dist

from . import checkpoint, rundir
from .data import DataBundle, fetch
from .errors import ParamError, short
from .losses import logits_of, task_loss


@dataclass
class Run:
    """What the engine has built for a trainer.

    :param make_optimizer: builds the configured optimizer (and schedule) for given parameters,
        for trainers that need a fresh one (e.g. per pruning round).
    :param resume: continue from the newest checkpoint in ``run_dir``.
    """

    model: torch.nn.Module
    data: DataBundle
    optimizer: torch.optim.Optimizer | None = None
    scheduler: Any = None
    evaluators: dict[str, Callable[..., dict[str, float]]] = field(default_factory=dict)
    run_dir: Path | None = None
    seed: int = 0
    resume: bool = False
    make_optimizer: Callable[[Iterable[torch.nn.Parameter]], tuple[torch.optim.Optimizer, Any]] | None = None
    config: dict[str, Any] = field(default_factory=dict)


@dataclass
class LoopState:
    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    samples: int = 0
    last_loss: float = float("nan")
    seconds: float = 0.0  # training time of this loop so far, across resumes


def pick_device(device: str) -> torch.device:
    if device != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device(
            "cuda", dist.get_rank() % torch.cuda.device_count() if dist.is_initialized() else 0
        )
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


class Supervised:
    """Minibatch training of ``run.model`` on ``run.data.train`` with ``run.optimizer``.

    :param epochs: passes over the training split (ignored when ``max_steps`` is set).
    :param max_steps: optimizer steps to take instead of whole epochs.
    :param batch_size: global batch per optimizer step (split across processes and micro-batches).
    :param grad_accum: micro-batches accumulated into one optimizer step.
    :param clip_grad_norm: clip the global gradient norm to this value.
    :param precision: ``fp32``, ``bf16``, ``fp16`` or ``auto`` (bf16 on CUDA when supported).
    :param device: ``auto`` (cuda, then mps, then cpu) or a torch device string.
    :param checkpoint_every: write a checkpoint every N optimizer steps (0: only at the end).
    :param log_every: write a line to ``metrics.jsonl`` every N steps.
    :param eval_every_epoch: run the evaluators after each epoch, not only at the end.
    :param progress: show a progress bar.
    """

    def __init__(
        self,
        epochs: int = 1,
        max_steps: int | None = None,
        batch_size: int = 64,
        grad_accum: int = 1,
        clip_grad_norm: float | None = None,
        precision: Literal["auto", "fp32", "bf16", "fp16"] = "fp32",
        device: str = "auto",
        checkpoint_every: int = 0,
        log_every: int = 10,
        eval_every_epoch: bool = False,
        progress: bool = True,
    ):
        _check_loop_params(
            epochs, max_steps, batch_size, grad_accum, clip_grad_norm, checkpoint_every, log_every
        )
        _check_device(device)
        self.epochs, self.max_steps, self.batch_size, self.grad_accum = (
            epochs,
            max_steps,
            batch_size,
            grad_accum,
        )
        self.clip_grad_norm, self.precision, self.device_name = clip_grad_norm, precision, device
        self.checkpoint_every, self.log_every = checkpoint_every, log_every
        self.eval_every_epoch, self.progress = eval_every_epoch, progress
        self.callbacks: list[Any] = []
        self.state = LoopState()
        self.history: list[dict[str, Any]] = []

    # -- distributed -------------------------------------------------------------------------
    @property
    def world_size(self) -> int:
        return dist.get_world_size() if dist.is_initialized() else 1

    @property
    def rank(self) -> int:
        return dist.get_rank() if dist.is_initialized() else 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def requires_optimizer(self) -> bool:
        """Whether ``fit`` needs ``run.optimizer`` (the engine refuses a config without one before
        anything is written). True for the plain loop; a subclass with its own ``fit`` that needs one
        may override this."""
        return type(self).fit is Supervised.fit

    # -- steps a subclass may override ------------------------------------------------------------
    def compute_loss(self, model: torch.nn.Module, batch: tuple, task: str) -> torch.Tensor:
        """The loss of one micro-batch: the task's default loss on the model's logits."""
        x, y = batch
        return task_loss(logits_of(model(x)), y, task)

    def fit(self, run: Run) -> dict[str, Any]:
        """Train, evaluate, write ``summary.json`` and return the summary."""
        self.setup(run)
        self.train(run)
        return self.finish(run)

    # -- the loop --------------------------------------------------------------------------------
    def setup(self, run: Run) -> None:
        self.run = run
        self.device = pick_device(self.device_name)
        run.model.to(self.device)
        if run.optimizer is not None:
            _move_optimizer_state(run.optimizer, self.device)
        self.model = run.model
        if dist.is_initialized():
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.model = torch.nn.parallel.DistributedDataParallel(run.model, device_ids=ids)
        self.state = LoopState()
        self.history = []
        self.metric_lines = 0  # lines of metrics.jsonl written so far, saved with each checkpoint
        if run.resume and run.run_dir is not None:
            self.restore(run)

    def steps_per_epoch(self, run: Run) -> int:
        local = self.batch_size // self.world_size
        per_rank = math.ceil(len(run.data.train) / self.world_size)
        return math.ceil(per_rank / local / self.grad_accum)

    def total_steps(self, run: Run) -> int:
        return self.max_steps if self.max_steps is not None else self.epochs * self.steps_per_epoch(run)

    def epoch_batches(self, run: Run, epoch: int) -> list[torch.Tensor]:
        """This process's micro-batch indices for ``epoch``: the shard a shuffling
        ``DistributedSampler`` (seed ``run.seed``, epoch ``epoch``, no ``drop_last``) yields, computed
        in tensor ops rather than through Python lists."""
        n, world = len(run.data.train), self.world_size
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(run.seed + epoch))
        total = math.ceil(n / world) * world  # padded, as the sampler does, by repeating the permutation
        if total > n:
            perm = perm.repeat(math.ceil(total / n))[:total]
        indices = perm[self.rank : total : world].contiguous()
        micro = self.batch_size // world // self.grad_accum
        return list(indices.split(micro))

    def autocast(self):
        precision = self.precision
        if precision == "auto":
            cuda_bf16 = self.device.type == "cuda" and torch.cuda.is_bf16_supported()
            precision = "bf16" if cuda_bf16 else "fp32"
        if precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if precision == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    def train(self, run: Run) -> None:
        """Run optimizer steps until ``total_steps``, from wherever ``self.state`` stands."""
        if run.optimizer is None:
            raise ValueError("the supervised trainer needs an optimizer")
        model, opt, st = self.model, run.optimizer, self.state
        total = self.total_steps(run)
        scaler = torch.amp.GradScaler(enabled=self.precision == "fp16" and self.device.type == "cuda")
        model.train()
        self._call("on_train_start")
        progress = _Progress(total, enabled=self.progress and self.is_main)
        progress.advance(st.step, st.last_loss, 0.0)
        started, samples_at_start, seconds_before = time.perf_counter(), st.samples, st.seconds
        world, ddp = self.world_size, isinstance(model, torch.nn.parallel.DistributedDataParallel)
        while st.step < total:
            micro_batches = self.epoch_batches(run, st.epoch)
            steps = [
                micro_batches[i : i + self.grad_accum] for i in range(0, len(micro_batches), self.grad_accum)
            ]
            for group in steps[st.batch_in_epoch :]:
                opt.zero_grad(set_to_none=True)
                losses = []
                for i, idx in enumerate(group):
                    batch = tuple(t.to(self.device, non_blocking=True) for t in fetch(run.data.train, idx))
                    sync = i == len(group) - 1 or not ddp
                    with contextlib.nullcontext() if sync else model.no_sync(), self.autocast():
                        loss = self.compute_loss(model, batch, run.data.task)
                        if len(group) > 1:  # dividing by 1 changes no bit, but costs an autograd node
                            loss = loss / len(group)
                    scaler.scale(loss).backward()
                    losses.append(loss.detach())
                    st.samples += len(idx) * world
                loss_sum = _host_sum(losses)
                self._call("after_backward")
                if self.clip_grad_norm is not None:
                    scaler.unscale_(opt)
                    torch.nn.utils.clip_grad_norm_(model.parameters(), self.clip_grad_norm)
                scaler.step(opt)
                scaler.update()
                if run.scheduler is not None:
                    run.scheduler.step()
                st.step += 1
                st.batch_in_epoch += 1
                st.last_loss = loss_sum
                self._call("on_step_end", loss_sum)
                elapsed = time.perf_counter() - started
                st.seconds = seconds_before + elapsed
                throughput = (st.samples - samples_at_start) / elapsed if elapsed > 0 else 0.0
                progress.advance(st.step, loss_sum, throughput)
                if st.step % self.log_every == 0 or st.step == total:
                    lr = opt.param_groups[0]["lr"]
                    self.log(
                        {
                            "step": st.step,
                            "epoch": st.epoch,
                            "loss": loss_sum,
                            "lr": float(lr),
                            "samples_per_s": throughput,
                        }
                    )
                if st.batch_in_epoch == len(steps):
                    self.end_epoch(run)
                if self.checkpoint_every and st.step % self.checkpoint_every == 0 and st.step < total:
                    self.save_checkpoint(run)
                if st.step >= total:
                    break
        progress.close()
        st.seconds = seconds_before + time.perf_counter() - started
        self.train_seconds = st.seconds  # this loop's time, including that before a resume
        self.save_checkpoint(run)

    def end_epoch(self, run: Run) -> None:
        self.state.epoch += 1
        self.state.batch_in_epoch = 0
        self._call("on_epoch_end")
        if self.eval_every_epoch and run.evaluators:
            self.log({"step": self.state.step, "epoch": self.state.epoch, **self.evaluate(run)})

    # -- evaluation and outputs ----------------------------------------------------------------
    def evaluate(self, run: Run) -> dict[str, float]:
        """Every evaluator's metrics as ``label/key``, or just ``label`` for the key that repeats the
        component's name (``accuracy`` gives ``accuracy``; a second ``loss`` listed gives ``loss.2``)."""
        out: dict[str, float] = {}
        for label, evaluator in run.evaluators.items():
            component = label.partition(".")[0]
            for key, value in evaluator(run.model, run.data).items():
                out[label if key == component else f"{label}/{key}"] = float(value)
        return out

    def summarize(self, run: Run, metrics: dict[str, float]) -> dict[str, Any]:
        """What ``summary.json`` holds: loop counters and the final ``metrics``. A trainer with more
        to report extends this (``finish`` writes whatever it returns)."""
        return {
            "steps": self.state.step,
            "epochs": self.state.epoch,
            "train_loss": self.state.last_loss,
            "train_seconds": round(getattr(self, "train_seconds", 0.0), 3),
            **metrics,
        }

    def finish(self, run: Run) -> dict[str, Any]:
        """Evaluate, log the final metrics, write ``summary.json`` and the loss curve (main process)."""
        metrics = self.evaluate(run)
        summary = self.summarize(run, metrics)
        if self.is_main and run.run_dir is not None:
            self.log({"step": self.state.step, "epoch": self.state.epoch, "final": True, **metrics})
            rundir.write_text(run.run_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
            _plot_losses(run.run_dir)
        return summary

    def log(self, record: dict[str, Any]) -> None:
        self.history.append(record)
        if self.is_main and self.run.run_dir is not None:
            rundir.append_text(self.run.run_dir / "metrics.jsonl", json.dumps(record) + "\n")
            self.metric_lines += 1

    # -- checkpoints ---------------------------------------------------------------------------
    def extra_state(self) -> dict[str, Any]:
        """Tensors and plain containers a subclass wants saved with each checkpoint."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore what ``extra_state`` saved."""

    def save_checkpoint(self, run: Run) -> None:
        if not self.is_main or run.run_dir is None:
            return
        st = self.state
        state = {
            "step": st.step,
            "epoch": st.epoch,
            "batch_in_epoch": st.batch_in_epoch,
            "samples": st.samples,
            "last_loss": st.last_loss,
            "train_seconds": st.seconds,
            "optimizer": run.optimizer.state_dict() if run.optimizer else {},
            "scheduler": run.scheduler.state_dict() if run.scheduler is not None else {},
            "rng": checkpoint.rng_state(),
            "metric_lines": self.metric_lines,
            "extra": self.extra_state(),
        }
        checkpoint.save(run.run_dir / "checkpoints", run.model, state)

    def restore(self, run: Run) -> None:
        path = checkpoint.latest(run.run_dir / "checkpoints")
        if path is None:  # never a silent restart from step 0
            raise rundir.RunDirError(checkpoint.missing_message(run.run_dir))
        state = checkpoint.load(path, run.model)
        if run.optimizer is not None:
            run.optimizer.load_state_dict(state["optimizer"])
            _move_optimizer_state(run.optimizer, self.device)
        if run.scheduler is not None and state["scheduler"]:
            run.scheduler.load_state_dict(state["scheduler"])
        checkpoint.set_rng_state(state["rng"])
        self.state = LoopState(
            state["step"],
            state["epoch"],
            state["batch_in_epoch"],
            state["samples"],
            state["last_loss"],
            float(state.get("train_seconds", 0.0)),
        )
        self.load_extra_state(state["extra"])
        self.metric_lines = _truncate_metrics(run.run_dir / "metrics.jsonl", state["metric_lines"])

    def _call(self, hook: str, *args: Any) -> None:
        for callback in self.callbacks:
            method = getattr(callback, hook, None)
            if method is not None:
                method(self, *args)


def _host_sum(losses: list[torch.Tensor]) -> float:
    """The sum of the micro-batch losses as a Python float, added left to right from ``0.0`` (the
    same bits as adding each ``float(loss)`` in turn), read from the device in one transfer."""
    if len(losses) == 1:
        return 0.0 + float(losses[0])
    total = 0.0
    for value in torch.stack([loss.reshape(()) for loss in losses]).tolist():
        total += value
    return total


def _move_optimizer_state(optimizer: torch.optim.Optimizer, device: torch.device) -> None:
    for state in optimizer.state.values():
        for key, value in state.items():
            if isinstance(value, torch.Tensor) and value.device != device and value.dim() > 0:
                state[key] = value.to(device)


def _truncate_metrics(path: Path, lines: int) -> int:
    """Keep the first ``lines`` metric lines (those written before the checkpoint a run resumes from;
    a trainer whose step counter restarts, as in multi-round training, is covered too)."""
    if not path.exists():
        return 0
    kept = rundir.read_text(path).splitlines()[:lines]
    rundir.write_text(path, "".join(line + "\n" for line in kept))
    return len(kept)


def _check_loop_params(
    epochs: int,
    max_steps: int | None,
    batch_size: int,
    grad_accum: int,
    clip_grad_norm: float | None,
    checkpoint_every: int,
    log_every: int,
) -> None:
    """ParamErrors for loop params that no run could use (each names what would be accepted)."""
    if epochs < 0 or epochs == 0 and max_steps is None:
        raise ParamError("epochs", f"{epochs} trains nothing; accepted: at least 1 (or set max_steps)")
    if max_steps is not None and max_steps < 1:
        raise ParamError("max_steps", f"{max_steps} trains nothing; accepted: at least 1, or null for epochs")
    if batch_size < 1:
        raise ParamError("batch_size", f"got {batch_size}; accepted: at least 1")
    if grad_accum < 1:
        raise ParamError("grad_accum", f"got {grad_accum}; accepted: at least 1 (1: no accumulation)")
    if batch_size % grad_accum:
        raise ParamError(
            "grad_accum",
            f"{grad_accum} does not divide batch_size {batch_size}; accepted: a divisor of batch_size "
            "(the global batch is split into grad_accum micro-batches)",
        )
    if dist.is_initialized() and batch_size // dist.get_world_size() // grad_accum < 1:
        raise ParamError(
            "batch_size",
            f"{batch_size} is less than processes x grad_accum ({dist.get_world_size()} x {grad_accum}); "
            "accepted: at least one example per process and micro-batch",
        )
    if clip_grad_norm is not None and not clip_grad_norm > 0:
        raise ParamError("clip_grad_norm", f"got {clip_grad_norm}; accepted: a positive norm, or null")
    if checkpoint_every < 0:
        raise ParamError(
            "checkpoint_every", f"got {checkpoint_every}; accepted: 0 (only at the end) or more steps"
        )
    if log_every < 1:
        raise ParamError("log_every", f"got {log_every}; accepted: at least 1 step")


def _check_device(device: str) -> None:
    """A ParamError for a device string torch does not know, or a device this machine lacks."""
    if device == "auto":
        return
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError, TypeError):
        raise ParamError(
            "device", f"{short(device)} is not a torch device; accepted: auto, cpu, cuda, cuda:N, mps"
        ) from None
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (dev.index or 0) >= count:
            raise ParamError(
                "device", f"{short(device)}: this machine has {count} CUDA devices; accepted: auto, cpu"
            )
    elif dev.type == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise ParamError("device", f"{short(device)}: MPS is not available here; accepted: auto, cpu")


def _plot_losses(run_dir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in rundir.read_text(run_dir / "metrics.jsonl").splitlines()]
    points = [(r["step"], r["loss"]) for r in rows if "loss" in r and "final" not in r]
    if not points:
        return
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(*zip(*points))
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.set_yscale("log" if all(p[1] > 0 for p in points) else "linear")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    image = io.BytesIO()
    fig.savefig(image, format="png", dpi=100)
    plt.close(fig)
    rundir.write_bytes(run_dir / "loss_curve.png", image.getvalue())


class _Progress:
    """A rich progress bar showing loss and throughput (a no-op when disabled).

    rich redraws at 10 Hz, so the bar takes at most ``UPDATE_HZ`` updates a second; the latest step
    is held and shown by the next update or on ``close``. (An update per step of a fast loop cost more
    than the step's own bookkeeping: rich sums every update of the last 30 s for the time remaining.)
    """

    UPDATE_HZ = 20

    def __init__(self, total: int, enabled: bool):
        self.bar = None
        self.pending: tuple[int, float, float] | None = None
        self.last_update = float("-inf")
        if enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(
                TextColumn("[bold]train"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]:.4f}"),
                TextColumn("{task.fields[throughput]:.0f} samples/s"),
                TimeRemainingColumn(),
            )
            self.task = self.bar.add_task("train", total=total, loss=float("nan"), throughput=0.0)
            self.bar.start()

    def advance(self, step: int, loss: float, throughput: float) -> None:
        if self.bar is None:
            return
        self.pending = (step, loss, throughput)
        now = time.perf_counter()
        if now - self.last_update >= 1.0 / self.UPDATE_HZ:
            self.last_update = now
            self._show()

    def _show(self) -> None:
        if self.pending is not None:
            step, loss, throughput = self.pending
            self.bar.update(self.task, completed=step, loss=loss, throughput=throughput)
            self.pending = None

    def close(self) -> None:
        if self.bar is not None:
            self._show()
            self.bar.stop()
