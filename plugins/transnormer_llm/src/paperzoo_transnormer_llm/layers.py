"""TransNormerLLM's layers: SimpleRMSNorm, the simple gated linear unit, LRPE with exponential decay
(LRPE-d) and lightning attention (Qin et al., 2023, arXiv:2307.14995).

* :class:`SimpleRMSNorm` (``simple_rmsnorm``): ``x / sqrt(mean(x^2) + eps)``, RMSNorm without a gain.
* :class:`SimpleGatedLinearUnit` (``simple_gated_linear_unit``): ``l3(l1(x) * l2(x))``, a GLU without
  an activation (SGLU), the channel mixer.
* :class:`LrpeDecay` (``lrpe_decay``): the decay ``lambda_h = exp(-s_h)`` of one layer (ALiBi-style
  slopes ``s_h`` scaled by ``1 - l / (L - 1) + 1e-5`` for layer ``l`` of ``L``) and the linearised
  relative positional encoding ``x -> [x cos(theta n), x sin(theta n)]`` (the feature width doubles;
  ``q_n . k_m`` then depends on ``n - m`` only through ``cos(theta (n - m))``).
* :class:`LightningAttention` (``lightning_attention``): causal linear attention with a per-head decay,
  ``o_t = sum_{s <= t} lambda^(t - s) (q_t . k_s) v_s``, unnormalised, computed block-wise: the masked
  quadratic form inside a block and a recurrent ``kv`` state across blocks. It is tinylm's chunked form
  (:func:`paperzoo_tinylm.linear_attention.linear_attention_chunked`); ``form="recurrent"`` is the
  robust token-by-token inference form and ``form="parallel"`` the naive masked one (same result).
"""

from __future__ import annotations

import math

import torch
from paperzoo_tinylm.attention import AttentionMask
from paperzoo_tinylm.linear_attention import (
    LinearAttention,
    LinearAttentionState,
    linear_attention_chunked,
    linear_attention_parallel,
    linear_attention_recurrent,
    linear_attention_state,
)
from torch import nn


class SimpleRMSNorm(nn.Module):
    """RMSNorm without a gain: ``x / sqrt(mean(x^2, -1) + eps)``, computed in the input's dtype.

    :param dim: the normalised width (kept for the norm-slot signature ``create(name, d_model)``; the
        layer has no parameters, so any width is accepted).
    :param eps: added to the mean square.
    """

    def __init__(self, dim: int | None = None, eps: float = 1e-6) -> None:
        super().__init__()
        self.dim, self.eps = dim, eps

    def extra_repr(self) -> str:
        return f"dim={self.dim}, eps={self.eps}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)


class SimpleGatedLinearUnit(nn.Module):
    """SGLU, the channel mixer: ``l3(l1(x) * l2(x))`` (a gated linear unit with no activation).

    :param d_model: input and output width.
    :param d_ff: the inner width (``None``: ``2 d_model``, as the official nanoTransNormer).
    :param bias: biases in the three linear layers.
    """

    def __init__(self, d_model: int, d_ff: int | None = None, bias: bool = False) -> None:
        super().__init__()
        d_ff = 2 * d_model if d_ff is None else d_ff
        self.l1 = nn.Linear(d_model, d_ff, bias=bias)
        self.l2 = nn.Linear(d_model, d_ff, bias=bias)
        self.l3 = nn.Linear(d_ff, d_model, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.l3(self.l1(x) * self.l2(x))


def transnormer_slopes(n_heads: int) -> list[float]:
    """The per-head base rates ``s_h`` (ALiBi's slopes): for ``n = 2^a`` heads ``r^(h+1)`` with
    ``r = 2^(-8 / n)``; otherwise the closest power of two's slopes then every other slope of twice as
    many, as the official code does."""
    if n_heads < 1:
        raise ValueError(f"n_heads: got {n_heads}; accepted: at least 1")

    def power_of_two(n: int) -> list[float]:
        start = 2.0 ** (-(2.0 ** -(math.log2(n) - 3)))
        return [start * start**i for i in range(n)]

    if math.log2(n_heads).is_integer():
        return power_of_two(n_heads)
    closest = 2 ** math.floor(math.log2(n_heads))
    return power_of_two(closest) + transnormer_slopes(2 * closest)[0::2][: n_heads - closest]


def layer_slope_scale(layer_idx: int, n_layers: int) -> float:
    """The layer factor ``1 - l / (L - 1) + 1e-5``: the first layer decays fastest, the last hardly at
    all. With one layer (the official code divides by zero) the factor is ``1 + 1e-5``."""
    if not 0 <= layer_idx < n_layers:
        raise ValueError(f"layer_idx: got {layer_idx}; accepted: 0 .. n_layers - 1 = {n_layers - 1}")
    return 1.0 - (layer_idx / (n_layers - 1) if n_layers > 1 else 0.0) + 1e-5


class LrpeDecay(nn.Module):
    """LRPE-d: linearised relative positional encoding plus the layer's exponential decay.

    ``forward(x, offset)`` maps ``x`` ``[B, H, T, D]`` (positions ``offset ...``) to ``[x cos(theta_h n),
    x sin(theta_h n)]`` ``[B, H, T, 2 D]`` with a learned ``theta`` ``[H, 1, D]`` initialised to
    ``10000^(-2 j / (H D))``, ``j = 0 .. H D - 1`` (official init); with ``use_lrpe=False`` it returns
    ``x`` unchanged. :attr:`decay` is ``lambda_h = exp(-s_h * layer_slope_scale(layer_idx, n_layers))``.

    :param n_heads: heads ``H``.
    :param head_dim: per-head width ``D`` of ``q`` and ``k``.
    :param layer_idx: this layer's index ``l``.
    :param n_layers: layers ``L`` of the model.
    :param use_lrpe: apply the rotation (the decay always applies).
    """

    def __init__(
        self, n_heads: int, head_dim: int, layer_idx: int = 0, n_layers: int = 1, use_lrpe: bool = True
    ) -> None:
        super().__init__()
        self.n_heads, self.head_dim, self.use_lrpe = n_heads, head_dim, use_lrpe
        self.layer_idx, self.n_layers = layer_idx, n_layers
        rates = torch.tensor(transnormer_slopes(n_heads), dtype=torch.float64)
        self.register_buffer("slope", rates * layer_slope_scale(layer_idx, n_layers), persistent=False)
        if use_lrpe:
            d = n_heads * head_dim
            init = 10000.0 ** (-2.0 / d * torch.arange(d, dtype=torch.float64))
            self.theta = nn.Parameter(init.reshape(n_heads, 1, head_dim).float())
        else:
            self.theta = None

    def extra_repr(self) -> str:
        return f"n_heads={self.n_heads}, head_dim={self.head_dim}, layer={self.layer_idx}/{self.n_layers}, use_lrpe={self.use_lrpe}"

    @property
    def decay(self) -> torch.Tensor:
        """``lambda_h`` ``[H]`` in float64 (callers cast to their dtype)."""
        return torch.exp(-self.slope)

    def out_dim(self) -> int:
        """The feature width after the encoding: ``2 D`` with LRPE, else ``D``."""
        return 2 * self.head_dim if self.use_lrpe else self.head_dim

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        if self.theta is None:
            return x
        index = torch.arange(offset, offset + x.shape[-2], device=x.device).to(x.dtype)[:, None]
        angle = self.theta.to(x.dtype) * index  # [H, T, D]
        return torch.cat([x * torch.cos(angle), x * torch.sin(angle)], -1)


FORMS = ("chunked", "recurrent", "parallel")


class LightningAttention(LinearAttention):
    """Lightning attention: causal, unnormalised linear attention with per-head decay, block-wise.

    Called as a tinylm kernel ``kernel(q, k, v, mask, pattern) -> z`` (``q`` alone: ``k = v = q``; no
    mask: causal, since the decayed form is causal only), or ``attend(q, k, v, state) -> (z, state)`` to
    carry the recurrent ``kv`` state ``[B, H, Dk, Dv]`` (decoding).

    :param decay: ``lambda`` per head (``None``: 1, plain causal linear attention), in ``(0, 1]``.
    :param block_size: tokens per block of the block-wise form.
    :param form: ``chunked`` (block-wise, the default), ``recurrent`` (token by token) or ``parallel``
        (the quadratic masked form).
    """

    def __init__(
        self, decay: float | list[float] | None = None, block_size: int = 64, form: str = "chunked"
    ) -> None:
        super().__init__(
            feature_map="identity", normalize=False, decay=decay, form=form, chunk_size=block_size
        )
        self.block_size = block_size

    def forward(self, q, k=None, v=None, mask: AttentionMask | None = None, pattern=None) -> torch.Tensor:
        k = q if k is None else k
        v = k if v is None else v
        if mask is None:
            mask = AttentionMask(causal=True, q_offset=k.shape[2] - q.shape[2])
        if not mask.causal or mask.cross:
            raise ValueError(
                "mask: lightning attention is causal only; accepted: a causal self-attention mask"
            )
        return super().forward(q, k, v, mask, pattern)

    def attend(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        state: LinearAttentionState | None = None,
        decay: torch.Tensor | float | list[float] | None = None,
    ) -> tuple[torch.Tensor, LinearAttentionState]:
        """Outputs of the new tokens and the state after them, continuing ``state`` (``None``: empty).
        ``decay`` overrides the module's (a tensor ``[H]``, e.g. :attr:`LrpeDecay.decay`)."""
        decay = self.decay if decay is None else decay
        return lightning_attention(
            q, k, v, decay=decay, block_size=self.block_size, form=self.form, state=state
        )


def lightning_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    decay: torch.Tensor | float | list[float] | None = None,
    block_size: int = 64,
    form: str = "chunked",
    state: LinearAttentionState | None = None,
) -> tuple[torch.Tensor, LinearAttentionState]:
    """``o_t = sum_{s <= t} lambda^(t - s) (q_t . k_s) v_s`` (plus ``lambda^(t + 1) q_t S`` from a prior
    state ``S``) in one of tinylm's forms; returns the outputs and the state after the last token."""
    if isinstance(decay, torch.Tensor):
        decay = decay.to(q.dtype)
    if form == "chunked":
        return linear_attention_chunked(q, k, v, decay=decay, chunk_size=block_size, state=state)
    if form == "recurrent":
        return linear_attention_recurrent(q, k, v, decay=decay, state=state)
    if form == "parallel":
        if state is not None:
            raise ValueError(
                "state: the parallel form starts from an empty state; accepted: chunked or recurrent"
            )
        return linear_attention_parallel(q, k, v, decay=decay), linear_attention_state(k, v, decay=decay)
    raise ValueError(f"form: got {form!r}; accepted: one of {FORMS}")
