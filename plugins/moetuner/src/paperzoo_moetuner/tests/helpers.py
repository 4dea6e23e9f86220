"""Test helpers: random trace counts and the brute-force reference (every placement, vectorised)."""

from __future__ import annotations

import itertools

import numpy as np


def random_instance(seed: int, n_layers: int, n_experts: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer ``loads`` [L, E] and ``transitions`` [L - 1, E, E] (some zero)."""
    rng = np.random.default_rng(seed)
    loads = rng.integers(1, 60, (n_layers, n_experts))
    trans = rng.integers(0, 25, (n_layers - 1, n_experts, n_experts)) * (
        rng.random((n_layers - 1, n_experts, n_experts)) < 0.7
    )
    return loads, trans


def block_placements(n_experts: int, n_devices: int, capacity: int) -> np.ndarray:
    """Every assignment of one block's experts to devices within ``capacity``: [S, E]."""
    grid = np.array(list(itertools.product(range(n_devices), repeat=n_experts)))
    counts = np.stack([(grid == g).sum(1) for g in range(n_devices)], 1)
    return grid[counts.max(1) <= capacity]


def brute_force(loads, trans, n_devices, capacity, load_weight=1.0, transfer_weight=1.0):
    """The minimum of the cost model over all placements (independent of the package: one-hot algebra
    over the Cartesian product of every block's feasible assignments). Returns (min cost, placements
    [N, L, E] and their costs)."""
    n_layers, n_experts = loads.shape
    per_block = block_placements(n_experts, n_devices, capacity)  # [S, E]
    onehot = np.eye(n_devices)[per_block]  # [S, E, G]
    dev_max = np.einsum("seg,le->lsg", onehot, loads.astype(float)).max(-1)  # [L, S]
    # same[l, s, t] = sum_{e, f, g} T[l, e, f] [s_e = g][t_f = g]
    same = np.einsum("seg,lef,tfg->lst", onehot, trans.astype(float), onehot)
    totals = trans.reshape(n_layers - 1, -1).sum(1).astype(float)
    idx = np.array(list(itertools.product(range(len(per_block)), repeat=n_layers)))  # [N, L]
    cost = load_weight * dev_max[np.arange(n_layers), idx].sum(1)
    for b in range(n_layers - 1):
        cost = cost + transfer_weight * (totals[b] - same[b, idx[:, b], idx[:, b + 1]])
    return float(cost.min()), per_block[idx], cost
