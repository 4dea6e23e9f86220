"""``ssl_prototype_score`` and ``teacher_student_pruning_sim`` evaluators.

``ssl_prototype_score``: per-example tensor from Python through ``scores(model, data)`` (the score
interface of the ``dataprune`` kit's ``pruned_dataset_training`` trainer); the config-level call
returns the mean, standard deviation and maximum.

``teacher_student_pruning_sim``: the numpy simulation; the model and data are not read (it is an
evaluator so that configs and ``registry`` can run it), it returns the mean test error of each rule.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from paperzoo.data import DataBundle
from paperzoo.errors import ParamError

from .embed import LAYERS, Layer, embed_with_targets
from .prototypes import Metric, prototype_scores
from .simulation import pruning_error


class SSLPrototypeScore:
    """Distance of every example's embedding to its nearest k-means prototype (higher = harder).

    :param n_clusters: ``k`` of k-means.
    :param layer: the embedding: ``penultimate`` (input of the model's last ``nn.Linear``: the encoder's
        features), ``output`` or ``input`` (raw inputs, no encoder).
    :param metric: ``cosine`` (the paper) or ``euclidean``.
    :param normalize: cluster L2-normalised embeddings.
    :param supervised: score against the class-mean prototype of the example's own label instead.
    :param seed: k-means' random state.
    :param n_init: k-means restarts.
    :param split: ``train`` or ``val``.
    :param batch_size: examples embedded at once.
    """

    keys: tuple[str, ...] = ("mean", "std", "max")

    def __init__(
        self,
        n_clusters: int = 10,
        layer: Layer = "penultimate",
        metric: Metric = "cosine",
        normalize: bool = True,
        supervised: bool = False,
        seed: int = 0,
        n_init: int = 10,
        split: Literal["train", "val"] = "train",
        batch_size: int = 256,
    ):
        for name, value in (("n_clusters", n_clusters), ("n_init", n_init), ("batch_size", batch_size)):
            if value < 1:
                raise ParamError(name, f"got {value}; accepted: at least 1")
        for name, value, accepted in (
            ("layer", layer, LAYERS),
            ("metric", metric, ("cosine", "euclidean")),
            ("split", split, ("train", "val")),
        ):
            if value not in accepted:
                raise ParamError(name, f"got {value!r}; accepted: {', '.join(accepted)}")
        self.n_clusters, self.layer, self.metric, self.normalize = n_clusters, layer, metric, normalize
        self.supervised, self.seed, self.n_init = supervised, seed, n_init
        self.split, self.batch_size = split, batch_size

    def scores(self, model: torch.nn.Module, data: DataBundle) -> torch.Tensor:
        """The ``(N,)`` float64 score of every example of the split, in dataset order."""
        dataset = getattr(data, self.split)
        emb, targets = embed_with_targets(model, dataset, self.layer, self.batch_size)
        labels = targets if self.supervised else None
        n_clusters = min(self.n_clusters, len(emb))
        s = prototype_scores(emb, n_clusters, self.metric, self.normalize, self.seed, self.n_init, labels)
        return torch.from_numpy(s)

    def __call__(self, model: torch.nn.Module, data: DataBundle) -> dict[str, float]:
        s = self.scores(model, data)
        std = float(s.std()) if len(s) > 1 else 0.0
        return {"mean": float(s.mean()), "std": std, "max": float(s.max())}


class TeacherStudentPruningSim:
    """Test error of a max-margin student perceptron trained on the hard / easy / random ``fraction_kept``
    of ``alpha_tot * n_dim`` teacher-labelled Gaussian examples, averaged over ``seeds``.

    :param n_dim: input dimension ``N``.
    :param alpha_tot: examples before pruning per dimension, ``P / N``.
    :param fraction_kept: ``f``, the fraction of the examples kept.
    :param probe_angle: angle (radians) between the probe that measures margins and the teacher.
    :param seeds: teacher/data draws averaged over (the rules share each draw).
    """

    keys: tuple[str, ...] = ("error_hard", "error_easy", "error_random")

    def __init__(
        self,
        n_dim: int = 50,
        alpha_tot: float = 8.0,
        fraction_kept: float = 0.3,
        probe_angle: float = 0.0,
        seeds: list[int] | None = None,
    ):
        if n_dim < 2 or alpha_tot <= 0 or not 0.0 < fraction_kept <= 1.0:
            raise ValueError("n_dim >= 2, alpha_tot > 0 and fraction_kept in (0, 1] are required")
        self.n_dim, self.alpha_tot, self.fraction_kept = n_dim, alpha_tot, fraction_kept
        self.probe_angle, self.seeds = probe_angle, list(seeds if seeds is not None else [0, 1, 2])

    def errors(self, keep: str) -> list[float]:
        """The test error of rule ``keep`` at each seed."""
        return [
            pruning_error(self.n_dim, self.alpha_tot, self.fraction_kept, keep, s, self.probe_angle)
            for s in self.seeds
        ]

    def __call__(
        self, model: torch.nn.Module | None = None, data: DataBundle | None = None
    ) -> dict[str, float]:
        return {f"error_{k}": float(np.mean(self.errors(k))) for k in ("hard", "easy", "random")}
