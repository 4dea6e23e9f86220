"""The ``pruned_dataset_training`` trainer: score the training set, prune it, train on the rest.

1. Score: ``n_seeds`` copies of the run's model, each re-initialised under its own seed and trained
   ``score_epochs`` epochs (0: scored at initialisation) on the full training set, each give one score
   per training example; the scores are averaged. The run's model and the global RNG are left alone.
2. Prune: :func:`~paperzoo_dataprune.select.select_kept` keeps the ``hard``, ``easy`` or a ``random``
   subset (the random rule scores nothing).
3. Train the run's model, from its initial weights, on the kept subset with the core's supervised
   loop: by default for as many optimizer steps as ``epochs`` over the full set take (``match_steps``).

The kept indices, scores and scoring time are saved in every checkpoint; a resumed run does not score
again.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Callable
from typing import Any

import torch
from paperzoo.errors import ParamError
from paperzoo.trainer import Run, Supervised
from torch.utils.data import Subset

from .scoring import ScoreFn, reinitialise, resolve_score, subset
from .select import Keep, check_keep, select_kept


class PrunedDatasetTraining(Supervised):
    """Score every training example, keep a subset by a selection rule, train on it.

    :param score: the score (higher = harder): a registered evaluator name whose object has
        ``scores(model, data)`` (``el2n``, ``grand``, ``ssl_prototype_score``, ...) or, from Python, a
        callable ``(model, data) -> (N,) tensor``. Not needed when ``keep`` is ``random``.
    :param keep: ``hard`` (the highest scores), ``easy`` (the lowest) or ``random``.
    :param prune_fraction: fraction of the training set removed, in ``[0, 1)``.
    :param offset_fraction: fraction also skipped at the kept end of the ranking (``hard``: the very
        highest scores, e.g. mislabelled examples; ``easy``: the very lowest).
    :param score_params: parameters of the evaluator named by ``score``.
    :param n_seeds: independently initialised scoring models whose scores are averaged.
    :param score_epochs: epochs each scoring model trains before scoring (0: at initialisation).
    :param match_steps: train on the subset for as many optimizer steps as ``epochs`` over the full
        training set take; otherwise ``epochs`` over the subset.
    :param loop: the ``supervised`` loop's params (``epochs``, ``max_steps``, ``batch_size``, ...).
    """

    summary_prefix = "prune"

    def __init__(
        self,
        score: str | Callable[..., Any] | None = None,
        keep: Keep = "hard",
        prune_fraction: float = 0.5,
        offset_fraction: float = 0.0,
        score_params: dict[str, Any] | None = None,
        n_seeds: int = 1,
        score_epochs: int = 0,
        match_steps: bool = True,
        **loop: Any,
    ):
        super().__init__(**loop)
        check_keep(keep)
        if keep != "random" and score is None:
            raise ParamError(
                "score",
                f"missing: keep={keep!r} ranks by a score; accepted: a registered evaluator name "
                "(or, from Python, a callable)",
            )
        for name, fraction in (("prune_fraction", prune_fraction), ("offset_fraction", offset_fraction)):
            if not 0.0 <= fraction < 1.0:
                raise ParamError(name, f"got {fraction}; accepted: a fraction in [0, 1)")
        if n_seeds < 1:
            raise ParamError("n_seeds", f"got {n_seeds}; accepted: at least 1 scoring model")
        if score_epochs < 0:
            raise ParamError(
                "score_epochs", f"got {score_epochs}; accepted: 0 (score at initialisation) or more"
            )
        self.score, self.keep, self.score_params = score, keep, dict(score_params or {})
        self.prune_fraction, self.offset_fraction = prune_fraction, offset_fraction
        self.n_seeds, self.score_epochs, self.match_steps = n_seeds, score_epochs, match_steps
        # resolved now, so that a bad evaluator name or parameter fails when the config is validated
        self._score_fn: ScoreFn | None = None if score is None else resolve_score(score, self.score_params)
        self.scores: torch.Tensor | None = None
        self.kept: torch.Tensor | None = None
        self.full_run: Run | None = None
        self.train_subset: Subset | None = None
        self.score_seconds = 0.0

    # -- scoring ---------------------------------------------------------------------------------
    def score_model(self, model: torch.nn.Module, run: Run) -> torch.Tensor:
        """One model's ``(N,)`` scores of the run's training set (subclasses override this)."""
        if self._score_fn is None:
            raise ValueError("no score to compute: the trainer was built without one (keep='random')")
        return torch.as_tensor(self._score_fn(model, run.data)).detach().cpu()

    def scoring_seeds(self, run: Run) -> list[int]:
        """The seed of each scoring model (initialisation and data order), drawn from the run's seed."""
        g = torch.Generator().manual_seed(run.seed)
        return torch.randint(2**31 - 1, (self.n_seeds,), generator=g).tolist()

    def score_one(self, run: Run, seed: int) -> torch.Tensor:
        """One scoring model's scores: a fresh initialisation trained ``score_epochs`` epochs, then
        scored. The global RNG is left as it was."""
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            model = reinitialise(copy.deepcopy(run.model))
            if self.score_epochs > 0:
                self._pretrain(model, run, seed)
            return self.score_model(model, run)

    def _pretrain(self, model: torch.nn.Module, run: Run, seed: int) -> None:
        if run.make_optimizer is None:
            raise ValueError(
                f"score_epochs={self.score_epochs} trains each scoring model with a fresh optimizer from "
                "run.make_optimizer, which this run lacks (the engine builds it from the config's optimizer)"
            )
        optimizer, scheduler = run.make_optimizer([p for p in model.parameters() if p.requires_grad])
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
        scoring_run = Run(model=model, data=run.data, optimizer=optimizer, scheduler=scheduler, seed=seed)
        loop.setup(scoring_run)
        loop.train(scoring_run)

    def compute_scores(self, run: Run) -> torch.Tensor | None:
        """The averaged ``(N,)`` score of every training example (None for the random rule)."""
        if self.keep == "random":
            return None
        return torch.stack([self.score_one(run, s) for s in self.scoring_seeds(run)]).mean(0)

    def select(self, run: Run) -> torch.Tensor:
        """The kept indices, from ``self.scores`` (the random rule: from the run's seed)."""
        scores = self.scores if self.scores is not None else torch.zeros(len(run.data.train))
        return select_kept(scores, self.prune_fraction, self.keep, self.offset_fraction, seed=run.seed)

    # -- training ----------------------------------------------------------------------------------
    def total_steps(self, run: Run) -> int:
        if self.max_steps is None and self.match_steps and self.full_run is not None:
            return self.epochs * self.steps_per_epoch(self.full_run)
        return super().total_steps(run)

    def fit(self, run: Run) -> dict[str, Any]:
        """Score (unless a checkpoint already holds the kept subset), prune, train, evaluate."""
        self.scores = self.kept = None
        self.score_seconds = 0.0
        self.full_run = run
        self.setup(run)
        if self.kept is None:
            started = time.perf_counter()
            self.scores = self.compute_scores(run)
            self.kept = self.select(run)
            self.score_seconds = time.perf_counter() - started
        self.train_subset = subset(run.data.train, self.kept)
        pruned = dataclasses.replace(run.data, train=self.train_subset)
        self.train(dataclasses.replace(run, data=pruned))
        return self.finish(run)

    def summarize(self, run: Run, metrics: dict[str, float]) -> dict[str, Any]:
        """The core summary plus the kept subset's size and the scoring time."""
        p = self.summary_prefix
        return {
            **super().summarize(run, metrics),
            f"{p}/kept": len(self.kept),
            f"{p}/train_size": len(run.data.train),
            f"{p}/score_seconds": round(self.score_seconds, 3),
        }

    # -- checkpoints -------------------------------------------------------------------------------
    def extra_state(self) -> dict[str, Any]:
        return {"kept": self.kept, "scores": self.scores, "score_seconds": self.score_seconds}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.kept, self.scores = state.get("kept"), state.get("scores")
        self.score_seconds = state.get("score_seconds", 0.0)
