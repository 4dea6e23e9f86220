"""``mlm_u_mazes``: solved DFS mazes as a language-modelling bundle.

Each example is one maze sequence (:mod:`paperzoo_mlm_u.mazes`) in next-token form: ``input`` the sequence
without its last token, ``target`` the sequence shifted left with ``-100`` everywhere except the path and
its ``<PATH_END>`` (the tokens after ``<PATH_START>``), so the core's default loss is next-token prediction
on the path only, as in the paper's NTP baseline. Train and validation mazes are distinct.
"""

from __future__ import annotations

import random

import torch
from paperzoo.data import DataBundle
from paperzoo.errors import ParamError
from paperzoo_tinylm.transforms import IGNORE
from torch.utils.data import TensorDataset

from paperzoo_mlm_u import mazes


def _int(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ParamError(name, f"{value!r}; accepted: an integer >= {low}")
    return value


def maze_tensors(n: int, count: int, seed: int) -> torch.Tensor:
    """``[count, sequence_length(n)]`` token ids of distinct random DFS mazes (shuffled adjacency lists)."""
    rng = random.Random(seed)
    seen, rows = set(), []
    for _ in range(50 * count + 100):
        maze = mazes.random_maze(n, rng)
        key = (maze.edges, maze.origin, maze.target)
        if key in seen:
            continue
        seen.add(key)
        rows.append(mazes.encode(maze, rng))
        if len(rows) == count:
            return torch.tensor(rows, dtype=torch.long)
    raise ParamError("n_mazes", f"{count} distinct {n}x{n} mazes could not be drawn; accepted: fewer mazes")


def next_token_pairs(seq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(inputs, targets)`` of whole sequences ``[B, T]``: targets are the path tokens only."""
    start = mazes.prefix_length_of(seq)
    targets = seq[:, 1:].clone()
    keep = torch.zeros_like(targets, dtype=torch.bool)
    keep[:, start - 1 :] = True
    keep &= targets != mazes.PAD
    return seq[:, :-1].clone(), targets.masked_fill(~keep, IGNORE)


def mlm_u_mazes(grid_n: int = 5, n_mazes: int = 2000, val_fraction: float = 0.2, seed: int = 0) -> DataBundle:
    """Random DFS mazes of ``grid_n x grid_n`` cells with random distinct origin and target.

    :param grid_n: rows and columns of the lattice (2 to 10).
    :param n_mazes: mazes in all, split into train and validation.
    :param val_fraction: share held out for validation (at least one maze each side).
    :param seed: the seed of the generator.
    """
    _int("grid_n", grid_n, 2)
    if grid_n > 10:
        raise ParamError("grid_n", f"{grid_n!r}; accepted: an integer from 2 to 10")
    _int("n_mazes", n_mazes, 2)
    _int("seed", seed, 0)
    if (
        isinstance(val_fraction, bool)
        or not isinstance(val_fraction, (int, float))
        or not 0 < val_fraction < 1
    ):
        raise ParamError("val_fraction", f"{val_fraction!r}; accepted: a number in (0, 1)")
    seq = maze_tensors(grid_n, n_mazes, seed)
    n_val = min(max(1, round(val_fraction * n_mazes)), n_mazes - 1)
    x, y = next_token_pairs(seq)
    n = n_mazes - n_val
    return DataBundle(
        TensorDataset(x[:n], y[:n]),
        TensorDataset(x[n:], y[n:]),
        task="language_modeling",
        vocab_size=mazes.vocab_size(grid_n),
        input_shape=(x.shape[1],),
        name=f"mlm_u_mazes_{grid_n}x{grid_n}",
    )
