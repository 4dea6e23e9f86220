"""Module redundancy and dropping for tinylm decoders (He et al., "What Matters in Transformers? Not All
Attention is Needed").

A sublayer's similarity is the mean over calibration tokens of ``cos(X, X + f(X))``: its input hidden
state (the residual stream before the sublayer's norm) against the residual stream after the sublayer's
residual add (the official code's ``layer_drop_norm=True`` form). In tinylm those two are the hook points
``blocks.<i>.resid_pre`` / ``resid_mid`` (attention), ``resid_mid`` / ``resid_post`` (MLP) and
``resid_pre`` / ``resid_post`` (a whole block). Importance is ``1 - similarity``; the modules with the
highest similarity are dropped.

Dropping a sublayer skips its whole residual branch (norm, sublayer, residual add): ``x -> x``. The
block is replaced by a :class:`DroppedBlock` that holds only the kept modules under their original names,
so state-dict keys and hook names of the kept parts do not change and the dropped weights are gone.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from paperzoo_tinylm.blocks import Block, CrossBlock
from paperzoo_tinylm.hooks import capture
from torch import nn

TARGETS = ("attn", "mlp", "block")
_POINTS = {
    "attn": ("resid_pre", "resid_mid"),
    "mlp": ("resid_mid", "resid_post"),
    "block": ("resid_pre", "resid_post"),
}


class DroppedBlock(Block):
    """A tinylm :class:`~paperzoo_tinylm.blocks.Block` with its attention and/or ffn sublayer removed.

    :param block: the block to take the kept modules from (shared, not copied).
    :param drop_attn: skip the attention sublayer (``x -> x``); its norm and weights are removed.
    :param drop_mlp: skip the ffn sublayer likewise.
    A block that drops nothing only renumbers its cache layer (it follows a dropped attention).

    :param cache_index: the layer index this block's attention uses in a KV cache: the number of kept
        attention sublayers before it (the cache holds kept layers only, in order).
    """

    def __init__(self, block: Block, drop_attn: bool, drop_mlp: bool, cache_index: int) -> None:
        nn.Module.__init__(self)
        self.placement = block.placement
        self.drop_attn, self.drop_mlp, self.cache_index = bool(drop_attn), bool(drop_mlp), cache_index
        keep = ["dropout", "resid_pre", "resid_mid", "resid_post"]
        if not drop_attn:
            keep += ["attn_norm", "attn", "attn_out_norm"]
        if not drop_mlp:
            keep += ["ffn_norm", "mlp", "ffn_out_norm"]
        for name in keep:
            if hasattr(block, name):
                setattr(self, name, getattr(block, name))
        if drop_attn:
            self.attn = None
        if drop_mlp:
            self.mlp = None

    def forward(self, x: torch.Tensor, mask, rotary=None, cache=None, layer: int = 0) -> torch.Tensor:
        if self.drop_attn:
            x = self.resid_mid(self.resid_pre(x))
        else:
            x = self._attend(x, mask, rotary, cache, self.cache_index)
        if self.drop_mlp:
            return self.resid_post(x)
        return self._feed_forward(x)

    def extra_repr(self) -> str:
        return f"drop_attn={self.drop_attn}, drop_mlp={self.drop_mlp}"


def check_model(model: nn.Module) -> None:
    """``model`` must be a tinylm decoder or encoder of plain blocks with ``pre``/``peri``/``sandwich`` norms
    (``post`` norms have no residual stream to skip to); else ``ValueError``."""
    blocks = getattr(model, "blocks", None)
    if not isinstance(blocks, nn.ModuleList) or not all(isinstance(b, Block) for b in blocks):
        raise ValueError("model: accepted: a tinylm decoder or encoder (a .blocks list of tinylm blocks)")
    if any(isinstance(b, CrossBlock) for b in blocks):
        raise ValueError("model: an encoder-decoder's cross-attention blocks are not supported")
    if any(b.placement == "post" for b in blocks):
        raise ValueError("model.norm_placement: 'post' has no identity path; accepted: pre, peri, sandwich")


def dropped_layers(model: nn.Module, target: str) -> list[int]:
    """Indices of the blocks whose ``target`` (``attn``, ``mlp``) sublayer is dropped already."""
    flag = "drop_attn" if target == "attn" else "drop_mlp"
    return [i for i, b in enumerate(model.blocks) if getattr(b, flag, False)]


@torch.no_grad()
def module_similarities(
    model: nn.Module, ids: torch.Tensor, target: str = "attn", batch_size: int = 16
) -> torch.Tensor:
    """``[n_layers]`` float32: the mean over every token of ``ids`` ``[N, T]`` of ``cos(X_in, X_out)`` of
    each block's ``target`` (``attn``, ``mlp`` or ``block``); ``-inf`` where that sublayer is dropped
    already (so it is never chosen again). Cosine per token over features in float32, as the official
    code (``F.cosine_similarity``, eps 1e-8), then the plain mean over all tokens."""
    if target not in TARGETS:
        raise ValueError(f"target: {target!r}; accepted: one of {', '.join(TARGETS)}")
    check_model(model)
    n = len(model.blocks)
    a, b = _POINTS[target]
    names = [f"blocks.{i}.{p}" for i in range(n) for p in (a, b)]
    total = torch.zeros(n, dtype=torch.float64)
    count = 0
    was_training = model.training
    model.eval()
    try:
        for chunk in ids.split(batch_size):
            with capture(model, names) as got:
                model(chunk)
            for i in range(n):
                x_in, x_out = got[f"blocks.{i}.{a}"].float(), got[f"blocks.{i}.{b}"].float()
                total[i] += F.cosine_similarity(x_in, x_out, dim=-1).double().sum().cpu()
            count += chunk.shape[0] * chunk.shape[1]
    finally:
        model.train(was_training)
    sims = (total / count).float()
    if target == "block":
        gone = sorted(set(dropped_layers(model, "attn")) & set(dropped_layers(model, "mlp")))
    else:
        gone = dropped_layers(model, target)
    sims[gone] = -torch.inf
    return sims


def top_k(similarities: torch.Tensor, k: int) -> list[int]:
    """Indices of the ``k`` largest similarities, ties to the lower index (a stable descending sort)."""
    if k > int(torch.isfinite(similarities).sum()):
        raise ValueError(
            f"k: {k}; accepted: at most {int(torch.isfinite(similarities).sum())} droppable modules"
        )
    return torch.sort(similarities, descending=True, stable=True).indices[:k].tolist()


def select_drops(
    model: nn.Module, ids: torch.Tensor, k: int, targets: Sequence[str] = ("attn",), batch_size: int = 16
) -> dict[str, list[int]]:
    """One-shot choice of the ``k`` most redundant modules among ``targets`` (``("attn",)``, ``("mlp",)``,
    ``("attn", "mlp")`` for Joint Drop, or ``("block",)``). Joint Drop ranks the attention and MLP
    similarities together (the official code concatenates them, attention first). Returns the layer
    indices per target."""
    sims = [module_similarities(model, ids, t, batch_size) for t in targets]
    n = len(model.blocks)
    chosen = top_k(torch.cat(sims), k)
    return {t: sorted(j - n * m for j in chosen if n * m <= j < n * (m + 1)) for m, t in enumerate(targets)}


def drop_modules(
    model: nn.Module, attn: Sequence[int] = (), mlp: Sequence[int] = (), inplace: bool = False
) -> nn.Module:
    """``model`` with the attention sublayers of blocks ``attn`` and the ffn sublayers of blocks ``mlp``
    removed (a deep copy unless ``inplace``). Already dropped sublayers stay dropped."""
    check_model(model)
    n = len(model.blocks)
    for i in [*attn, *mlp]:
        if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < n:
            raise ValueError(f"layer index: {i!r}; accepted: integers in [0, {n - 1}]")
    if not inplace:
        model = copy.deepcopy(model)
    kept = 0
    for i, block in enumerate(model.blocks):
        d_attn = i in attn or getattr(block, "drop_attn", False)
        d_mlp = i in mlp or getattr(block, "drop_mlp", False)
        if d_attn or d_mlp or kept != i:  # a kept block after a dropped attention reads cache row `kept`
            model.blocks[i] = DroppedBlock(block, d_attn, d_mlp, kept)
        kept += 0 if d_attn else 1
    return model


def drop_blocks(model: nn.Module, layers: Sequence[int], inplace: bool = False) -> nn.Module:
    """Block Drop: both sublayers of blocks ``layers`` removed."""
    return drop_modules(model, layers, layers, inplace)


def iterative_drops(
    model: nn.Module, ids: torch.Tensor, k: int, targets: Sequence[str] = ("attn",), batch_size: int = 16
) -> tuple[nn.Module, dict[str, list[int]]]:
    """Iterative dropping: ``k`` rounds of scoring the current (dropped) model and dropping its one most
    redundant module. Returns the dropped copy and the layers dropped per target, in order."""
    order: dict[str, list[int]] = {t: [] for t in targets}
    model = copy.deepcopy(model)
    for _ in range(k):
        one = select_drops(model, ids, 1, targets, batch_size)
        for t, layers in one.items():
            order[t] += layers
        model = _apply(model, one, inplace=True)
    return model, order


def _apply(model: nn.Module, drops: dict[str, list[int]], inplace: bool) -> nn.Module:
    if "block" in drops:
        return drop_blocks(model, drops["block"], inplace)
    return drop_modules(model, drops.get("attn", ()), drops.get("mlp", ()), inplace)


def apply_drops(model: nn.Module, drops: dict[str, list[int]], inplace: bool = False) -> nn.Module:
    """Drop what :func:`select_drops` chose (``{"attn": [...], "mlp": [...]}`` or ``{"block": [...]}``)."""
    return _apply(model, drops, inplace)


@torch.no_grad()
def lm_loss(model: nn.Module, ids: torch.Tensor, batch_size: int = 16) -> float:
    """Mean next-token cross-entropy (nats) of ``model`` over ``ids`` ``[N, T]`` (eval mode, float64 sum)."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        for chunk in ids.split(batch_size):
            logits = model(chunk).logits[:, :-1].double()
            nll = F.cross_entropy(logits.flatten(0, 1), chunk[:, 1:].flatten(), reduction="sum")
            total, count = total + nll.item(), count + chunk[:, 1:].numel()
    finally:
        model.train(was_training)
    return total / count
