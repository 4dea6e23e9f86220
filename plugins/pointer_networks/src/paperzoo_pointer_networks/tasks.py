"""The pointer tasks, generated deterministically from a seed (nothing is downloaded).

Every example is ``(x, y)``: ``x`` (n, d) the input elements, ``y`` the target positions into ``x``.

* sorting (d = 1): numbers uniform in [0, 1); ``y`` (n,) the positions in ascending order of value.
* convex hull (d = 2): points uniform in the unit square; ``y`` (n + 1,) the hull's vertices from the
  lowest index counter-clockwise, then the stop position ``n``, then ``IGNORE`` padding.
* planar TSP (d = 2): points uniform in the unit square; ``y`` (n,) an optimal closed tour (exact, by
  Held-Karp), from city 0, oriented so that the second city has a lower index than the last.
"""

from __future__ import annotations

import torch
from paperzoo.data import DataBundle
from paperzoo.errors import ParamError
from torch.utils.data import TensorDataset

from paperzoo_pointer_networks.geometry import convex_hull_order, held_karp
from paperzoo_pointer_networks.model import IGNORE

MAX_TSP_N = 12  # Held-Karp is O(2^n n^2) per instance


def sorting_examples(count: int, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` sorting examples of ``n`` numbers."""
    x = torch.rand(count, n, 1, generator=generator)
    return x, x[..., 0].argsort(dim=1)


def convex_hull_examples(count: int, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` convex-hull examples of ``n`` points (targets padded to n + 1)."""
    x = torch.rand(count, n, 2, generator=generator, dtype=torch.float64)
    y = torch.full((count, n + 1), IGNORE, dtype=torch.long)
    for i in range(count):
        hull = convex_hull_order(x[i].numpy()) + [n]
        y[i, : len(hull)] = torch.tensor(hull)
    return x.float(), y


def tsp_examples(count: int, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` planar TSP examples of ``n`` cities with their optimal tours."""
    x = torch.rand(count, n, 2, generator=generator, dtype=torch.float64)
    tours = torch.cat([held_karp(x[s : s + 4096])[0] for s in range(0, count, 4096)])
    return x.float(), tours


_MAKERS = {"sorting": sorting_examples, "convex_hull": convex_hull_examples, "tsp": tsp_examples}


def make_examples(task: str, count: int, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` examples of ``task`` (sorting | convex_hull | tsp) with ``n`` elements, from ``seed``."""
    return _MAKERS[task](count, n, torch.Generator().manual_seed(seed))


def _bundle(task: str, n: int, n_train: int, n_val: int, val_n: int | None, seed: int, min_n: int):
    val_n = n if val_n is None else val_n
    for name, value in (("n", n), ("val_n", val_n)):
        if value < min_n or (task == "tsp" and value > MAX_TSP_N):
            upper = f" and at most {MAX_TSP_N} (exact tours)" if task == "tsp" else ""
            raise ParamError(name, f"got {value}; accepted: at least {min_n}{upper}")
    for name, value in (("n_train", n_train), ("n_val", n_val)):
        if value < 1:
            raise ParamError(name, f"got {value}; accepted: at least 1")
    train = TensorDataset(*make_examples(task, n_train, n, seed))
    val = TensorDataset(*make_examples(task, n_val, val_n, seed + 1_000_003))
    dim = 1 if task == "sorting" else 2
    return DataBundle(train, val, "classification", input_shape=(n, dim), name=f"pointer_{task}")


def pointer_sorting(
    n: int = 10, n_train: int = 10000, n_val: int = 1000, val_n: int | None = None, seed: int = 0
) -> DataBundle:
    """Sort ``n`` numbers (output: their positions in ascending order); validation inputs have ``val_n``
    numbers (default ``n``: a different length tests generalisation beyond the trained size)."""
    return _bundle("sorting", n, n_train, n_val, val_n, seed, min_n=1)


def pointer_convex_hull(
    n: int = 10, n_train: int = 10000, n_val: int = 1000, val_n: int | None = None, seed: int = 0
) -> DataBundle:
    """Planar convex hull of ``n`` points (output: hull vertices from the lowest index counter-clockwise,
    then the stop position ``n``)."""
    return _bundle("convex_hull", n, n_train, n_val, val_n, seed, min_n=3)


def pointer_tsp(
    n: int = 5, n_train: int = 10000, n_val: int = 1000, val_n: int | None = None, seed: int = 0
) -> DataBundle:
    """Planar symmetric TSP on ``n`` cities (output: an exact optimal tour by Held-Karp)."""
    return _bundle("tsp", n, n_train, n_val, val_n, seed, min_n=3)
