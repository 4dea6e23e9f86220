"""Query-key reparameterisation (QKR): attention logits ``q_i . k_j`` are computed from the per-head
product ``W_qk = W_q^T W_k`` (``in x in``) as ``x_i W_qk x_j^T``, so one quantiser sees the query-key
interaction instead of two separately quantised, mutually dependent weights.

Biases: ``k``'s bias only adds per-query constants to the logits (softmax-invariant) and is dropped
exactly; ``q``'s bias adds the per-key term ``(W_k^T b_q) . x_j``, kept here in float so that the
reparameterisation is function-preserving. (The official code drops both biases.)
"""

from __future__ import annotations

import torch
from paperzoo.checks import check_int
from paperzoo.errors import ParamError
from torch import nn

from paperzoo_ofq_quant.quant import check_bits, statsq_quantize


class QKReparamAttention(nn.Module):
    """``qk_reparam``: multi-head self-attention over ``(batch, tokens, dim)`` with reparameterised
    query-key logits; with ``bits`` set, ``W_qk`` (per head, rows flattened), ``v`` and ``proj``
    weights are StatsQ fake-quantised.

    :param dim: model width (divisible by ``num_heads``).
    :param num_heads: attention heads.
    :param bits: weight bit width, or ``None`` for float.
    :param qkv_bias: whether ``q`` and ``v`` have biases.
    """

    def __init__(self, dim: int, num_heads: int = 1, bits: int | None = None, qkv_bias: bool = True):
        super().__init__()
        check_int("dim", dim, 1)
        check_int("num_heads", num_heads, 1)
        if dim % num_heads:
            raise ParamError("num_heads", f"{num_heads} does not divide dim {dim}; accepted: a divisor")
        self.bits = None if bits is None else check_bits(bits)
        self.dim, self.num_heads, self.head_dim = dim, num_heads, dim // num_heads
        self.scale = self.head_dim**-0.5
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.k = nn.Linear(dim, dim, bias=False)
        self.v = nn.Linear(dim, dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    @classmethod
    def from_attention(cls, attn: nn.Module, bits: int | None = None) -> QKReparamAttention:
        """From a timm-style attention (fused ``qkv`` Linear, ``proj``, ``num_heads``)."""
        dim = attn.qkv.in_features
        has_bias = attn.qkv.bias is not None
        new = cls(dim, attn.num_heads, bits=bits, qkv_bias=has_bias).to(attn.qkv.weight.dtype)
        with torch.no_grad():
            wq, wk, wv = attn.qkv.weight.chunk(3)
            new.q.weight.copy_(wq)
            new.k.weight.copy_(wk)
            new.v.weight.copy_(wv)
            if has_bias:
                bq, _, bv = attn.qkv.bias.chunk(3)
                new.q.bias.copy_(bq)
                new.v.bias.copy_(bv)
            new.proj.load_state_dict(attn.proj.state_dict())
        return new

    def _w(self, w: torch.Tensor) -> torch.Tensor:
        return w if self.bits is None else statsq_quantize(w, self.bits)

    def qk_weight(self) -> torch.Tensor:
        """The (quantised, if ``bits``) per-head ``W_q^T W_k``: ``(heads, dim, dim)``."""
        h, d, c = self.num_heads, self.head_dim, self.dim
        wq = self.q.weight.reshape(h, d, c)
        wk = self.k.weight.reshape(h, d, c)
        wqk = (wq.transpose(-2, -1) @ wk).reshape(h * c, c)
        return self._w(wqk).reshape(h, c, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        h = self.num_heads
        logits = torch.einsum("bic,hcd,bjd->bhij", x, self.qk_weight(), x)
        if self.q.bias is not None:  # the per-key term of q's bias
            u = torch.einsum("hd,hdc->hc", self.q.bias.reshape(h, -1), self.k.weight.reshape(h, -1, c))
            logits = logits + torch.einsum("hc,bjc->bhj", u, x).unsqueeze(2)
        attn = (logits * self.scale).softmax(dim=-1)
        v = nn.functional.linear(x, self._w(self.v.weight), self.v.bias)
        v = v.reshape(b, n, h, self.head_dim).transpose(1, 2)
        out = (attn @ v).transpose(1, 2).reshape(b, n, c)
        return nn.functional.linear(out, self._w(self.proj.weight), self.proj.bias)
