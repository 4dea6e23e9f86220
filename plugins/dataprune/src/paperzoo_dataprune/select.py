"""Selection rules: which examples a pruned training set keeps, given one score per example.

Convention: a higher score marks a *harder* example (EL2N, GraNd, the distance to a prototype).

* ``hard``: keep the ``n_keep`` highest scores, after skipping the ``n_offset`` very highest (the
  outliers or mislabelled examples at the top of a ranking);
* ``easy``: keep the ``n_keep`` lowest scores, after skipping the ``n_offset`` very lowest;
* ``random``: keep a uniformly random subset of ``n_keep`` examples (the scores are not read).

``n_keep = N - round(prune_fraction N)`` and ``n_offset = round(offset_fraction N)``. Ties break by
index (a stable sort), so a selection is a function of the scores alone.
"""

from __future__ import annotations

from typing import Literal

import torch
from paperzoo.errors import ParamError

Keep = Literal["hard", "easy", "random"]
KEEP_RULES: tuple[str, ...] = ("hard", "easy", "random")


def check_keep(keep: str) -> None:
    """A :class:`~paperzoo.errors.ParamError` naming ``keep`` unless it is one of :data:`KEEP_RULES`."""
    if keep not in KEEP_RULES:
        raise ParamError("keep", f"got {keep!r}; accepted: {', '.join(KEEP_RULES)}")


def kept_count(n: int, prune_fraction: float, offset_fraction: float = 0.0) -> tuple[int, int]:
    """``(n_keep, n_offset)`` for ``n`` examples; a ValueError when they leave no example."""
    n_keep, n_offset = n - round(prune_fraction * n), round(offset_fraction * n)
    if not 1 <= n_keep <= n - n_offset:
        raise ValueError(
            f"prune_fraction={prune_fraction} and offset_fraction={offset_fraction} "
            f"leave no example of {n} (or reach past the end of the ranking)"
        )
    return n_keep, n_offset


def select_kept(
    scores: torch.Tensor,
    prune_fraction: float,
    keep: Keep = "hard",
    offset_fraction: float = 0.0,
    seed: int = 0,
) -> torch.Tensor:
    """Sorted indices of the examples kept under rule ``keep`` (see the module docstring).

    :param scores: ``(N,)`` one score per example, higher = harder (ignored by ``random`` except for N).
    :param prune_fraction: fraction of the examples removed, in ``[0, 1)``.
    :param keep: ``hard``, ``easy`` or ``random``.
    :param offset_fraction: fraction skipped at the kept end of the ranking (``hard``: the highest,
        ``easy``: the lowest); ``random`` ignores it.
    :param seed: the random rule's seed: it keeps the ``n_keep`` highest of ``N`` i.i.d. uniform draws.
    :returns: ``(n_keep,)`` int64 indices in increasing order.
    """
    check_keep(keep)
    n = len(scores)
    if keep == "random":
        n_keep, _ = kept_count(n, prune_fraction)
        draws = torch.rand(n, generator=torch.Generator().manual_seed(seed))
        return torch.argsort(draws, stable=True)[n - n_keep :].sort().values
    n_keep, n_offset = kept_count(n, prune_fraction, offset_fraction)
    order = torch.argsort(scores, stable=True)  # ascending: easiest first
    if keep == "hard":
        chosen = order[n - n_offset - n_keep : n - n_offset]
    else:
        chosen = order[n_offset : n_offset + n_keep]
    return chosen.sort().values
