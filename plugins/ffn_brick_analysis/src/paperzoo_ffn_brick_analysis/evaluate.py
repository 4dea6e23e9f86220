"""Evaluator: overlap of the task-specific FFN neuron sets between tasks (Jaccard of top-k neurons)."""

from __future__ import annotations

import itertools
from typing import Any

import torch
from paperzoo.data import DataBundle, batches, fetch
from paperzoo.errors import ParamError

from paperzoo_ffn_brick_analysis.specialization import (
    DEFAULT_HOOK,
    expected_random_jaccard,
    neuron_statistics,
    task_overlaps,
)


class FFNNeuronSpecialization:
    """Per-task FFN neuron activation frequencies and the overlap (Jaccard index of the top-``k`` neuron
    sets, per layer) between every pair of tasks.

    Tasks: with ``tasks`` unset, the examples of the split grouped by their class label (a
    classification dataset); otherwise a list of dataset configs (``{name: tinylm_copy, ...}``), each a
    task, read through its own split.

    Keys: ``overlap`` (mean over layers and task pairs), ``overlap_layer<i>`` for the first ``layers``
    layers (mean over pairs), ``random_overlap`` (the expected Jaccard index of two random ``k``-subsets
    of the first layer's width: no specialisation and no shared preference) and ``active_fraction`` (mean
    activation frequency).

    :param k: neurons per task set.
    :param rank_by: ``frequency`` (share of tokens with activation > ``threshold``) or ``magnitude``
        (mean absolute activation).
    :param threshold: activation threshold (0: a ReLU neuron that fires).
    :param hook: tinylm hook names (a glob) of the FFN activation map.
    :param module: glob of module paths whose outputs are the activations, for any torch model (None: the
        tinylm hooks if the model has them, else every activation module).
    :param tasks: dataset configs, one per task (None: the split's classes).
    :param layers: layers reported one by one.
    :param split: ``val`` or ``train``; ``batch_size``: examples per forward pass.
    """

    def __init__(
        self,
        k: int = 8,
        rank_by: str = "frequency",
        threshold: float = 0.0,
        hook: str = DEFAULT_HOOK,
        module: str | None = None,
        tasks: list[dict[str, Any]] | None = None,
        layers: int = 0,
        split: str = "val",
        batch_size: int = 256,
    ):
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ParamError("k", f"got {k!r}; accepted: an integer >= 1")
        if rank_by not in ("frequency", "magnitude"):
            raise ParamError("rank_by", f"got {rank_by!r}; accepted: 'frequency' or 'magnitude'")
        if isinstance(layers, bool) or not isinstance(layers, int) or layers < 0:
            raise ParamError("layers", f"got {layers!r}; accepted: an integer >= 0")
        if split not in ("val", "train"):
            raise ParamError("split", f"got {split!r}; accepted: 'val' or 'train'")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ParamError("batch_size", f"got {batch_size!r}; accepted: an integer >= 1")
        if tasks is not None and (
            len(tasks) < 2 or not all(isinstance(t, dict) and isinstance(t.get("name"), str) for t in tasks)
        ):
            raise ParamError("tasks", "accepted: a list of at least two dataset configs, each with a 'name'")
        self.k, self.rank_by, self.threshold, self.hook, self.module = k, rank_by, threshold, hook, module
        self.tasks, self.layers, self.split, self.batch_size = tasks, layers, split, batch_size
        self.keys = (
            "overlap",
            "random_overlap",
            "active_fraction",
            *(f"overlap_layer{i}" for i in range(layers)),
        )

    def task_inputs(self, data: DataBundle) -> list[list[torch.Tensor]]:
        """Input batches of each task."""
        if self.tasks is not None:
            from paperzoo.api import create

            out = []
            for cfg in self.tasks:
                params = {key: v for key, v in cfg.items() if key != "name"}
                bundle = create(cfg["name"], kind="dataset", **params)
                out.append([x for x, _ in batches(getattr(bundle, self.split), self.batch_size)])
            return out
        split = getattr(data, self.split)
        x, y = fetch(split, torch.arange(len(split)))
        if data.task != "classification":
            raise ValueError(
                "tasks: unset, so the split's classes are the tasks, but the data is not classification"
            )
        groups = [x[y == label] for label in torch.unique(y)]
        if len(groups) < 2:
            raise ValueError("tasks: the split has fewer than two classes")
        return [list(g.split(self.batch_size)) for g in groups]

    def __call__(self, model: torch.nn.Module, data: DataBundle) -> dict[str, float]:
        device = next(model.parameters()).device
        stats = [
            neuron_statistics(model, [x.to(device) for x in xs], self.hook, self.module, self.threshold)
            for xs in self.task_inputs(data)
        ]
        pairs = [task_overlaps(a, b, self.k, self.rank_by) for a, b in itertools.combinations(stats, 2)]
        names = list(stats[0])
        if self.layers > len(names):
            raise ValueError(f"layers: got {self.layers}, but {len(names)} layers were measured")
        per_layer = [sum(p[n] for p in pairs) / len(pairs) for n in names]
        width = stats[0][names[0]][0].numel()
        freq = torch.stack([s[n][0].mean() for s in stats for n in names])
        out = {
            "overlap": sum(per_layer) / len(per_layer),
            "random_overlap": expected_random_jaccard(self.k, width),
            "active_fraction": float(freq.mean()),
        }
        out.update({f"overlap_layer{i}": per_layer[i] for i in range(self.layers)})
        return out
