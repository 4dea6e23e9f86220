"""OSTQuant's equivalent transformations of a pre-norm tinylm decoder (norm gains folded first).

Placement (the paper's Fig. 3, without the online Hadamards of the KV cache and of ``down_proj``'s input):

* ``R_res`` (``d x d``, orthogonal, one for the whole model) on the residual stream: the embedding
  ``E -> E R``; every Linear reading the stream through a norm ``W -> W R`` (RMSNorm with unit gain
  commutes with an orthogonal map: ``n(x R) = n(x) R``); every Linear writing to it ``W -> R^T W``; the
  head ``W -> W R``;
* per layer, scales ``s_attn`` / ``s_ffn`` (``d``) between each norm and the Linears it feeds: norm gain
  ``1 / s``, input columns of ``q/k/v_proj`` (``gate/up_proj``) times ``s``, so the quantised activation
  is ``x R diag(s)^{-1}`` and the weight ``W R diag(s)``;
* per layer, ``R_ov`` (``head_dim x head_dim``, shared by the heads) and scales ``s_ov`` (per value
  channel) between ``v_proj``'s output and ``o_proj``'s input: attention mixes tokens linearly, so the
  rotation and scaling of each value head pass through it (``v_proj`` rows ``diag(s)^{-1} R_ov^T W_h``,
  ``o_proj`` columns ``W_h R_ov diag(s)``);
* per layer, scales ``s_ud`` (``d_ff``) between ``up_proj``'s rows (``/ s``) and ``down_proj``'s columns
  (``* s``): the gated product is linear in ``up_proj``'s output.

Every map is an equivalence: the transformed float model computes the original function (tests: float64,
1e-10). Scales are stored as logarithms (positive by construction).
"""

from __future__ import annotations

import torch
from paperzoo_compress.calib import check_supported
from paperzoo_tinylm.fold import fold_norm
from torch import nn

from paperzoo_ostquant.orth import random_hadamard

INITS = ("identity", "hadamard")


def check_transformable(model: nn.Module) -> None:
    """Raise ``ValueError`` for a model the transformations do not cover."""
    check_supported(model)
    if model.config.tie_embeddings:
        raise ValueError("model.tie_embeddings: true; accepted: false (the head and embedding rotate apart)")
    if not hasattr(model, "final_norm") or not hasattr(model.blocks[0].mlp, "gate_proj"):
        raise ValueError("model: accepted: a tinylm decoder with a final norm and a gated ffn")


@torch.no_grad()
def fold_norms_(model: nn.Module) -> nn.Module:
    """In place: every RMSNorm gain folded into the Linears that read it (gains become ones)."""
    check_transformable(model)
    for block in model.blocks:
        a, m = block.attn, block.mlp
        fold_norm(block.attn_norm, a.q_proj, a.k_proj, a.v_proj)
        fold_norm(block.ffn_norm, m.gate_proj, m.up_proj)
    fold_norm(model.final_norm, model.lm_head)
    return model


class OSTParams(nn.Module):
    """The learnable transformations of one model: ``r_res`` ``[d, d]``, ``r_ov`` ``[L, Dh, Dh]`` and the
    log-scales ``log_s_attn``/``log_s_ffn`` ``[L, d]``, ``log_s_ov`` ``[L, H_kv Dh]``, ``log_s_ud``
    ``[L, d_ff]``. ``init`` ``"hadamard"`` (QuaRot's random Hadamard rotations) or ``"identity"``."""

    def __init__(self, model: nn.Module, init: str = "hadamard", seed: int = 0) -> None:
        super().__init__()
        if init not in INITS:
            raise ValueError(f"init: {init!r}; accepted: one of {', '.join(INITS)}")
        check_transformable(model)
        attn = model.blocks[0].attn
        d, n_layers, hd = model.config.d_model, len(model.blocks), attn.head_dim
        kv, d_ff = attn.n_kv_heads * hd, model.blocks[0].mlp.down_proj.in_features
        dtype = model.lm_head.weight.dtype
        g = torch.Generator().manual_seed(seed)
        if init == "hadamard":
            r_res = random_hadamard(d, g, dtype)
            r_ov = torch.stack([random_hadamard(hd, g, dtype) for _ in range(n_layers)])
        else:
            r_res, r_ov = torch.eye(d, dtype=dtype), torch.eye(hd, dtype=dtype).repeat(n_layers, 1, 1)
        self.r_res, self.r_ov = nn.Parameter(r_res), nn.Parameter(r_ov)
        self.log_s_attn = nn.Parameter(torch.zeros(n_layers, d, dtype=dtype))
        self.log_s_ffn = nn.Parameter(torch.zeros(n_layers, d, dtype=dtype))
        self.log_s_ov = nn.Parameter(torch.zeros(n_layers, kv, dtype=dtype))
        self.log_s_ud = nn.Parameter(torch.zeros(n_layers, d_ff, dtype=dtype))

    def rotations(self) -> list[nn.Parameter]:
        return [self.r_res, self.r_ov]

    def scales(self) -> list[nn.Parameter]:
        return [self.log_s_attn, self.log_s_ffn, self.log_s_ov, self.log_s_ud]


def transform_names(model: nn.Module) -> list[str]:
    """The parameters :func:`transformed` rewrites (a folded model's)."""
    names = ["tok_embed.weight", "lm_head.weight"]
    for i in range(len(model.blocks)):
        p = f"blocks.{i}."
        names += [p + "attn_norm.weight", p + "ffn_norm.weight"]
        names += [p + f"attn.{n}.weight" for n in ("q_proj", "k_proj", "v_proj", "o_proj")]
        names += [p + f"mlp.{n}.weight" for n in ("gate_proj", "up_proj", "down_proj")]
    return names


def transformed(model: nn.Module, base: dict[str, torch.Tensor], ost: OSTParams) -> dict[str, torch.Tensor]:
    """The transformed values of :func:`transform_names` from the folded ``base`` weights (differentiable
    in ``ost``)."""
    r = ost.r_res
    attn = model.blocks[0].attn
    hd, h, h_kv = attn.head_dim, attn.n_heads, attn.n_kv_heads
    out = {"tok_embed.weight": base["tok_embed.weight"] @ r, "lm_head.weight": base["lm_head.weight"] @ r}
    for i in range(len(model.blocks)):
        p = f"blocks.{i}."
        s_a, s_f = ost.log_s_attn[i].exp(), ost.log_s_ffn[i].exp()
        s_ov, s_ud, r_ov = ost.log_s_ov[i].exp(), ost.log_s_ud[i].exp(), ost.r_ov[i]
        out[p + "attn_norm.weight"] = 1 / s_a
        out[p + "ffn_norm.weight"] = 1 / s_f
        for n in ("q_proj", "k_proj"):
            out[p + f"attn.{n}.weight"] = base[p + f"attn.{n}.weight"] @ r * s_a
        wv = (base[p + "attn.v_proj.weight"] @ r * s_a).reshape(h_kv, hd, -1)
        wv = torch.einsum("ji,hjd->hid", r_ov, wv).reshape(h_kv * hd, -1)
        out[p + "attn.v_proj.weight"] = wv / s_ov[:, None]
        s_o = s_ov.reshape(h_kv, hd).repeat_interleave(h // h_kv, 0)
        wo = base[p + "attn.o_proj.weight"].reshape(-1, h, hd) @ r_ov * s_o
        out[p + "attn.o_proj.weight"] = r.T @ wo.reshape(-1, h * hd)
        out[p + "mlp.gate_proj.weight"] = base[p + "mlp.gate_proj.weight"] @ r * s_f
        out[p + "mlp.up_proj.weight"] = (base[p + "mlp.up_proj.weight"] @ r * s_f) / s_ud[:, None]
        out[p + "mlp.down_proj.weight"] = r.T @ (base[p + "mlp.down_proj.weight"] * s_ud)
    return out


@torch.no_grad()
def apply_(model: nn.Module, ost: OSTParams) -> nn.Module:
    """In place: fold the norms and write the transformed weights into ``model`` (the same function in
    exact arithmetic; parameter names and shapes unchanged)."""
    fold_norms_(model)
    base = {n: model.get_parameter(n).detach().clone() for n in transform_names(model)}
    for name, value in transformed(model, base, ost).items():
        model.get_parameter(name).copy_(value)
    return model
