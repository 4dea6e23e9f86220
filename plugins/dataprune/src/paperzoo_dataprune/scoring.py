"""The score interface of the pruned trainer, and two helpers for scoring models and subsets.

A score is either

* a callable ``(model, data) -> (N,) tensor`` (``data``: the run's :class:`paperzoo.data.DataBundle`;
  one score per training example, in dataset order, higher = harder), or
* the name of a registered evaluator whose object has a method ``scores(model, data)`` with the same
  contract (for example ``el2n``, ``grand`` or ``ssl_prototype_score``), built with ``score_params``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from paperzoo.errors import ParamError
from torch.utils.data import Subset

ScoreFn = Callable[[torch.nn.Module, Any], torch.Tensor]


def resolve_score(score: str | ScoreFn, params: dict[str, Any] | None = None) -> ScoreFn:
    """The callable behind ``score``: itself, or the ``scores`` method of the evaluator it names."""
    if callable(score):
        if params:
            raise ParamError(
                "score_params", "only a registered evaluator named by score takes params; accepted: none"
            )
        return score
    import paperzoo

    evaluator = paperzoo.create(score, kind="evaluator", **(params or {}))
    method = getattr(evaluator, "scores", None)
    if not callable(method):
        raise ParamError(
            "score",
            f"evaluator {score!r} has no scores(model, data) method; accepted: an evaluator whose "
            "scores(model, data) returns one score per training example",
        )
    return method


def reinitialise(model: torch.nn.Module) -> torch.nn.Module:
    """Draw fresh weights for every submodule that has ``reset_parameters`` (from the global RNG)."""
    for module in model.modules():
        reset = getattr(module, "reset_parameters", None)
        if callable(reset):
            reset()
    return model


def subset(dataset: Any, indices: torch.Tensor) -> Subset:
    """``Subset(dataset, indices)``, flattened when ``dataset`` is itself a Subset (so batching a
    subset of a TensorDataset stays one indexing op per field). The indices stay an int64 tensor, which
    :func:`paperzoo.data.fetch` indexes with directly (a list would be converted at every batch)."""
    indices = torch.as_tensor(indices, dtype=torch.long)
    if isinstance(dataset, Subset):
        return Subset(dataset.dataset, torch.as_tensor(dataset.indices, dtype=torch.long)[indices])
    return Subset(dataset, indices)
