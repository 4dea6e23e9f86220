"""Sparse-GIN fine-tuning (Buehler 2025, arXiv:2501.02393): a trainable GIN over a frozen model's hidden
states, on the sparse graph its own attention defines, added as a residual adapter (an alternative to
LoRA).

For each adapted block ``i`` of a frozen tinylm decoder, during the forward pass:

1. the block's attention probabilities ``P`` ``[B, H, T, T]`` (hook ``blocks.<i>.attn.pattern``) give
   one graph: ``A = min(sum_h P_h, 1)`` (the paper code's ``sum`` construction), then the continuous
   threshold ``A <- sigmoid(alpha (A - threshold))`` (when ``alpha > 0``), then edges with weight at most
   ``edge_threshold`` are removed (the sparse graph), and causality is enforced (``j <= i``);
2. the residual stream after attention ``h`` (hook ``blocks.<i>.resid_mid``) is replaced by
   ``h + scale * RMSNorm(W_out GIN(W_in h, A))``, where
   ``GIN(x, A) = u + W_2 act(W_1 u)`` with ``u = (1 + eps) x + A x`` (edge-weighted sum aggregation);
3. everything else (and every weight of the base model) is unchanged and frozen.

``scale`` is a trainable scalar per block, zero at initialisation: the adapted model then computes
exactly (bitwise) what the frozen model computes, like LoRA with its zero-initialised ``B``.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

import torch
from torch import nn

ACTIVATIONS = {"prelu": nn.PReLU, "relu": nn.ReLU, "silu": nn.SiLU, "gelu": nn.GELU}


def sparse_graph(
    pattern: torch.Tensor, alpha: float = 10.0, threshold: float = 0.1, edge_threshold: float = 0.6
) -> torch.Tensor:
    """One weighted causal graph ``[B, T, T]`` from the attention probabilities ``[B, H, T, T]``: the
    head sum clamped at 1, ``sigmoid(alpha (A - threshold))`` when ``alpha > 0``, edges ``<=
    edge_threshold`` removed, entries above the diagonal (the future) removed."""
    a = pattern.sum(1).clamp(max=1.0)
    if alpha > 0:
        a = torch.sigmoid(alpha * (a - threshold))
    a = torch.where(a > edge_threshold, a, torch.zeros_like(a))
    return torch.tril(a)


class SparseGIN(nn.Module):
    """The adapter of one block: ``h -> h + scale * RMSNorm(W_out GIN(W_in h, A))``.

    :param d_model: width of the residual stream.
    :param hidden_dim: width of the graph network (``None``: ``d_model``, no projections).
    :param mlp_multiplier: hidden width of the GIN MLP, in units of ``hidden_dim``.
    :param activation: ``prelu`` (paper example), ``relu``, ``silu`` or ``gelu``.
    :param eps_init: the GIN ``eps`` (trainable).
    :param scale_init: the trainable output scale (0: the identity at initialisation).
    :param norm_eps: RMSNorm epsilon of the output norm.
    """

    def __init__(
        self,
        d_model: int,
        hidden_dim: int | None = None,
        mlp_multiplier: float = 1.0,
        activation: str = "prelu",
        eps_init: float = 0.0,
        scale_init: float = 0.0,
        norm_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation: got {activation!r}; accepted: one of {list(ACTIVATIONS)}")
        hidden = d_model if hidden_dim is None else int(hidden_dim)
        project = hidden != d_model
        self.w_in = nn.Linear(d_model, hidden) if project else nn.Identity()
        self.w_out = nn.Linear(hidden, d_model) if project else nn.Identity()
        inner = max(1, int(round(mlp_multiplier * hidden)))
        self.w_1, self.act, self.w_2 = (
            nn.Linear(hidden, inner),
            ACTIVATIONS[activation](),
            nn.Linear(inner, hidden),
        )
        self.eps = nn.Parameter(torch.tensor(float(eps_init)))
        self.gain = nn.Parameter(torch.ones(d_model))
        self.scale = nn.Parameter(torch.tensor(float(scale_init)))
        self.norm_eps = norm_eps

    def gin(self, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """``u + W_2 act(W_1 u)``, ``u = (1 + eps) x + A x``; ``x`` ``[B, T, D]``, ``a`` ``[B, T, T]``."""
        u = (1.0 + self.eps) * x + a @ x
        return u + self.w_2(self.act(self.w_1(u)))

    def forward(self, h: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        out = self.w_out(self.gin(self.w_in(h), a.to(h.dtype)))
        out = out * torch.rsqrt(out.pow(2).mean(-1, keepdim=True) + self.norm_eps) * self.gain
        return h + self.scale * out


def _base_model(base: Any) -> nn.Module:
    if isinstance(base, nn.Module):
        return base
    if isinstance(base, str):
        import paperzoo_tinylm

        return paperzoo_tinylm.pretrained(base)
    if isinstance(base, dict):
        from paperzoo_tinylm.model import TinyLMDecoder

        return TinyLMDecoder(**base)
    raise ValueError(
        f"base: got {type(base).__name__}; accepted: a tinylm decoder, a checkpoint name such as "
        "'stdlib-small', or a dict of tinylm_decoder fields"
    )


class SparseGINAdapter(nn.Module):
    """A frozen tinylm decoder with a Sparse-GIN adapter on some of its blocks; called like the decoder.

    :param base: a tinylm decoder, a checkpoint name (``stdlib-small``), or decoder fields (a dict).
    :param layers: the blocks to adapt (``None``: every block).
    :param alpha, threshold, edge_threshold: the graph construction (:func:`sparse_graph`).
    :param freeze: freeze every weight of ``base`` (the paper's fine-tuning).
    :param gin: the keywords of each block's :class:`SparseGIN` (``hidden_dim``, ``mlp_multiplier``,
        ``activation``, ``eps_init``, ``scale_init``).
    """

    def __init__(
        self,
        base: Any = "stdlib-small",
        layers: list[int] | None = None,
        alpha: float = 10.0,
        threshold: float = 0.1,
        edge_threshold: float = 0.6,
        freeze: bool = True,
        **gin: Any,
    ) -> None:
        super().__init__()
        self.base = _base_model(base)
        n_layers = len(self.base.blocks)
        self.layers = list(range(n_layers)) if layers is None else [int(i) for i in layers]
        if not self.layers or any(not 0 <= i < n_layers for i in self.layers):
            raise ValueError(f"layers: got {layers}; accepted: block indices in [0, {n_layers})")
        self.alpha, self.threshold, self.edge_threshold = (
            float(alpha),
            float(threshold),
            float(edge_threshold),
        )
        if freeze:
            self.base.requires_grad_(False)
        d_model = self.base.config.d_model
        self.gins = nn.ModuleDict({str(i): SparseGIN(d_model, **gin) for i in self.layers})

    def adapter_parameters(self) -> list[nn.Parameter]:
        """The trainable parameters of the adapter (not the base model's)."""
        return list(self.gins.parameters())

    def graphs(self, input_ids: torch.Tensor, **kwargs: Any) -> dict[int, torch.Tensor]:
        """The sparse graph ``[B, T, T]`` of each adapted block on ``input_ids`` (one forward)."""
        out: dict[int, torch.Tensor] = {}
        self._run(input_ids, out, **kwargs)
        return out

    def forward(self, input_ids: torch.Tensor, **kwargs: Any):
        return self._run(input_ids, None, **kwargs)

    def _run(self, input_ids: torch.Tensor, keep: dict[int, torch.Tensor] | None, **kwargs: Any):
        if kwargs.get("past_key_values") is not None or kwargs.get("use_cache"):
            raise ValueError(
                "use_cache: the Sparse-GIN adapter reads every token's state; call it without a cache"
            )
        from paperzoo_tinylm.hooks import capture, patch

        names = [f"blocks.{i}.attn.pattern" for i in self.layers]

        def adapt(i: int):
            def fn(h: torch.Tensor) -> torch.Tensor:
                a = sparse_graph(
                    got[f"blocks.{i}.attn.pattern"], self.alpha, self.threshold, self.edge_threshold
                )
                if keep is not None:
                    keep[i] = a
                return self.gins[str(i)](h, a)

            return fn

        with ExitStack() as stack:
            got = stack.enter_context(capture(self.base, names))
            for i in self.layers:
                stack.enter_context(patch(self.base, f"blocks.{i}.resid_mid", adapt(i)))
            return self.base(input_ids, **kwargs)


def gin_parameters(module: nn.Module) -> int:
    """Trainable parameters of ``module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


__all__ = ["SparseGIN", "SparseGINAdapter", "gin_parameters", "sparse_graph"]
