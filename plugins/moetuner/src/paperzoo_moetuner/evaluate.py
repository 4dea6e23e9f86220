"""The plugin's evaluators: routing-trace statistics of a tinylm MoE, and MoETuner's ILP expert placement
against round-robin and greedy placements."""

from __future__ import annotations

from itertools import islice

from paperzoo.data import DataBundle, batches
from torch import nn

from paperzoo_moetuner.placement import (
    default_capacity,
    greedy,
    placement_cost,
    round_robin,
    solve_ilp,
    solve_sequential,
)
from paperzoo_moetuner.traces import RoutingTrace, collect_traces, trace_stats


def _check_split(split: str, batch_size: int, n_batches: int) -> None:
    if split not in ("val", "train"):
        raise ValueError(f"split: got {split!r}; accepted: 'val' or 'train'")
    if batch_size < 1 or n_batches < 1:
        raise ValueError(f"batch_size, n_batches: got {batch_size}, {n_batches}; accepted: at least 1")


def trace_of(model: nn.Module, data: DataBundle, split: str, batch_size: int, n_batches: int) -> RoutingTrace:
    """The routing trace of ``model`` over the first ``n_batches`` batches of a split."""
    device = next(model.parameters()).device
    inputs = (x.to(device) for x, _ in islice(batches(getattr(data, split), batch_size), n_batches))
    return collect_traces(model, inputs)


class MoERoutingTrace:
    """Evaluator: the routing trace of a tinylm MoE over the first ``n_batches`` batches of ``split``.

    Reports ``tokens``, ``expert_imbalance`` (max / mean routed slots per expert, mean over blocks) and
    ``mutual_information_bits`` (between consecutive blocks' experts, mean over block pairs: how much one
    block's routing tells about the next's, the dependency the placement exploits). The counts are kept
    in ``self.trace`` (``loads`` [L, E], ``transitions`` [L - 1, E, E]).
    """

    keys = ("tokens", "expert_imbalance", "mutual_information_bits")

    def __init__(self, split: str = "val", batch_size: int = 16, n_batches: int = 8) -> None:
        _check_split(split, batch_size, n_batches)
        self.split, self.batch_size, self.n_batches = split, batch_size, n_batches
        self.trace: RoutingTrace | None = None

    def __call__(self, model: nn.Module, data: DataBundle) -> dict[str, float]:
        self.trace = trace_of(model, data, self.split, self.batch_size, self.n_batches)
        return trace_stats(self.trace)


METHODS = ("ilp", "round_robin", "greedy")
METRICS = ("cost", "max_load", "imbalance", "transfer_share")


class ILPExpertPlacement:
    """Evaluator: MoETuner's expert placement on ``n_devices`` devices, from the routing trace of a
    tinylm MoE over the first ``n_batches`` batches of ``split`` (``paperzoo_moetuner.placement``).

    Reports, for the ILP placement (``ilp_``), round-robin (``round_robin_``) and greedy (``greedy_``):
    ``cost`` (the objective), ``max_load`` (sum over blocks of the largest device load, token-slots),
    ``imbalance`` (max / mean device load) and ``transfer_share`` (inter-device share of consecutive-block
    transitions); ``ilp_optimal`` (1 when the joint ILP was proven optimal; 0 for ``sequential``). The
    placements are kept in ``self.placements`` ([L, E] device ids).

    :param n_devices: devices ``G``.
    :param capacity: most experts of a block on one device (default ``ceil(E / G)``).
    :param load_weight: weight of the summed largest device loads in the objective.
    :param transfer_weight: weight of the inter-device transfers in the objective.
    :param mode: ``sequential`` (one small ILP per block, the previous block's placement fixed:
        milliseconds) or ``joint`` (one ILP over all blocks: the exact optimum of the cost model, fast
        only for a few experts and devices).
    :param time_limit: seconds HiGHS may spend on the joint ILP (``None``: until optimal).
    :param mip_gap: the joint ILP stops once proven within this relative gap (``None``: HiGHS's 1e-4).
    """

    keys = (*(f"{m}_{k}" for m in METHODS for k in METRICS), "ilp_optimal")

    def __init__(
        self, n_devices: int = 4, capacity: int | None = None, load_weight: float = 1.0,
        transfer_weight: float = 1.0, mode: str = "sequential", time_limit: float | None = 60.0,
        mip_gap: float | None = None, split: str = "val",
        batch_size: int = 16, n_batches: int = 8,
    ) -> None:  # fmt: skip
        _check_split(split, batch_size, n_batches)
        if n_devices < 1 or (capacity is not None and capacity < 1):
            raise ValueError(f"n_devices, capacity: got {n_devices}, {capacity}; accepted: at least 1")
        if load_weight < 0 or transfer_weight < 0 or (time_limit is not None and time_limit <= 0):
            raise ValueError("load_weight, transfer_weight: accepted >= 0; time_limit: > 0 or null")
        if mode not in ("sequential", "joint"):
            raise ValueError(f"mode: got {mode!r}; accepted: 'sequential' or 'joint'")
        self.mode, self.mip_gap = mode, mip_gap
        self.n_devices, self.capacity = n_devices, capacity
        self.load_weight, self.transfer_weight, self.time_limit = load_weight, transfer_weight, time_limit
        self.split, self.batch_size, self.n_batches = split, batch_size, n_batches
        self.placements: dict[str, object] = {}

    def __call__(self, model: nn.Module, data: DataBundle) -> dict[str, float]:
        trace = trace_of(model, data, self.split, self.batch_size, self.n_batches)
        cap = self.capacity or default_capacity(trace.n_experts, self.n_devices)
        if cap * self.n_devices < trace.n_experts:
            raise ValueError(
                f"capacity: {cap} x {self.n_devices} devices < {trace.n_experts} experts; "
                "accepted: at least ceil(n_experts / n_devices)"
            )
        w = {"load_weight": self.load_weight, "transfer_weight": self.transfer_weight}
        if self.mode == "joint":
            ilp = solve_ilp(trace.loads, trace.transitions, self.n_devices, cap, time_limit=self.time_limit,
                            mip_gap=self.mip_gap, **w)  # fmt: skip
        else:
            ilp = solve_sequential(trace.loads, trace.transitions, self.n_devices, cap, **w)
        self.placements = {
            "ilp": ilp.placement,
            "round_robin": round_robin(trace.n_layers, trace.n_experts, self.n_devices),
            "greedy": greedy(trace.loads, trace.transitions, self.n_devices, cap, **w),
        }
        out: dict[str, float] = {}
        for name, p in self.placements.items():
            c = placement_cost(p, trace.loads, trace.transitions, self.n_devices, **w)
            out.update({f"{name}_{k}": float(getattr(c, k)) for k in METRICS})
        out["ilp_optimal"] = float(ilp.optimal)
        return out
