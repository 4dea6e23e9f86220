"""Expert placement on ``G`` devices: the cost model, MoETuner's ILP (``scipy.optimize.milp``, HiGHS) and
two baselines (round-robin, greedy).

A placement is an int array ``[L, E]``: the device of each expert of each MoE block. With ``loads``
``[L, E]`` and ``transitions`` ``[L - 1, E, E]`` from a routing trace (``paperzoo_moetuner.traces``):

* device load ``D[l, g] = sum_e loads[l, e] [p[l, e] = g]``; ``max_load = sum_l max_g D[l, g]`` (each
  block waits for its slowest device);
* ``transfers = sum_l sum_{e, f} transitions[l, e, f] [p[l, e] != p[l + 1, f]]``;
* ``cost = load_weight * max_load + transfer_weight * transfers``.

Every device holds at most ``capacity`` experts of each block (default ``ceil(E / G)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix


@dataclass(frozen=True)
class PlacementCost:
    """The cost model's terms of one placement."""

    cost: float
    max_load: float  # sum over blocks of the largest device load
    transfers: float  # inter-device token transfers between consecutive blocks
    imbalance: float  # max / mean device load, averaged over blocks (1: perfectly balanced)
    transfer_share: float  # transfers / all consecutive-block transitions


def default_capacity(n_experts: int, n_devices: int) -> int:
    return math.ceil(n_experts / n_devices)


def check_placement(placement: np.ndarray, n_devices: int, capacity: int) -> None:
    """``ValueError`` unless every expert is on one device in ``range(n_devices)`` and no device holds
    more than ``capacity`` experts of a block."""
    p = np.asarray(placement)
    if p.ndim != 2 or p.min() < 0 or p.max() >= n_devices:
        raise ValueError(f"placement: needs [L, E] device ids in 0..{n_devices - 1}")
    counts = np.stack([np.bincount(row, minlength=n_devices) for row in p])
    if counts.max() > capacity:
        raise ValueError(f"placement: a device holds {counts.max()} experts of a block; capacity {capacity}")


def placement_cost(
    placement: np.ndarray,
    loads: np.ndarray,
    transitions: np.ndarray,
    n_devices: int,
    load_weight: float = 1.0,
    transfer_weight: float = 1.0,
) -> PlacementCost:
    """The cost model (module doc) of ``placement`` ``[L, E]``."""
    p = np.asarray(placement)
    loads = np.asarray(loads, dtype=np.float64)
    dev = np.stack([np.bincount(p[b], weights=loads[b], minlength=n_devices) for b in range(len(p))])
    max_load = float(dev.max(1).sum())
    mean = dev.mean(1)
    imbalance = float(np.mean(np.where(mean > 0, dev.max(1) / np.where(mean > 0, mean, 1.0), 1.0)))
    t = np.asarray(transitions, dtype=np.float64)
    cross = p[:-1, :, None] != p[1:, None, :]  # [L - 1, E, E]
    transfers = float((t * cross).sum())
    total = float(t.sum())
    return PlacementCost(
        cost=load_weight * max_load + transfer_weight * transfers,
        max_load=max_load,
        transfers=transfers,
        imbalance=imbalance,
        transfer_share=transfers / total if total > 0 else 0.0,
    )


def round_robin(n_layers: int, n_experts: int, n_devices: int) -> np.ndarray:
    """Expert ``e`` of every block on device ``e mod G`` (the usual expert-parallel layout)."""
    return np.tile(np.arange(n_experts) % n_devices, (n_layers, 1))


def greedy(
    loads: np.ndarray,
    transitions: np.ndarray,
    n_devices: int,
    capacity: int | None = None,
    load_weight: float = 1.0,
    transfer_weight: float = 1.0,
) -> np.ndarray:
    """Block by block, experts by decreasing load, each on the device (with room left) that raises the
    cost model least: ``load_weight`` x the growth of the block's largest device load plus
    ``transfer_weight`` x its transitions from the previous block's experts placed on other devices
    (block 0: longest-processing-time load balancing). Ties go to the lowest device id."""
    loads = np.asarray(loads, dtype=np.float64)
    n_layers, n_experts = loads.shape
    cap = capacity or default_capacity(n_experts, n_devices)
    p = np.full((n_layers, n_experts), -1, dtype=np.int64)
    for b in range(n_layers):
        dev, used = np.zeros(n_devices), np.zeros(n_devices, dtype=np.int64)
        for e in np.argsort(-loads[b], kind="stable"):
            inflow = np.asarray(transitions[b - 1][:, e], dtype=np.float64) if b else np.zeros(n_experts)
            best, best_cost = -1, math.inf
            for g in range(n_devices):
                if used[g] >= cap:
                    continue
                grow = max(dev.max(), dev[g] + loads[b, e]) - dev.max()
                moved = inflow[p[b - 1] != g].sum() if b else 0.0
                c = load_weight * grow + transfer_weight * moved
                if c < best_cost:
                    best, best_cost = g, c
            p[b, e], dev[best], used[best] = best, dev[best] + loads[b, e], used[best] + 1
    return p


def _groups(pairs: np.ndarray, columns: tuple[int, int]) -> dict[tuple[int, int], list[int]]:
    groups: dict[tuple[int, int], list[int]] = {}
    for i, row in enumerate(pairs):
        groups.setdefault((int(row[columns[0]]), int(row[columns[1]])), []).append(i)
    return groups


@dataclass(frozen=True)
class ILPResult:
    placement: np.ndarray  # [L, E]
    objective: float  # the cost model's value of the placement
    optimal: bool  # HiGHS proved optimality (False: stopped at the time limit with a feasible placement)
    gap: float  # relative MIP gap at the end
    n_variables: int


def solve_ilp(
    loads: np.ndarray,
    transitions: np.ndarray,
    n_devices: int,
    capacity: int | None = None,
    load_weight: float = 1.0,
    transfer_weight: float = 1.0,
    time_limit: float | None = None,
    mip_gap: float | None = None,
) -> ILPResult:
    """The placement minimising the cost model (module doc), by one mixed-integer program over all
    blocks.

    ``time_limit`` (seconds) and ``mip_gap`` (stop once the incumbent is proven within this relative gap
    of the optimum; a deterministic stop, unlike the time limit) bound the search; ``optimal`` says whether
    HiGHS finished by proving optimality (within its default gap 1e-4 when ``mip_gap`` is ``None``).

    Variables: ``x[l, e, g]`` binary (expert ``e`` of block ``l`` on device ``g``), ``m[l] >= 0`` (block
    ``l``'s largest device load) and, for each transition with a positive count, ``z[l, e, f, g]`` in
    ``[0, 1]`` (both ends on ``g``). Minimise ``load_weight sum_l m[l] - transfer_weight sum T[l, e, f]
    z[l, e, f, g]`` + transfer_weight sum T`` (``transfers = sum T - sum T z``; the constant rides on a variable fixed at 1, so
    that HiGHS's gap is relative to the true cost) subject to ``sum_g x[l, e, g] = 1``, ``sum_e x[l, e,
    g] <= capacity``, ``sum_e loads[l, e] x[l, e, g] <= m[l]``, ``z[l, e, f, g] <= x[l, e, g]`` and
    ``z[l, e, f, g] <= x[l + 1, f, g]``: as ``T >= 0`` is maximised through ``z``, ``z`` takes
    ``min(x, x')``, the product of the two binaries. Two families of valid cuts tighten the relaxation
    (without them its bound is 0 transfers): ``sum_f z[l, e, f, g] <= capacity x[l, e, g]`` and
    ``sum_e z[l, e, f, g] <= capacity x[l + 1, f, g]``. Relabelling the devices of a placement changes no
    cost, so block 0's expert ``e`` is restricted to devices ``g <= e`` (devices numbered in the order
    block 0 first uses them), which removes most copies of each optimum.
    """
    loads = np.asarray(loads, dtype=np.float64)
    t = np.asarray(transitions, dtype=np.float64)
    n_layers, n_experts = loads.shape
    g_n = n_devices
    cap = capacity or default_capacity(n_experts, g_n)
    if cap * g_n < n_experts:
        raise ValueError(f"capacity: {cap} x {g_n} devices < {n_experts} experts; accepted: >= ceil(E / G)")
    n_x = n_layers * n_experts * g_n

    def xi(b: int, e: int, g: int) -> int:
        return (b * n_experts + e) * g_n + g

    pairs = np.argwhere(t > 0)  # [P, 3]: (b, e, f)
    n_z = len(pairs) * g_n
    m0 = n_x + n_z
    n_var = (
        m0 + n_layers + 1
    )  # the last variable is fixed at 1: it carries the constant transfer_weight sum T
    c = np.zeros(n_var)
    c[m0:-1] = load_weight
    c[-1] = transfer_weight * t.sum()
    c[n_x:m0] = -transfer_weight * np.repeat(t[pairs[:, 0], pairs[:, 1], pairs[:, 2]], g_n)

    rows, cols, vals, lo, hi = [], [], [], [], []
    r = 0

    def add(entries: list[tuple[int, float]], low: float, high: float) -> None:
        nonlocal r
        for col, v in entries:
            rows.append(r)
            cols.append(col)
            vals.append(v)
        lo.append(low)
        hi.append(high)
        r += 1

    for b in range(n_layers):
        for e in range(n_experts):
            add([(xi(b, e, g), 1.0) for g in range(g_n)], 1.0, 1.0)
        for g in range(g_n):
            add([(xi(b, e, g), 1.0) for e in range(n_experts)], 0.0, cap)
            add([(xi(b, e, g), loads[b, e]) for e in range(n_experts)] + [(m0 + b, -1.0)], -np.inf, 0.0)
    for i, (b, e, f) in enumerate(pairs):
        for g in range(g_n):
            z = n_x + i * g_n + g
            add([(z, 1.0), (xi(b, e, g), -1.0)], -np.inf, 0.0)
            add([(z, 1.0), (xi(b + 1, f, g), -1.0)], -np.inf, 0.0)
    # valid cuts: an expert shares its device with at most ``capacity`` experts of the neighbouring block
    for (b, e), idx in _groups(pairs, (0, 1)).items():
        for g in range(g_n):
            add([(n_x + i * g_n + g, 1.0) for i in idx] + [(xi(b, e, g), -cap)], -np.inf, 0.0)
    for (b, f), idx in _groups(pairs, (0, 2)).items():
        for g in range(g_n):
            add([(n_x + i * g_n + g, 1.0) for i in idx] + [(xi(b + 1, f, g), -cap)], -np.inf, 0.0)
    a = coo_matrix((vals, (rows, cols)), shape=(r, n_var)).tocsr()

    lower, upper = np.zeros(n_var), np.ones(n_var)
    upper[m0:-1] = np.inf
    lower[-1] = 1.0
    for e in range(min(n_experts, g_n)):  # devices numbered by first use in block 0: e on g <= e
        upper[[xi(0, e, g) for g in range(e + 1, g_n)]] = 0.0
    integrality = np.zeros(n_var)
    integrality[:n_x] = 1
    options = {"disp": False, "presolve": True}
    if time_limit is not None:
        options["time_limit"] = float(time_limit)
    if mip_gap is not None:
        options["mip_rel_gap"] = float(mip_gap)
    res = milp(c, constraints=LinearConstraint(a, lo, hi), integrality=integrality,
               bounds=Bounds(lower, upper), options=options)  # fmt: skip
    if res.x is None:
        raise RuntimeError(f"the placement ILP found no feasible placement: {res.message}")
    x = np.round(res.x[:n_x]).reshape(n_layers, n_experts, g_n)
    placement = x.argmax(-1)
    cost = placement_cost(placement, loads, t, g_n, load_weight, transfer_weight).cost
    gap = float(getattr(res, "mip_gap", 0.0) or 0.0)
    return ILPResult(placement, cost, bool(res.status == 0), gap, n_var)


def solve_sequential(
    loads: np.ndarray,
    transitions: np.ndarray,
    n_devices: int,
    capacity: int | None = None,
    load_weight: float = 1.0,
    transfer_weight: float = 1.0,
) -> ILPResult:
    """Block by block, one small ILP each: block 0 minimises its largest device load; block ``l + 1``,
    with block ``l``'s placement fixed, minimises ``load_weight m + transfer_weight sum_{f, g} c[f, g]
    x[f, g]``, where ``c[f, g]`` counts the transitions into expert ``f`` from block ``l``'s experts on
    devices other than ``g`` (linear: no product of variables). Each step is exact given the previous
    blocks; the whole is not (``optimal`` is False unless there is one block)."""
    loads = np.asarray(loads, dtype=np.float64)
    t = np.asarray(transitions, dtype=np.float64)
    n_layers, n_experts = loads.shape
    cap = capacity or default_capacity(n_experts, n_devices)
    p = np.zeros((n_layers, n_experts), dtype=np.int64)
    for layer in range(n_layers):
        if layer:
            into = np.stack([t[layer - 1][p[layer - 1] != g].sum(0) for g in range(n_devices)], 1)  # [E, G]
        else:
            into = np.zeros((n_experts, n_devices))
        p[layer] = _one_block(loads[layer], into, n_devices, cap, load_weight, transfer_weight, layer == 0)
    cost = placement_cost(p, loads, t, n_devices, load_weight, transfer_weight).cost
    return ILPResult(p, cost, n_layers == 1, 0.0, n_layers * (n_experts * n_devices + 1))


def _one_block(load, into, n_devices, cap, load_weight, transfer_weight, first) -> np.ndarray:
    n_e, n_g = into.shape
    n_x = n_e * n_g
    c = np.concatenate([transfer_weight * into.ravel(), [load_weight]])
    a_one = np.kron(np.eye(n_e), np.ones(n_g))  # sum_g x[e, g] = 1
    a_cap = np.kron(np.ones(n_e), np.eye(n_g))  # sum_e x[e, g] <= cap
    a_load = np.kron(load[None, :], np.eye(n_g))  # sum_e load[e] x[e, g] - m <= 0
    a = np.block([[a_one, np.zeros((n_e, 1))], [a_cap, np.zeros((n_g, 1))], [a_load, -np.ones((n_g, 1))]])
    lo = np.concatenate([np.ones(n_e), np.zeros(n_g), np.full(n_g, -np.inf)])
    hi = np.concatenate([np.ones(n_e), np.full(n_g, float(cap)), np.zeros(n_g)])
    upper = np.concatenate([np.ones(n_x), [np.inf]])
    if first:
        for e in range(min(n_e, n_g)):
            upper[e * n_g + e + 1 : (e + 1) * n_g] = 0.0
    res = milp(c, constraints=LinearConstraint(a, lo, hi), integrality=np.r_[np.ones(n_x), 0],
               bounds=Bounds(np.zeros(n_x + 1), upper), options={"disp": False})  # fmt: skip
    if res.x is None:
        raise RuntimeError(f"the placement ILP found no feasible placement: {res.message}")
    return np.round(res.x[:n_x]).reshape(n_e, n_g).argmax(1)
