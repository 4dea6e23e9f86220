"""Routing traces of a tinylm MoE: tokens per expert per layer and cross-layer transition counts.

A trace is read from each MoE block's ``routing`` dict (``paperzoo_tinylm.moe.routing_traces``) after a
forward: ``experts`` ``[B, T, k]`` are the experts each token was sent to. For ``L`` blocks of ``E``
experts:

* ``loads[l, e]``: routed token-slots of expert ``e`` in block ``l`` (``loads[l].sum() == B * T * k``);
* ``transitions[l, e, f]``: pairs (slot of block ``l`` on ``e``, slot of block ``l + 1`` on ``f``) of one
  token, over all tokens (``transitions[l].sum() == B * T * k * k``): with the token's state moving from
  the device of ``e`` to that of ``f``, every such pair on two devices is one inter-device transfer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


@dataclass
class RoutingTrace:
    """Accumulated routing counts of ``n_layers`` MoE blocks of ``n_experts`` experts, top-``top_k``."""

    loads: np.ndarray  # [L, E] int64
    transitions: np.ndarray  # [L - 1, E, E] int64
    top_k: int
    tokens: int = 0

    @classmethod
    def empty(cls, n_layers: int, n_experts: int, top_k: int) -> RoutingTrace:
        return cls(
            np.zeros((n_layers, n_experts), np.int64),
            np.zeros((max(n_layers - 1, 0), n_experts, n_experts), np.int64),
            top_k,
        )

    @property
    def n_layers(self) -> int:
        return self.loads.shape[0]

    @property
    def n_experts(self) -> int:
        return self.loads.shape[1]

    def add(self, experts: list[torch.Tensor]) -> None:
        """Add one forward's ``experts`` tensors (``[B, T, k]`` per block, in block order)."""
        if len(experts) != self.n_layers:
            raise ValueError(f"got {len(experts)} MoE blocks' routing; the trace has {self.n_layers}")
        n_e = self.n_experts
        flat = [x.reshape(-1, x.shape[-1]).cpu().numpy().astype(np.int64) for x in experts]
        for layer, idx in enumerate(flat):
            self.loads[layer] += np.bincount(idx.ravel(), minlength=n_e)
        for layer in range(self.n_layers - 1):
            a, b = flat[layer], flat[layer + 1]  # [N, k] each
            pairs = (a[:, :, None] * n_e + b[:, None, :]).ravel()
            self.transitions[layer] += np.bincount(pairs, minlength=n_e * n_e).reshape(n_e, n_e)
        self.tokens += flat[0].shape[0]


def model_routing(model: nn.Module) -> list[dict[str, torch.Tensor]]:
    """The last forward's routing of every MoE block of ``model``; ``ValueError`` when it has none."""
    from paperzoo_tinylm.moe import routing_traces

    routing = routing_traces(model)
    if not routing:
        raise ValueError("model: has no MoE block with routing; accepted: a tinylm model with ffn: moe")
    return routing


@torch.no_grad()
def collect_traces(model: nn.Module, inputs: Iterable[torch.Tensor]) -> RoutingTrace:
    """Run ``model`` (eval mode, restored after) on each ``[B, T]`` batch of ``inputs`` and count its
    routing into one :class:`RoutingTrace`."""
    was_training = model.training
    model.eval()
    trace: RoutingTrace | None = None
    try:
        for ids in inputs:
            model(ids)
            experts = [r["experts"] for r in model_routing(model)]
            if trace is None:
                n_experts = model_routing(model)[0]["probs"].shape[-1]
                trace = RoutingTrace.empty(len(experts), n_experts, experts[0].shape[-1])
            trace.add(experts)
    finally:
        model.train(was_training)
    if trace is None:
        raise ValueError("inputs: got no batch; accepted: at least one [B, T] batch of token ids")
    return trace


def mutual_information(joint: np.ndarray) -> float:
    """Mutual information (bits) of the joint count table ``joint`` ``[E, E]`` (expert in block ``l``,
    expert in block ``l + 1``): 0 when the next block's routing is independent of this one's."""
    p = joint / joint.sum()
    outer = p.sum(1, keepdims=True) * p.sum(0, keepdims=True)
    nz = p > 0
    return float((p[nz] * np.log2(p[nz] / outer[nz])).sum())


def trace_stats(trace: RoutingTrace) -> dict[str, float]:
    """Summary of a trace: tokens, load imbalance of the experts (max / mean routed slots, averaged over
    blocks) and the mutual information between consecutive blocks' experts (bits, mean over pairs; its
    maximum is ``log2(E)``)."""
    loads = trace.loads.astype(np.float64)
    mi = [mutual_information(t) for t in trace.transitions] or [0.0]
    return {
        "tokens": float(trace.tokens),
        "expert_imbalance": float((loads.max(1) / loads.mean(1)).mean()),
        "mutual_information_bits": float(np.mean(mi)),
    }
