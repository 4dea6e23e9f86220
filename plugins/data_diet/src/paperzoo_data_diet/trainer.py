"""The ``data_diet`` trainer: score the training set early in training, prune, retrain from scratch.

1. Train ``n_seeds`` copies of the model, each from its own initialisation and data order, for
   ``score_epochs`` epochs (0: score at initialisation), and average their per-example scores:
   ``chi(x, y) = 1/S sum_s chi_{w_t^s}(x, y)`` (the expectation in the paper's definition of both scores).
2. Sort the training examples by score and keep the ``(1 - prune_fraction) N`` highest, after
   skipping the ``offset_fraction N`` very highest (the paper's offset: the top of the ranking holds
   the outliers and, with corrupted labels, the mislabelled examples).
3. Train ``run.model`` from its initial weights on that subset with the core's supervised loop.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from typing import Any, Literal

import torch
from paperzoo.trainer import Run, Supervised
from torch.utils.data import Subset

from .scores import SCORERS


def select_kept(scores: torch.Tensor, prune_fraction: float, offset_fraction: float = 0.0) -> torch.Tensor:
    """Indices (sorted) of the examples kept: the ``N - round(prune_fraction N)`` highest scores
    once the ``round(offset_fraction N)`` highest have been skipped. Ties break by index."""
    n = len(scores)
    n_keep, n_offset = n - round(prune_fraction * n), round(offset_fraction * n)
    if not 1 <= n_keep <= n - n_offset:
        raise ValueError(
            f"prune_fraction={prune_fraction} and offset_fraction={offset_fraction} "
            f"leave no example of {n} (or reach past the highest score)"
        )
    order = torch.argsort(scores, stable=True)
    return order[n - n_offset - n_keep : n - n_offset].sort().values


def reinitialise(model: torch.nn.Module) -> torch.nn.Module:
    """Draw fresh weights for every submodule that has ``reset_parameters`` (from the global RNG)."""
    for module in model.modules():
        reset = getattr(module, "reset_parameters", None)
        if callable(reset):
            reset()
    return model


def subset(dataset: Any, indices: torch.Tensor) -> Subset:
    """``Subset(dataset, indices)``, flattened when ``dataset`` is itself a Subset (so batching a
    subset of a TensorDataset stays one indexing op per field)."""
    if isinstance(dataset, Subset):
        return Subset(dataset.dataset, torch.as_tensor(dataset.indices)[indices].tolist())
    return Subset(dataset, indices.tolist())


class DataDiet(Supervised):
    """Data pruning with EL2N or GraNd scores computed early in training, then training on the rest.

    :param score: ``el2n``, ``grand`` or ``random`` (a uniformly random subset of the same size: the
        paper's baseline).
    :param prune_fraction: fraction of the training set removed (the lowest scores).
    :param n_seeds: independently initialised models whose scores are averaged (the paper uses 10).
    :param score_epochs: epochs each scoring model trains before scoring. Default: 0 for GraNd (the
        paper scores GraNd at initialisation), ``max(1, round(epochs / 10))`` for EL2N (the paper
        scores EL2N at epoch 20 of 200 on CIFAR-10).
    :param offset_fraction: fraction of the very highest scores also dropped (0: keep the hardest).
    :param match_steps: train on the subset for as many optimizer steps as ``epochs`` over the full
        training set take (the official code's fixed step budget); otherwise ``epochs`` over the subset.
    :param score_batch_size: examples scored at once.
    :param loop: the ``supervised`` loop's params (``epochs``: passes over the full training set for
        the final training, see ``match_steps``; ``max_steps``, ``batch_size``, ...).
    """

    def __init__(
        self,
        score: Literal["el2n", "grand", "random"] = "el2n",
        prune_fraction: float = 0.5,
        n_seeds: int = 10,
        score_epochs: int | None = None,
        offset_fraction: float = 0.0,
        match_steps: bool = True,
        score_batch_size: int = 256,
        **loop: Any,
    ):
        super().__init__(**loop)
        if score not in ("el2n", "grand", "random"):
            raise ValueError(f"score must be 'el2n', 'grand' or 'random', got {score!r}")
        if not 0.0 <= prune_fraction < 1.0 or not 0.0 <= offset_fraction < 1.0:
            raise ValueError("prune_fraction and offset_fraction must lie in [0, 1)")
        if n_seeds < 1 or (score_epochs is not None and score_epochs < 0):
            raise ValueError("n_seeds must be positive and score_epochs non-negative")
        self.score, self.prune_fraction, self.n_seeds = score, prune_fraction, n_seeds
        if score_epochs is None:
            score_epochs = 0 if score == "grand" else max(1, round(self.epochs / 10))
        self.score_epochs = score_epochs
        self.offset_fraction, self.match_steps = offset_fraction, match_steps
        self.score_batch_size = score_batch_size
        self.scores: torch.Tensor | None = None
        self.kept: torch.Tensor | None = None
        self.full_run: Run | None = None
        self.train_subset: Subset | None = None

    # -- scoring ---------------------------------------------------------------------------------
    def scoring_seeds(self, run: Run) -> list[int]:
        """The seed of each scoring model (initialisation and data order), drawn from the run's seed."""
        g = torch.Generator().manual_seed(run.seed)
        return torch.randint(2**31 - 1, (self.n_seeds,), generator=g).tolist()

    def score_one(self, run: Run, seed: int) -> torch.Tensor:
        """One model's scores: a fresh initialisation trained ``score_epochs`` epochs, then scored.
        The global RNG is left as it was."""
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            model = reinitialise(copy.deepcopy(run.model))
            if self.score_epochs > 0:
                trainable = [p for p in model.parameters() if p.requires_grad]
                if run.make_optimizer is not None:
                    optimizer, scheduler = run.make_optimizer(trainable)
                else:
                    optimizer, scheduler = type(run.optimizer)(trainable, **run.optimizer.defaults), None
                loop = Supervised(
                    epochs=self.score_epochs,
                    batch_size=self.batch_size,
                    grad_accum=self.grad_accum,
                    clip_grad_norm=self.clip_grad_norm,
                    precision=self.precision,
                    device=str(self.device),
                    log_every=2**62,
                    progress=False,
                )
                scoring_run = Run(
                    model=model, data=run.data, optimizer=optimizer, scheduler=scheduler, seed=seed
                )
                loop.setup(scoring_run)
                loop.train(scoring_run)
            return SCORERS[self.score](model, run.data.train, self.score_batch_size, run.data.task)

    def compute_scores(self, run: Run) -> torch.Tensor:
        """The averaged score of every training example (``random``: i.i.d. uniform, from the run's seed)."""
        if self.score == "random":
            return torch.rand(len(run.data.train), generator=torch.Generator().manual_seed(run.seed))
        return torch.stack([self.score_one(run, s) for s in self.scoring_seeds(run)]).mean(0)

    # -- training ----------------------------------------------------------------------------------
    def total_steps(self, run: Run) -> int:
        if self.max_steps is None and self.match_steps and self.full_run is not None:
            return self.epochs * self.steps_per_epoch(self.full_run)
        return super().total_steps(run)

    def fit(self, run: Run) -> dict[str, Any]:
        """Score (unless a checkpoint already holds the kept subset), prune, train, evaluate."""
        self.scores = self.kept = None
        self.full_run = run
        self.setup(run)
        started = time.perf_counter()
        if self.kept is None:
            self.scores = self.compute_scores(run)
            self.kept = select_kept(self.scores, self.prune_fraction, self.offset_fraction)
        self.score_seconds = time.perf_counter() - started
        self.train_subset = subset(run.data.train, self.kept)
        pruned = dataclasses.replace(run.data, train=self.train_subset)
        self.train(dataclasses.replace(run, data=pruned))
        return self.finish(run)

    def summarize(self, run: Run, metrics: dict[str, float]) -> dict[str, Any]:
        """The core summary plus the kept subset's size and the scoring time."""
        return {
            **super().summarize(run, metrics),
            "data_diet/kept": len(self.kept),
            "data_diet/train_size": len(run.data.train),
            "data_diet/score_seconds": round(self.score_seconds, 3),
        }

    # -- checkpoints -------------------------------------------------------------------------------
    def extra_state(self) -> dict[str, Any]:
        return {"kept": self.kept, "scores": self.scores}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.kept, self.scores = state.get("kept"), state.get("scores")
