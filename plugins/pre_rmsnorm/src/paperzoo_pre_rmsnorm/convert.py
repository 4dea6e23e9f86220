"""Pre-LN tinylm decoder -> the equivalent Pre-RMSNorm or Pre-CRMSNorm decoder.

Inference form (:func:`convert`): every writer to the residual stream (token and position embeddings,
each attention output projection and ffn down projection, weights and biases) is recentred so that the
stream has zero mean; then each LayerNorm's gain and bias fold into the Linears that read it (shared
helper :func:`paperzoo_tinylm.fold.fold_norm`), and LayerNorm without affine equals RMSNorm on a zero-mean
stream. ``crms_norm`` further stores the stream as its first ``d - 1`` coordinates: writers keep their
first ``d - 1`` output rows, readers absorb the dropped coordinate (``W[:, :-1] - W[:, -1:]``).

Training form (:func:`trainable`): the same raw parameters in a Pre-RMSNorm decoder whose writers are
recentred inside the forward (a parametrisation), so it is the same function of the same parameters
and trains along the same trajectory under any optimizer.
"""

from __future__ import annotations

import copy
import dataclasses

import torch
from paperzoo_tinylm.fold import fold_norm
from paperzoo_tinylm.model import TinyLMDecoder
from torch import nn
from torch.nn.utils import parametrize

TARGETS = ("rms_norm", "crms_norm")


def check_convertible(model: nn.Module) -> None:
    """Raise ``ValueError`` naming the field unless ``model`` is a Pre-LN tinylm decoder."""
    if not isinstance(model, TinyLMDecoder):
        raise ValueError(f"model: a tinylm_decoder is needed, not {type(model).__name__}")
    c = model.config
    problems = {
        "norm": (c.norm == "layer_norm" and not c.norm_params, "layer_norm (without norm_params)"),
        "norm_placement": (set(c.placements()) == {"pre"}, "pre in every block"),
        "embed_norm": (not c.embed_norm, "false"),
        "ffn": (c.ffn in ("mlp", "gated"), "mlp or gated"),
        "final_norm": (c.has_final_norm, "a final norm (pre-norm models end with one)"),
    }
    for name, (ok, wanted) in problems.items():
        if not ok:
            raise ValueError(f"model.{name}: {getattr(c, name)!r} cannot convert; expected {wanted}")


def _writers(model: TinyLMDecoder) -> list[nn.Linear]:
    return [m for b in model.blocks for m in (b.attn.o_proj, b.mlp.down_proj)]


def _embeddings(model: TinyLMDecoder) -> list[nn.Embedding]:
    return [model.tok_embed] + ([model.pos_embed] if hasattr(model, "pos_embed") else [])


def _readers(block: nn.Module) -> tuple[list[nn.Linear], list[nn.Linear]]:
    ffn = [block.mlp.gate_proj, block.mlp.up_proj] if hasattr(block.mlp, "gate_proj") else [block.mlp.up_proj]
    return [block.attn.q_proj, block.attn.k_proj, block.attn.v_proj], ffn


def _untie(model: TinyLMDecoder) -> None:
    if model.lm_head.weight is model.tok_embed.weight:
        model.lm_head.weight = nn.Parameter(model.tok_embed.weight.detach().clone())


@torch.no_grad()
def recentre(model: TinyLMDecoder) -> None:
    """Subtract, in place, the feature mean of every embedding row and of every stream writer's output
    (weight columns and bias): the residual stream then has zero mean at every position."""
    _untie(model)
    for emb in _embeddings(model):
        emb.weight.sub_(emb.weight.mean(-1, keepdim=True))
    for lin in _writers(model):
        lin.weight.sub_(lin.weight.mean(0, keepdim=True))
        if lin.bias is not None:
            lin.bias.sub_(lin.bias.mean())


def _target_config(model: TinyLMDecoder, target: str):
    c = model.config
    d = c.d_model - (target == "crms_norm")
    return dataclasses.replace(
        c,
        norm=target,
        norm_params={"eps": c.norm_eps} if target == "crms_norm" else {},
        d_model=d,
        head_dim=c.dim_head,
        d_ff=model.blocks[0].mlp.down_proj.in_features,
        tie_embeddings=False,
    )


@torch.no_grad()
def _compress(model: TinyLMDecoder) -> None:
    """Rewrite a recentred, folded model in place to act on the compressed stream (width ``d - 1``)."""
    for emb in _embeddings(model):
        emb.weight = nn.Parameter(emb.weight[:, :-1].clone())
    for lin in _writers(model):
        lin.weight = nn.Parameter(lin.weight[:-1].clone())
        if lin.bias is not None:
            lin.bias = nn.Parameter(lin.bias[:-1].clone())
    readers = [lin for b in model.blocks for group in _readers(b) for lin in group] + [model.lm_head]
    for lin in readers:
        lin.weight = nn.Parameter((lin.weight[:, :-1] - lin.weight[:, -1:]).clone())


@torch.no_grad()
def convert(model: TinyLMDecoder, target: str = "rms_norm") -> TinyLMDecoder:
    """The Pre-RMSNorm (``rms_norm``) or Pre-CRMSNorm (``crms_norm``) decoder computing the same logits
    as the Pre-LN ``model`` (which is left unchanged). A LayerNorm bias before the head gives the
    converted head a bias (a tinylm head has none otherwise)."""
    if target not in TARGETS:
        raise ValueError(f"target: {target!r}; expected one of {', '.join(TARGETS)}")
    check_convertible(model)
    src = copy.deepcopy(model)
    recentre(src)
    for block in src.blocks:
        attn, ffn = _readers(block)
        fold_norm(block.attn_norm, *attn)
        fold_norm(block.ffn_norm, *ffn)
    fold_norm(src.final_norm, src.lm_head, add_bias=True)
    if target == "crms_norm":
        _compress(src)
    out = TinyLMDecoder(_target_config(model, target))
    if src.lm_head.bias is not None:
        out.lm_head = nn.Linear(out.config.d_model, out.config.vocab_size, bias=True)
    out.to(next(model.parameters()).dtype)
    state = {k: v for k, v in src.state_dict().items() if not k.endswith("norm.bias")}
    out.load_state_dict({k: v for k, v in state.items() if not k.endswith("norm.weight")}, strict=False)
    missing = set(out.state_dict()) - set(state)
    if missing:
        raise RuntimeError(f"converted model lacks {sorted(missing)}")
    return out.train(model.training)


class _ZeroMean(nn.Module):
    """Parametrisation: subtract the mean over ``dim``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return w - w.mean(self.dim, keepdim=True)


def trainable(model: TinyLMDecoder) -> TinyLMDecoder:
    """A Pre-RMSNorm decoder holding ``model``'s raw parameters, whose writers are recentred in the
    forward: the same function of the same parameters (requires ``bias: false``, since RMSNorm has no
    bias, and an untied head, since recentring the embedding would change a tied head)."""
    check_convertible(model)
    c = model.config
    if c.bias or c.tie_embeddings:
        raise ValueError("model.bias / model.tie_embeddings: the training form needs both false")
    out = TinyLMDecoder(dataclasses.replace(c, norm="rms_norm")).to(next(model.parameters()).dtype)
    out.load_state_dict(model.state_dict())
    for emb in _embeddings(out):
        parametrize.register_parametrization(emb, "weight", _ZeroMean(-1))
    for lin in _writers(out):
        parametrize.register_parametrization(lin, "weight", _ZeroMean(0))
    return out.train(model.training)
