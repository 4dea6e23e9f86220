"""The CoreInfer FFN: dense over the prompt, then only over the prompt's core neurons while decoding.

A tinylm gated FFN ``down(act(gate(x)) * up(x))`` (or a plain MLP ``down(act(up(x)))``). A forward
over more than one token (the prefill) runs dense and picks the core neurons from the activations at
``mlp.post``; each later one-token forward (a decoding step on the KV cache) multiplies only the core
rows of ``gate``/``up`` and the core columns of ``down``, sliced once per prompt. The hook names of
the wrapped FFN are kept (``blocks.<i>.mlp.pre``, ``.post``, ``.out``); in a sparse step ``pre`` and
``post`` hold the ``|core|`` selected columns.
"""

from __future__ import annotations

import torch
from paperzoo_tinylm.ffn import MLP, GatedFFN, build_activation
from paperzoo_tinylm.hooks import HookPoint
from torch import nn

from paperzoo_coreinfer.selection import core_neurons


class CoreInferFFN(nn.Module):
    """CoreInfer sentence-level sparse FFN (a tinylm ffn slot: ``ffn: coreinfer_sparse_ffn``).

    :param d_model: model width.
    :param d_ff: FFN width.
    :param alpha: token-wise share (of the mean number of positive activations) kept per token.
    :param beta: a neuron is core when in the top set of at least ``beta`` of the prompt tokens.
    :param core_fraction: instead of ``beta``, keep the ``int(core_fraction * d_ff)`` most frequent.
    :param activation: tinylm activation name; ``gated``: SwiGLU form, else ``down(act(up(x)))``.
    """

    def __init__(
        self,
        d_model: int,
        d_ff: int,
        alpha: float = 0.4,
        beta: float | None = 0.2,
        core_fraction: float | None = None,
        activation: str = "silu",
        gated: bool = True,
        bias: bool = False,
    ) -> None:
        super().__init__()
        if not alpha > 0:
            raise ValueError(f"alpha: got {alpha!r}; accepted: a number > 0")
        if (beta is None) == (core_fraction is None):
            raise ValueError("beta, core_fraction: give exactly one (the other null)")
        inner = (GatedFFN if gated else MLP)(d_model, d_ff, build_activation(activation), bias)
        self._adopt(inner)
        self.alpha, self.beta, self.core_fraction = alpha, beta, core_fraction
        self.core: torch.Tensor | None = None

    @classmethod
    def wrap(cls, ffn: nn.Module, alpha: float = 0.4, beta: float | None = 0.2, core_fraction=None):
        """A CoreInfer FFN sharing the weights of a tinylm ``GatedFFN`` or ``MLP``."""
        if not isinstance(ffn, (GatedFFN, MLP)):
            raise TypeError(f"ffn: got {type(ffn).__name__}; accepted: tinylm GatedFFN or MLP")
        self = cls.__new__(cls)
        nn.Module.__init__(self)
        self._adopt(ffn)
        self.alpha, self.beta, self.core_fraction, self.core = alpha, beta, core_fraction, None
        return self.train(ffn.training)

    def _adopt(self, ffn: nn.Module) -> None:
        self.gated = isinstance(ffn, GatedFFN)
        if self.gated:
            self.gate_proj = ffn.gate_proj
        self.up_proj, self.down_proj, self.act = ffn.up_proj, ffn.down_proj, ffn.act
        self.pre, self.post, self.out = HookPoint(), HookPoint(), HookPoint()
        self._sliced: tuple | None = None

    def select(self, post: torch.Tensor) -> torch.Tensor:
        """Fix the core neurons from prefill activations ``post`` ``[..., T, d_ff]``; returns them."""
        d_ff = post.shape[-1]
        n_core = None if self.core_fraction is None else int(self.core_fraction * d_ff)
        self.set_core(core_neurons(post.detach(), self.alpha, self.beta, n_core))
        return self.core

    def set_core(self, core: torch.Tensor | None) -> None:
        """Fix (or with ``None`` clear) the core set and slice the weights once."""
        self.core, self._sliced = core, None
        if core is None:
            return
        w = self.up_proj.weight
        idx = core.to(w.device)

        def rows(lin):
            return lin.weight.detach()[idx], None if lin.bias is None else lin.bias.detach()[idx]

        gate = rows(self.gate_proj) if self.gated else None
        down_b = None if self.down_proj.bias is None else self.down_proj.bias.detach()
        self._sliced = (gate, rows(self.up_proj), self.down_proj.weight.detach()[:, idx], down_b)

    def dense(self, x: torch.Tensor) -> torch.Tensor:
        """The wrapped FFN, unchanged."""
        if self.gated:
            h = self.post(self.act(self.pre(self.gate_proj(x))) * self.up_proj(x))
        else:
            h = self.post(self.act(self.pre(self.up_proj(x))))
        return h

    def sparse(self, x: torch.Tensor) -> torch.Tensor:
        """The FFN over the core neurons only (sliced weights)."""
        gate, up, down_w, down_b = self._sliced
        lin = nn.functional.linear
        if self.gated:
            h = self.act(self.pre(lin(x, *gate))) * lin(x, *up)
        else:
            h = self.act(self.pre(lin(x, *up)))
        return self.out(lin(self.post(h), down_w, down_b))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2] > 1 or self._sliced is None:
            h = self.dense(x)
            if x.shape[-2] > 1 and not self.training:
                self.select(h)
            return self.out(self.down_proj(h))
        return self.sparse(x)

    def flops_per_token(self) -> int:
        """Multiply-adds of one decoding step: ``(2 or 3) * d_model * n`` with ``n`` the core size
        (``d_ff`` while no core set is fixed)."""
        n = self.up_proj.out_features if self.core is None else int(self.core.numel())
        return (3 if self.gated else 2) * self.up_proj.in_features * n


def apply_coreinfer(model: nn.Module, alpha: float = 0.4, beta: float | None = 0.2, core_fraction=None):
    """Replace every block's ``mlp`` of a tinylm model by a weight-sharing :class:`CoreInferFFN`."""
    for block in model.blocks:
        block.mlp = CoreInferFFN.wrap(block.mlp, alpha, beta, core_fraction)
    return model


def clear_cores(model: nn.Module) -> None:
    """Forget every fixed core set (the next forward is dense)."""
    for m in model.modules():
        if isinstance(m, CoreInferFFN):
            m.set_core(None)
