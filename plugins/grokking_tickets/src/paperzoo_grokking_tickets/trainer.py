"""The ``grokking_ticket`` trainer: dense run, global magnitude pruning, rewinding to ``theta_0``, and
the two controls of Minegishi et al. (2023), Section 3.

Stages, each from step 0 with a fresh optimizer and the same data order:

1. ``dense``: train ``f(x; theta_0)`` for ``max_steps`` (the paper trains it past generalisation). It is
   also the dense baseline whose learning curve the ticket is compared with.
2. prune: ``m`` keeps the ``1 - rate`` largest ``|theta_T|`` over all prunable weights together (one
   global pool, as the official ``Mag`` pruner with ``scope="global"``).
3. ``norm_matched`` (optional control): the dense net from ``c theta_0`` with
   ``c = ||m ⊙ theta_0||_2 / ||theta_0||_2`` over the prunable weights, so its initial norm equals
   the ticket's: it tells a sparse structure apart from a merely smaller initial norm.
4. ``ticket``: ``f(x; m ⊙ theta_0)``, trained with ``g <- m ⊙ g`` after every backward pass and
   ``theta <- m ⊙ theta`` after every step, so pruned weights stay exactly zero.

Test accuracy (the ``val`` split) is measured every ``eval_every`` steps of every stage (lines of
``metrics.jsonl`` with ``stage`` and ``test_accuracy``); ``steps_to_target`` is the first such step at
which it reaches ``target_accuracy``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from paperzoo.data import fetch
from paperzoo.errors import ParamError
from paperzoo.losses import logits_of
from paperzoo.trainer import LoopState, Run, Supervised
from paperzoo_lottery_ticket.masks import apply_masks, density, magnitude_prune


def prunable_parameters(model: torch.nn.Module) -> list[tuple[str, torch.nn.Parameter]]:
    """Every trainable weight matrix (``ndim >= 2``: Linear, Embedding, convolution weights), once
    each; biases and normalisation vectors are never pruned."""
    out, seen = [], set()
    for name, param in model.named_parameters():
        if param.requires_grad and param.ndim >= 2 and id(param) not in seen:
            seen.add(id(param))
            out.append((name, param))
    if not out:
        raise ValueError("the model has no trainable weight matrix to prune")
    return out


def global_magnitude_masks(weights: list[torch.Tensor], rate: float) -> list[torch.Tensor]:
    """Boolean masks removing the ``floor(rate * n)`` smallest ``|w|`` of all ``n`` entries pooled (the
    official ``Mag`` pruner's count, ``k = int((1 - density) * n)``)."""
    n = sum(w.numel() for w in weights)
    n_prune = int(rate * n)
    ones = [torch.ones_like(w, dtype=torch.bool) for w in weights]
    # magnitude_prune removes round(r * n) entries: r = n_prune / n makes that exactly n_prune
    return magnitude_prune(weights, ones, [0] * len(weights), [n_prune / n])


def norm_matching_scale(weights: list[torch.Tensor], masks: list[torch.Tensor]) -> float:
    """``c = ||m ⊙ w||_2 / ||w||_2`` over all tensors together (float64 sums)."""
    kept = sum(float((w.double() * m).pow(2).sum()) for w, m in zip(weights, masks))
    total = sum(float(w.double().pow(2).sum()) for w in weights)
    return (kept / total) ** 0.5


class _MaskAndCurve:
    """Loop callback: keeps pruned weights at zero (ticket stage) and records test accuracy."""

    def after_backward(self, trainer: GrokkingTicket) -> None:
        if trainer.masking:
            apply_masks([p.grad for p in trainer.pruned], trainer.mask_values)

    def on_step_end(self, trainer: GrokkingTicket, loss: float) -> None:
        if trainer.masking:
            apply_masks(trainer.pruned, trainer.mask_values)
        if trainer.state.step % trainer.eval_every == 0:
            acc = trainer.test_accuracy()
            trainer.curve.append((trainer.state.step, acc))
            trainer.log(
                {"step": trainer.state.step, "stage": trainer.stages[trainer.stage], "test_accuracy": acc}
            )


class GrokkingTicket(Supervised):
    """Grokking tickets: train dense, prune globally by magnitude, rewind survivors to ``theta_0`` and
    retrain; controls: the dense run itself and a norm-matched dense run.

    :param rate: fraction of all prunable weights removed (paper's MLP: 0.6, i.e. 40% kept).
    :param norm_matched: also train the dense net rescaled to the ticket's initial L2 norm.
    :param target_accuracy: test accuracy that counts as generalised (``steps_to_target``).
    :param eval_every: measure test accuracy every this many steps.
    :param retrain_steps: steps of the ``norm_matched`` and ``ticket`` stages (default: those of the
        dense run). Shorter retraining only caps how late a retrained net can reach the target.
    :param loop: the ``supervised`` loop's params, applied to every stage (``max_steps`` or ``epochs``,
        ``batch_size``: the paper trains full-batch).
    """

    def __init__(
        self,
        rate: float = 0.6,
        norm_matched: bool = True,
        target_accuracy: float = 0.95,
        eval_every: int = 10,
        retrain_steps: int | None = None,
        **loop: Any,
    ):
        super().__init__(**loop)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate < 1.0:
            raise ParamError("rate", f"got {rate!r}; accepted: a fraction in [0, 1)")
        if not isinstance(target_accuracy, (int, float)) or not 0.0 < target_accuracy <= 1.0:
            raise ParamError("target_accuracy", f"got {target_accuracy!r}; accepted: a fraction in (0, 1]")
        if isinstance(eval_every, bool) or not isinstance(eval_every, int) or eval_every < 1:
            raise ParamError("eval_every", f"got {eval_every!r}; accepted: a positive integer")
        if retrain_steps is not None and (
            isinstance(retrain_steps, bool) or not isinstance(retrain_steps, int) or retrain_steps < 1
        ):
            raise ParamError("retrain_steps", f"got {retrain_steps!r}; accepted: a positive integer or null")
        if not isinstance(norm_matched, bool):
            raise ParamError("norm_matched", f"got {norm_matched!r}; accepted: true or false")
        self.retrain_steps = retrain_steps
        self.stage = 0
        self.rate, self.norm_matched = float(rate), bool(norm_matched)
        self.target_accuracy, self.eval_every = float(target_accuracy), eval_every
        self.callbacks.append(_MaskAndCurve())
        self.masking = False
        self.curve: list[tuple[int, float]] = []
        self.mask_values: list[torch.Tensor] = []
        self.records: dict[str, dict[str, Any]] = {}
        self._loaded: dict[str, Any] | None = None
        self._stage_end = False
        self.in_stage = False  # a stage has begun and not ended (what a checkpoint resumes inside)

    @property
    def stages(self) -> list[str]:
        """The training runs in order; the ticket last, so the model left is the trained ticket."""
        return ["dense"] + (["norm_matched"] if self.norm_matched else []) + ["ticket"]

    def total_steps(self, run: Run) -> int:
        """Steps of the current stage: the loop's for the dense run, ``retrain_steps`` afterwards."""
        if self.retrain_steps is not None and self.stage > 0:
            return self.retrain_steps
        return super().total_steps(run)

    def compute_loss(self, model: torch.nn.Module, batch: tuple, task: str) -> torch.Tensor:
        """Classification: cross-entropy of float64 logits (the official ``cross_entropy_high_precision``:
        float32 log-softmax underflows on the very confident predictions of a grokked net)."""
        if task != "classification":
            return super().compute_loss(model, batch, task)
        x, y = batch
        return F.cross_entropy(logits_of(model(x)).double(), y)

    @torch.no_grad()
    def test_accuracy(self) -> float:
        """Accuracy on the whole ``val`` split (the held-out pairs), one batch."""
        model, val = self.run.model, self.run.data.val
        x, y = (t.to(self.device) for t in fetch(val, torch.arange(len(val))))
        was_training = model.training
        model.eval()
        acc = float((logits_of(model(x)).argmax(-1) == y).float().mean())
        model.train(was_training)
        return acc

    # -- the stages --------------------------------------------------------------------------------
    def fit(self, run: Run) -> dict[str, Any]:
        if run.make_optimizer is None:
            raise ValueError("grokking_ticket needs an optimizer (a fresh one per stage)")
        if run.data.val is None or len(run.data.val) == 0:
            raise ValueError("grokking_ticket measures test accuracy on the val split, which is empty")
        if run.resume and run.optimizer is None:  # the optimizer state of the checkpoint goes here
            run.optimizer, run.scheduler = run.make_optimizer(
                [p for p in run.model.parameters() if p.requires_grad]
            )
        self._loaded = None
        self.setup(run)  # when resuming: weights, optimizer, loop state and extra state of the checkpoint
        named = prunable_parameters(run.model)
        self.pruned_names = [n for n, _ in named]
        self.pruned = [p for _, p in named]
        if self._loaded is not None:
            self._unpack(self._loaded)
        else:
            self.stage, self.records, self.in_stage = 0, {}, False
            self.theta0 = {k: v.detach().clone() for k, v in run.model.state_dict().items()}
            self.masks = [torch.ones_like(p, dtype=torch.bool) for p in self.pruned]
        self.mask_values = [m.to(p.dtype) for m, p in zip(self.masks, self.pruned)]
        while self.stage < len(self.stages):
            name = self.stages[self.stage]
            if self.in_stage:  # resumed inside the stage: the checkpoint holds its weights and optimizer
                self.masking = name == "ticket"
            else:
                self.begin_stage(run, name)
                if self.stage == 0:  # so that a run stopped in its first stage can be resumed
                    self.save_checkpoint(run)
            self.train(run)
            self.end_stage(run, name)
        return self.finish(run)

    def begin_stage(self, run: Run, name: str) -> None:
        """Weights from ``theta_0`` (scaled for ``norm_matched``, masked for ``ticket``), a fresh
        optimizer and loop state."""
        run.model.load_state_dict(self.theta0)
        with torch.no_grad():
            if name == "norm_matched":
                scale = norm_matching_scale([self.theta0[n] for n in self.pruned_names], self.masks)
                torch._foreach_mul_(self.pruned, scale)
                self.records.setdefault("norm_matched", {})["scale"] = scale
            if name == "ticket":
                apply_masks(self.pruned, self.mask_values)
        self.masking = name == "ticket"
        run.optimizer, run.scheduler = run.make_optimizer(
            [p for p in run.model.parameters() if p.requires_grad]
        )
        self.state = LoopState()
        self.curve = [(0, self.test_accuracy())]
        self.in_stage = True

    def end_stage(self, run: Run, name: str) -> None:
        """Record the stage's curve; after the dense run, prune; checkpoint the stage boundary."""
        metrics = self.evaluate(run)
        reached = [step for step, acc in self.curve if acc >= self.target_accuracy]
        record = self.records.setdefault(name, {})
        record.update(
            {
                "steps_to_target": reached[0] if reached else None,
                "test_accuracy": self.curve[-1][1]
                if self.curve[-1][0] == self.state.step
                else self.test_accuracy(),
                "train_loss": self.state.last_loss,
                "curve": [list(point) for point in self.curve],
                **metrics,
            }
        )
        self.log(
            {"step": self.state.step, "stage_end": name, **{k: v for k, v in record.items() if k != "curve"}}
        )
        if name == "dense":
            self.masks = global_magnitude_masks([p.detach() for p in self.pruned], self.rate)
            self.mask_values = [m.to(p.dtype) for m, p in zip(self.masks, self.pruned)]
        self.masking, self.in_stage = False, False
        self.stage += 1
        self._stage_end = True
        try:
            self.save_checkpoint(run)
        finally:
            self._stage_end = False

    # -- outputs -----------------------------------------------------------------------------------
    def summarize(self, run: Run, metrics: dict[str, float]) -> dict[str, Any]:
        summary = super().summarize(run, metrics)
        summary.update(
            {
                "rate": self.rate,
                "density": density(self.masks),
                "target_accuracy": self.target_accuracy,
                **{f"{stage}_steps_to_target": r.get("steps_to_target") for stage, r in self.records.items()},
                "stages": {
                    stage: {k: v for k, v in r.items() if k != "curve"} for stage, r in self.records.items()
                },
            }
        )
        return summary

    def finish(self, run: Run) -> dict[str, Any]:
        """The core's outputs, and the mask in ``masks.safetensors`` (1: the weight survives)."""
        summary = super().finish(run)
        if self.is_main and run.run_dir is not None:
            from safetensors.torch import save_file

            save_file(
                {n: m.to(torch.uint8).cpu().contiguous() for n, m in zip(self.pruned_names, self.masks)},
                str(run.run_dir / "masks.safetensors"),
            )
        return summary

    # -- checkpoints: every ``checkpoint_every`` steps of every stage, at the start of the run and at
    # every stage boundary; a run resumes inside the stage it was stopped in ----------------------------
    def save_checkpoint(self, run: Run) -> None:
        # The loop's own end-of-stage checkpoint is written by ``end_stage`` once the stage's record is in.
        if self.in_stage and self.state.step >= self.total_steps(run) and not self._stage_end:
            return
        super().save_checkpoint(run)

    def extra_state(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "in_stage": self.in_stage,
            "curve": [list(point) for point in self.curve],
            "theta0": {k: v.cpu() for k, v in self.theta0.items()},
            "masks": {n: m.cpu() for n, m in zip(self.pruned_names, self.masks)},
            "records": self.records,
        }

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self._loaded = state

    def _unpack(self, state: dict[str, Any]) -> None:
        """Restore the stage, its curve so far, ``theta_0``, the masks and the finished stages' records."""
        # a checkpoint of an earlier version holds stage boundaries only (no "in_stage", no "curve")
        self.stage, self.in_stage = int(state["stage"]), bool(state.get("in_stage", False))
        self.curve = [(int(step), float(acc)) for step, acc in state.get("curve", [])]
        self.theta0 = {k: v.to(self.device) for k, v in state["theta0"].items()}
        self.masks = [state["masks"][n].to(self.device) for n in self.pruned_names]
        self.records = dict(state["records"])
