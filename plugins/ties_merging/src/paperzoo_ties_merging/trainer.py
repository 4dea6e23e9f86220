"""The ``ties_merging`` trainer: merge fine-tuned checkpoints of one base model into a multitask model
by TIES-Merging (or task arithmetic), pick ``lambda`` on held-out data, and evaluate the result.

Two ways to get the models that are merged:

* **Given checkpoints** (``finetuned: [paths]``, optional ``base: path``): ``theta_0`` is the
  config's model as built (e.g. a pretrained ``timm:``/``hf:`` model) or the weights at ``base``;
  each path is a weights file or a run directory. No training happens.
* **Fine-tuned here** (no ``finetuned``): the config's model is briefly pre-trained on a slice of the
  training split (all classes) to give ``theta_0``, then one copy is fine-tuned per task, a task being
  a disjoint subset of the classes (see :mod:`.tasks`), with the configured optimizer and the core's
  supervised loop. ``base.safetensors`` and ``task-<t>.safetensors`` are written under
  ``<run_dir>/tasks/`` and can be merged again later as given checkpoints.

When ``lam`` is a list, each value is tried on a held-out ``select_fraction`` of the training split
(never used for fine-tuning here) and the best one is kept, as the paper selects ``lambda`` on
validation data. The merged weights are the run's final checkpoint; resuming a finished run reloads
them unchanged.
"""

from __future__ import annotations

import copy
import math
import time
from typing import Any, Literal

import torch
from paperzoo.builtins.evaluators import Accuracy, Loss
from paperzoo.data import DataBundle
from paperzoo.trainer import Run, Supervised

from . import states
from .merge import SIGN_METHODS, Method, mergeable_keys, merged_task_vector, task_vectors_of
from .tasks import TaskFinetune, default_tasks, examples_of, subset, targets_of, task_accuracies

DEFAULT_LAMBDA = {"ties": 1.0, "task_arithmetic": 0.4}


class TiesMerging(Supervised):
    """Merge N fine-tuned models of one base: ``theta = theta_0 + lambda * merge(tau_1..tau_N)``.

    :param method: ``ties`` (trim, elect sign, disjoint mean) or ``task_arithmetic`` (sum).
    :param k: fraction of each task vector kept by the trim step (the paper's top-20% is 0.2).
    :param lam: the scaling lambda, or a list of candidates chosen on held-out data (default: 1.0 for
        ties, the paper's setting without validation data; 0.4 for task arithmetic).
    :param scope: ``model`` trims over the whole flattened task vector (paper, official code);
        ``tensor`` trims each parameter tensor separately (PEFT's per-weight merge).
    :param weights: one weight per fine-tuned model, scaling its task vector in the merge (TIES: in
        the disjoint mean, after trim and sign election, as PEFT's ``ties``; task arithmetic:
        ``sum_t w_t tau_t``); default: all 1.
    :param majority_sign_method: how TIES elects each parameter's sign: ``total`` (the paper's: the
        sign of the summed trimmed updates) or ``frequency`` (the sign that more tasks carry).
    :param base: weights of theta_0 (file or run directory); default: the config's model as built.
    :param finetuned: weights of the fine-tuned models (files or run directories); when omitted, the
        models are fine-tuned here on class-subset tasks.
    :param tasks: the class subsets, one per fine-tuned model; used for fine-tuning here and for the
        per-task accuracies (default: ``num_tasks`` groups of consecutive classes when fine-tuning here).
    :param num_tasks: number of class-subset tasks when ``tasks`` is not given.
    :param pretrain_epochs: epochs of pre-training theta_0 on all classes (fine-tuning here only).
    :param pretrain_fraction: share of the training examples used for that pre-training (disjoint
        from the fine-tuning examples).
    :param finetune_epochs: epochs of fine-tuning per task.
    :param select_fraction: share of the training split held out to choose lambda (used only when
        ``lam`` is a list).
    :param batch_size: batch size of pre-training and fine-tuning.
    :param clip_grad_norm: gradient-norm clipping while fine-tuning.
    :param precision: ``fp32``, ``bf16``, ``fp16`` or ``auto`` while fine-tuning.
    :param device: ``auto`` or a torch device string.
    :param progress: show progress bars while fine-tuning.
    """

    def __init__(
        self,
        method: Literal["ties", "task_arithmetic"] = "ties",
        k: float = 0.2,
        lam: float | list[float] | None = None,
        scope: Literal["model", "tensor"] = "model",
        weights: list[float] | None = None,
        majority_sign_method: Literal["total", "frequency"] = "total",
        base: str | None = None,
        finetuned: list[str] | None = None,
        tasks: list[list[int]] | None = None,
        num_tasks: int = 3,
        pretrain_epochs: int = 1,
        pretrain_fraction: float = 0.2,
        finetune_epochs: int = 1,
        select_fraction: float = 0.2,
        batch_size: int = 64,
        clip_grad_norm: float | None = None,
        precision: Literal["auto", "fp32", "bf16", "fp16"] = "fp32",
        device: str = "auto",
        progress: bool = True,
    ):
        super().__init__(
            epochs=1,
            batch_size=batch_size,
            clip_grad_norm=clip_grad_norm,
            precision=precision,
            device=device,
            progress=progress,
        )
        if method not in DEFAULT_LAMBDA:
            raise ValueError(f"method must be 'ties' or 'task_arithmetic', got {method!r}")
        if not 0.0 < k <= 1.0:
            raise ValueError(f"k is the fraction of each task vector kept, in (0, 1]; got {k}")
        if not (0.0 <= pretrain_fraction < 1.0 and 0.0 < select_fraction < 1.0):
            raise ValueError("pretrain_fraction must be in [0, 1) and select_fraction in (0, 1)")
        if base is not None and not finetuned:
            raise ValueError("`base` is given without `finetuned` checkpoints to merge")
        if majority_sign_method not in SIGN_METHODS:
            raise ValueError(
                f"majority_sign_method must be 'total' or 'frequency', got {majority_sign_method!r}"
            )
        if majority_sign_method != "total" and method != "ties":
            raise ValueError("majority_sign_method 'frequency' applies to method 'ties' only")
        if weights is not None:
            n_models = len(finetuned) if finetuned else len(tasks) if tasks is not None else num_tasks
            if len(weights) != n_models:
                raise ValueError(
                    f"weights has {len(weights)} values; it needs one per fine-tuned model ({n_models})"
                )
            if not all(math.isfinite(w) for w in weights):
                raise ValueError(f"weights must be finite numbers, got {list(weights)}")
        lams = DEFAULT_LAMBDA[method] if lam is None else lam
        self.lams = [float(v) for v in (lams if isinstance(lams, (list, tuple)) else [lams])]
        if not self.lams:
            raise ValueError("lam is an empty list")
        self.method: Method = method
        self.k, self.scope = k, scope
        self.weights = None if weights is None else [float(w) for w in weights]
        self.majority_sign_method = majority_sign_method
        self.base_path, self.finetuned_paths = base, list(finetuned or [])
        self.task_classes, self.num_tasks = tasks, num_tasks
        self.pretrain_epochs, self.pretrain_fraction = pretrain_epochs, pretrain_fraction
        self.finetune_epochs, self.select_fraction = finetune_epochs, select_fraction
        self.done = False
        self.outcome: dict[str, float] = {}

    # -- the run -----------------------------------------------------------------------------------
    def fit(self, run: Run) -> dict[str, Any]:
        self.setup(run)  # when resuming a finished run this restores the merged weights
        self.tasks = self._tasks(run)
        if not self.done:
            started = time.perf_counter()
            self.merge(run)
            self.train_seconds = time.perf_counter() - started
            self.done = True
            self.save_checkpoint(run)
        return self.finish(run)

    def merge(self, run: Run) -> None:
        """Get theta_0 and the fine-tuned states, merge their task vectors, choose lambda, and write
        ``theta_0 + lambda * tau_m`` into ``run.model``."""
        selection, rest = self._split(run)
        if self.finetuned_paths:
            base = states.state_of(run.model, self.base_path)
            finetuned = [states.state_of(run.model, path) for path in self.finetuned_paths]
        else:
            base, finetuned = self._finetune_here(run, rest)
            # A checkpoint once every stage is written (the model itself is still theta as built): a
            # run stopped during the merge resumes from it and reads the stages back.
            self.save_checkpoint(run)
        if self.tasks is not None and len(self.tasks) == len(finetuned):
            self._reference_scores(run, base, finetuned)
        keys = mergeable_keys(base)
        delta = merged_task_vector(
            task_vectors_of(base, finetuned, keys),
            self.method,
            self.k,
            1.0,
            self.scope,
            self.weights,
            self.majority_sign_method,
        )
        del finetuned
        lam = self._choose_lambda(run, base, delta, selection)
        states.assign(run.model, base, delta, lam)
        self.outcome["lam"] = lam

    # -- where theta_0 and theta_t come from -------------------------------------------------------------
    def _tasks(self, run: Run) -> list[list[int]] | None:
        if self.task_classes is not None:
            classes = run.data.num_classes
            bad = [c for t in self.task_classes for c in t if classes is not None and not 0 <= c < classes]
            if bad or not all(self.task_classes):
                raise ValueError(f"tasks must be non-empty lists of class indices below {classes}; got {bad}")
            return [list(t) for t in self.task_classes]
        if self.finetuned_paths:
            return None
        if run.data.task != "classification" or run.data.num_classes is None:
            raise ValueError(
                "fine-tuning here builds class-subset tasks and needs a classification dataset; "
                "for other tasks give `finetuned` checkpoints"
            )
        return default_tasks(run.data.num_classes, self.num_tasks)

    def _split(self, run: Run) -> tuple[torch.Tensor, torch.Tensor]:
        """``(selection, rest)`` positions in the training split, seeded by the run's seed."""
        n = len(run.data.train)
        order = torch.randperm(n, generator=torch.Generator().manual_seed(run.seed))
        if len(self.lams) == 1:
            return order[:0], order
        n_select = max(1, round(self.select_fraction * n))
        return order[:n_select], order[n_select:]

    def _finetune_here(self, run: Run, rest: torch.Tensor) -> tuple[dict, list[dict]]:
        if run.make_optimizer is None:
            raise ValueError(
                "fine-tuning here needs an optimizer in the config (or give `finetuned` checkpoints)"
            )
        n_pre = round(self.pretrain_fraction * len(rest)) if self.pretrain_epochs > 0 else 0
        pre, rest = rest[:n_pre], rest[n_pre:]
        targets = targets_of(run.data.train)[rest]
        base, _ = self._stage(run, 0, run.model, pre, self.pretrain_epochs)
        finetuned, losses = [], []
        for t, classes in enumerate(self.tasks):
            model, loss = self._stage(
                run, t + 1, base, rest[examples_of(targets, classes)], self.finetune_epochs, classes
            )
            finetuned.append({n: v.detach() for n, v in model.state_dict().items()})
            losses.append(loss)
        done = [v for v in losses if v is not None]
        if done:  # else every stage was read back: the loss restored with the checkpoint stands
            self.state.last_loss = sum(done) / len(done)
        return {n: v.detach() for n, v in base.state_dict().items()}, finetuned

    def _stage(
        self,
        run: Run,
        stage: int,
        start: torch.nn.Module,
        idx: torch.Tensor,
        epochs: int,
        classes: list[int] | None = None,
    ) -> tuple[torch.nn.Module, float | None]:
        """Stage 0 pre-trains a copy of ``start`` on the examples ``idx`` (all classes); stage ``t + 1``
        fine-tunes a copy on task ``t`` (``classes``). Returns the model and its last training loss. When
        resuming, a stage already written under ``<run_dir>/tasks/`` is read back instead."""
        model = copy.deepcopy(start)
        name = "base" if stage == 0 else f"task-{stage - 1}"
        file = run.run_dir / "tasks" / f"{name}.safetensors" if run.run_dir is not None else None
        if run.resume and file is not None and file.exists():
            return states.load_into(model, file), None
        loss = None
        if epochs > 0 and len(idx) > 0:
            torch.manual_seed(run.seed + stage)
            optimizer, scheduler = run.make_optimizer([p for p in model.parameters() if p.requires_grad])
            data = DataBundle(
                subset(run.data.train, idx),
                run.data.val,
                run.data.task,
                num_classes=run.data.num_classes,
                input_shape=run.data.input_shape,
            )
            stage_run = Run(
                model=model,
                data=data,
                optimizer=optimizer,
                scheduler=scheduler,
                seed=run.seed + stage,
                make_optimizer=run.make_optimizer,
                config=run.config,
            )
            options = dict(
                epochs=epochs,
                batch_size=min(self.batch_size, len(idx)),
                clip_grad_norm=self.clip_grad_norm,
                precision=self.precision,
                device=self.device_name,
                progress=self.progress,
                log_every=10**9,
            )
            trainer = Supervised(**options) if classes is None else TaskFinetune(classes, **options)
            trainer.setup(stage_run)
            trainer.train(stage_run)
            loss = trainer.state.last_loss
            self.state.step += trainer.state.step
            self.state.samples += trainer.state.samples
            self.log(
                {"step": self.state.step, "stage": name, "loss": loss, "examples": len(idx), "epochs": epochs}
            )
        if file is not None and self.is_main:
            states.save(model, file)
        return model, loss

    # -- lambda and scores ------------------------------------------------------------------------------
    def _score(self, run: Run, dataset: Any) -> float:
        """Mean per-task accuracy when tasks are known, else accuracy (classification) or minus
        the mean loss, of ``run.model`` on ``dataset``."""
        if self.tasks is not None and run.data.task == "classification":
            return _mean(task_accuracies(run.model, dataset, self.tasks))
        bundle = DataBundle(dataset, dataset, run.data.task, num_classes=run.data.num_classes)
        if run.data.task == "classification":
            return Accuracy()(run.model, bundle)["accuracy"]
        return -Loss()(run.model, bundle)["loss"]

    def _choose_lambda(self, run: Run, base: dict, delta: dict, selection: torch.Tensor) -> float:
        if len(self.lams) == 1:
            return self.lams[0]
        held_out = subset(run.data.train, selection)
        best, best_score = self.lams[0], -math.inf
        for lam in self.lams:  # tau_m does not depend on lambda: only theta_0 + lam * tau_m is rebuilt
            states.assign(run.model, base, delta, lam)
            score = self._score(run, held_out)
            self.log({"step": self.state.step, "lam": lam, "selection_score": score})
            if score > best_score:
                best, best_score = lam, score
        self.outcome["selection_score"] = best_score
        return best

    def _reference_scores(self, run: Run, base: dict, finetuned: list[dict]) -> None:
        """Per-task accuracy of theta_0 and of each fine-tuned model on its own task (validation split):
        the floor and the ceiling a merge is compared with."""
        if run.data.task != "classification":
            return
        with torch.no_grad():
            saved = {n: v.clone() for n, v in run.model.state_dict().items()}
            run.model.load_state_dict(base)
            self.outcome["base/task_accuracy"] = _mean(task_accuracies(run.model, run.data.val, self.tasks))
            own = []
            for t, state in enumerate(finetuned):
                run.model.load_state_dict(state)
                own.append(task_accuracies(run.model, run.data.val, [self.tasks[t]])[0])
            self.outcome["individual/task_accuracy"] = _mean(own)
            run.model.load_state_dict(saved)

    def evaluate(self, run: Run) -> dict[str, float]:
        metrics = super().evaluate(run)
        if self.tasks is not None and run.data.task == "classification":
            accs = task_accuracies(run.model, run.data.val, self.tasks)
            metrics["task_accuracy"] = _mean(accs)
            metrics.update({f"task_accuracy/{t}": a for t, a in enumerate(accs)})
        metrics.update(self.outcome)
        return metrics

    # -- checkpoints -------------------------------------------------------------------------------------
    def extra_state(self) -> dict[str, Any]:
        return {"done": self.done, "outcome": dict(self.outcome)}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.done = bool(state.get("done", False))
        self.outcome = dict(state.get("outcome", {}))


def _mean(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return sum(finite) / len(finite) if finite else float("nan")
