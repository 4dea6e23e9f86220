"""The ffn slot: gated (SwiGLU), plain MLP, mixture of experts, and the activations."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from paperzoo_tinylm.hooks import HookPoint
from paperzoo_tinylm.moe import RoutingContext, balance_loss, build_router, router_params


class ReLU2(nn.Module):
    """Squared ReLU."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x).square()


def build_activation(name: str, params: dict[str, Any] | None = None) -> nn.Module:
    """``silu``, ``gelu`` (exact), ``gelu_tanh`` (GPT-2's), ``relu``, ``relu2``, ``identity`` or a
    registered layer built as ``create(name, **params)``."""
    builtin = {
        "silu": nn.SiLU,
        "gelu": nn.GELU,
        "gelu_tanh": lambda: nn.GELU(approximate="tanh"),
        "relu": nn.ReLU,
        "relu2": ReLU2,
        "identity": nn.Identity,
    }
    if name in builtin:
        return builtin[name]()
    import paperzoo

    return paperzoo.create(paperzoo.get(name, "layer").qualified_name, **(params or {}))


class GatedFFN(nn.Module):
    """``down(act(gate(x)) * up(x))``; hooks ``pre`` (gate pre-activation), ``post`` (down's input),
    ``out``."""

    def __init__(self, d_model: int, d_ff: int, activation: nn.Module, bias: bool = False) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(d_model, d_ff, bias=bias)
        self.up_proj = nn.Linear(d_model, d_ff, bias=bias)
        self.down_proj = nn.Linear(d_ff, d_model, bias=bias)
        self.act = activation
        self.pre, self.post, self.out = HookPoint(), HookPoint(), HookPoint()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.post(self.act(self.pre(self.gate_proj(x))) * self.up_proj(x))
        return self.out(self.down_proj(h))


class MLP(nn.Module):
    """``down(act(up(x)))``; hooks ``pre`` (pre-activation), ``post`` (activation), ``out``."""

    def __init__(self, d_model: int, d_ff: int, activation: nn.Module, bias: bool = False) -> None:
        super().__init__()
        self.up_proj = nn.Linear(d_model, d_ff, bias=bias)
        self.down_proj = nn.Linear(d_ff, d_model, bias=bias)
        self.act = activation
        self.pre, self.post, self.out = HookPoint(), HookPoint(), HookPoint()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.down_proj(self.post(self.act(self.pre(self.up_proj(x))))))


class MoE(nn.Module):
    """Top-k routed experts (a router, the top ``k`` softmax weights renormalised to sum to one).

    ``router`` maps tokens ``[N, d_model]`` to logits ``[N, n_experts]`` (default: the softmax router
    ``nn.Linear(d_model, n_experts, bias=False)``; see :mod:`paperzoo_tinylm.moe`). After each forward:
    ``trace`` ``[B, T, E]``, each token's weight on each expert (zeros off its top-k; rows sum to one),
    ``aux_loss``, the Switch-Transformer load-balance loss ``E * sum_e f_e P_e`` (``f_e``: share of routed
    slots that went to expert ``e``, ``P_e``: mean router probability of ``e``); it is 1 for a perfectly
    balanced router; and ``routing``, a dict of ``logits``, ``probs``, ``experts`` ``[B, T, k]`` (the
    chosen experts), ``weights`` ``[B, T, k]``, ``trace`` and ``aux_loss``. Hooks: ``router_logits``,
    ``out``, and each expert's own.
    """

    def __init__(
        self,
        d_model: int,
        d_ff: int,
        n_experts: int,
        top_k: int,
        expert: str,
        activation: str,
        bias: bool,
        router: nn.Module | None = None,
    ) -> None:
        super().__init__()
        cls = GatedFFN if expert == "gated" else MLP
        self.router = router if router is not None else nn.Linear(d_model, n_experts, bias=False)
        self.experts = nn.ModuleList(
            cls(d_model, d_ff, build_activation(activation), bias) for _ in range(n_experts)
        )
        self.top_k = top_k
        self.router_logits, self.out = HookPoint(), HookPoint()
        self.trace: torch.Tensor | None = None
        self.aux_loss: torch.Tensor | None = None
        self.routing: dict[str, torch.Tensor] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n_experts = len(self.experts)
        flat = x.flatten(0, -2)
        logits = self.router_logits(self.router(flat).view(*x.shape[:-1], n_experts))
        probs = logits.softmax(-1)
        top_w, top_i = probs.topk(self.top_k, dim=-1)
        top_w = top_w / top_w.sum(-1, keepdim=True)
        self.trace = torch.zeros_like(probs).scatter(-1, top_i, top_w)
        chosen = torch.zeros_like(probs).scatter(-1, top_i, 1.0)
        self.aux_loss = balance_loss(probs, chosen, self.top_k)
        self.routing = {"logits": logits, "probs": probs, "experts": top_i, "weights": top_w}
        self.routing.update(trace=self.trace, aux_loss=self.aux_loss)
        weights = self.trace.flatten(0, -2)
        y = torch.zeros_like(flat)
        for e, expert in enumerate(self.experts):
            rows = weights[:, e].nonzero().squeeze(-1)
            if rows.numel():
                y.index_add_(0, rows, expert(flat[rows]) * weights[rows, e, None])
        return self.out(y.view_as(x))


def build_ffn(config, routing: tuple[RoutingContext, int] | None = None) -> nn.Module:
    """The ffn slot of ``config`` (a :class:`~paperzoo_tinylm.config.TinyLMConfig`); ``routing``: the
    ``moe`` slot's stack context and this block's index in it (``None``: a stack of this block alone)."""
    d, d_ff = config.d_model, config.ffn_dim
    if config.ffn == "gated":
        return GatedFFN(d, d_ff, build_activation(config.activation), config.bias)
    if config.ffn == "mlp":
        return MLP(d, d_ff, build_activation(config.activation), config.bias)
    if config.ffn == "moe":
        name, params = router_params(config.ffn_params)
        context, layer = routing if routing is not None else (RoutingContext(1), 0)
        router = build_router(name, d, config.n_experts, params, context, layer)
        return MoE(
            d,
            d_ff,
            config.n_experts,
            config.moe_top_k,
            config.moe_expert,
            config.activation,
            config.bias,
            router=router,
        )
    import paperzoo

    return paperzoo.create(paperzoo.get(config.ffn, "layer").qualified_name, d, d_ff, **config.ffn_params)
