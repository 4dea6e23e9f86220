"""The router slot of the ``moe`` ffn: router modules, the routing context shared along a stack, the
load-balance loss and the routing traces.

A **router** is a module ``router(x) -> logits``: ``x`` ``[N, d_model]`` (the tokens, flattened),
``logits`` ``[N, n_experts]``. The default is ``nn.Linear(d_model, n_experts, bias=False)`` (the softmax
router; its weight is ``mlp.router.weight``). Any registered layer is a router too, chosen by the ``moe``
ffn's params: ``ffn: moe, ffn_params: {router: <name>, router_params: {...}}``; it is built
``cls(d_model, n_experts, **router_params)``, plus ``context=`` and ``layer=`` when its constructor takes
them (a stateful router).

**Routing context.** The MoE blocks of one stack (a decoder's blocks; an encoder-decoder's encoder, then
its decoder) share one :class:`RoutingContext`, and each knows its index ``layer`` in the stack. A
stateful router reads the state the previous block's router left (``context.previous(layer)``: ``None``
at block 0, which starts every forward afresh), writes its own (``context.update(layer, state)``), and may
keep modules shared by all the stack's routers (``context.shared(name, factory)``, e.g. one recurrent
cell). The last block clears the state, so no graph outlives a forward. The models build their blocks with
``blocks.stack_blocks``, which gives them one context and their indices; a block built alone is a stack of
one.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

ROUTER_KEYS = ("router", "router_params")


class RoutingContext:
    """Routing state shared by the MoE blocks of one stack of ``n_layers`` blocks (see the module doc)."""

    def __init__(self, n_layers: int = 1) -> None:
        self.n_layers = n_layers
        self.modules: dict[str, nn.Module] = {}
        self._layer = -1
        self._state: Any = None

    def shared(self, name: str, factory: Callable[[], nn.Module]) -> nn.Module:
        """The module ``name`` shared by the stack's routers, built by ``factory()`` on first use."""
        if name not in self.modules:
            self.modules[name] = factory()
        return self.modules[name]

    def previous(self, layer: int) -> Any:
        """The state block ``layer - 1`` left in this forward (``None`` for block 0)."""
        if layer == 0:
            return None
        if self._layer != layer - 1:
            raise RuntimeError(
                f"the router of block {layer} reads the routing state of block {layer - 1}, but the last "
                f"block routed was {self._layer}: a stateful router needs the stack's blocks run in order"
            )
        return self._state

    def update(self, layer: int, state: Any) -> None:
        """Record block ``layer``'s state; the stack's last block clears it instead."""
        last = layer >= self.n_layers - 1
        self._layer, self._state = (-1, None) if last else (layer, state)


def balance_loss(probs: torch.Tensor, chosen: torch.Tensor, top_k: int) -> torch.Tensor:
    """Switch/GShard load-balance loss ``E * sum_e f_e P_e``.

    :param probs: router probabilities ``[..., E]``.
    :param chosen: 0/1 mask ``[..., E]`` of each token's top-k experts.
    :param top_k: experts per token (``f_e`` is the share of the ``N * k`` routed slots going to ``e``).
    """
    share = chosen.flatten(0, -2).mean(0) / top_k
    return probs.shape[-1] * (share * probs.flatten(0, -2).mean(0)).sum()


def router_params(ffn_params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The router name and params of the ``moe`` ffn's ``ffn_params``; ``ValueError`` on other keys."""
    unknown = sorted(set(ffn_params) - set(ROUTER_KEYS))
    if unknown:
        raise ValueError(f"ffn_params: got {unknown[0]!r} for ffn 'moe'; accepted: {', '.join(ROUTER_KEYS)}")
    return ffn_params.get("router", "linear"), dict(ffn_params.get("router_params", {}))


def build_router(
    name: str, d_model: int, n_experts: int, params: dict[str, Any], context: RoutingContext, layer: int
) -> nn.Module:
    """Router ``name`` (``linear`` or a registered layer) for block ``layer`` of the stack ``context``."""
    if name == "linear":
        if params:
            raise ValueError(
                f"ffn_params.router_params: got {sorted(params)} for the 'linear' router; accepted: {{}}"
            )
        return nn.Linear(d_model, n_experts, bias=False)
    import paperzoo
    from paperzoo.params import validate

    spec = paperzoo.get(name, "layer")
    cls = paperzoo.load(spec.qualified_name)
    checked = validate(cls, params, runtime_args=2, path="ffn_params.router_params")
    if "context" in inspect.signature(cls).parameters:
        checked.update(context=context, layer=layer)
    return cls(d_model, n_experts, **checked)


def routing_traces(model: nn.Module) -> list[dict[str, torch.Tensor]]:
    """Per MoE block of ``model`` (module order), its last forward's routing: ``logits`` ``[B, T, E]``,
    ``probs`` (softmax), ``experts`` ``[B, T, k]`` (the chosen experts, by decreasing probability),
    ``weights`` ``[B, T, k]`` (renormalised, summing to one), ``trace`` ``[B, T, E]``, ``aux_loss``."""
    from paperzoo_tinylm.ffn import MoE

    return [m.routing for m in model.modules() if isinstance(m, MoE) and m.routing is not None]
