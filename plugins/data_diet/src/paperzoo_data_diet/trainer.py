"""The ``data_diet`` trainer: EL2N or GraNd scores early in training, prune, retrain from scratch.

The score -> prune -> retrain loop is the shared ``pruned_dataset_training`` trainer of the
``dataprune`` kit; this module plugs the paper's scores into it (the ``el2n`` or ``grand`` evaluator,
built with ``batch_size=score_batch_size``):

1. Train ``n_seeds`` copies of the model, each from its own initialisation and data order, for
   ``score_epochs`` epochs (0: score at initialisation), and average their per-example scores:
   ``chi(x, y) = 1/S sum_s chi_{w_t^s}(x, y)`` (the expectation in the paper's definition of both scores).
2. Sort the training examples by score and keep the ``(1 - prune_fraction) N`` highest, after
   skipping the ``offset_fraction N`` very highest (the paper's offset: the top of the ranking holds
   the outliers and, with corrupted labels, the mislabelled examples).
3. Train ``run.model`` from its initial weights on that subset with the core's supervised loop.
"""

from __future__ import annotations

from typing import Any, Literal

from paperzoo_dataprune.scoring import subset
from paperzoo_dataprune.select import select_kept
from paperzoo_dataprune.trainer import PrunedDatasetTraining

__all__ = ["DataDiet", "select_kept", "subset"]


class DataDiet(PrunedDatasetTraining):
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

    summary_prefix = "data_diet"

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
        if score not in ("el2n", "grand", "random"):
            raise ValueError(f"score must be 'el2n', 'grand' or 'random', got {score!r}")
        if score_epochs is None:
            epochs = loop.get("epochs", 1)
            score_epochs = 0 if score == "grand" else max(1, round(epochs / 10))
        super().__init__(
            score=None if score == "random" else score,
            keep="random" if score == "random" else "hard",
            prune_fraction=prune_fraction,
            offset_fraction=offset_fraction,
            score_params={"batch_size": score_batch_size},
            n_seeds=n_seeds,
            score_epochs=score_epochs,
            match_steps=match_steps,
            **loop,
        )
        self.score_name, self.score_batch_size = score, score_batch_size
