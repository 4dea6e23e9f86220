"""Shared builders of the tests: a stack of tinylm MoE blocks routed by RMoE."""

from __future__ import annotations

import torch
from paperzoo_tinylm.config import TinyLMConfig
from paperzoo_tinylm.ffn import MoE, build_ffn
from paperzoo_tinylm.moe import RoutingContext


def rmoe_config(n_layers: int = 3, d_model: int = 8, hidden_size: int = 6, **router) -> TinyLMConfig:
    params = {"router": "recurrent_router_moe", "router_params": {"hidden_size": hidden_size, **router}}
    return TinyLMConfig(
        d_model=d_model, n_layers=n_layers, n_heads=2, d_ff=12, ffn="moe", n_experts=4, moe_top_k=2,
        ffn_params=params,
    )  # fmt: skip


def moe_stack(config: TinyLMConfig, seed: int = 0) -> list[MoE]:
    """The ``n_layers`` MoE blocks a model built from ``config`` has (one routing stack), in float64."""
    torch.manual_seed(seed)
    context = RoutingContext(config.n_layers)
    return [build_ffn(config, (context, i)).double() for i in range(config.n_layers)]
