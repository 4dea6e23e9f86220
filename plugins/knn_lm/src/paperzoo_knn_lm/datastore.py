"""The kNN-LM datastore: (context representation, next token) pairs and exact or faiss search.

Keys are read from a tinylm decoder through its hook names (:mod:`paperzoo_tinylm.hooks`). The default
key, ``ffn_input``, is the input of the last block's feed-forward sublayer: the last block's
``resid_mid`` passed through that block's ``ffn_norm`` (a pre-norm block feeds exactly this to its FFN),
the representation the kNN-LM papers found best. Any other hook name (``final``,
``blocks.3.resid_mid``, ...) is accepted as is.

This module is the datastore/index API other plugins build on: :class:`Datastore`, :func:`extract_keys`,
:func:`build_datastore`, :class:`FlatIndex` (exact, in torch: the reference), :class:`FaissIndex`
(optional ``faiss-cpu``), :func:`make_index` (one of :data:`INDEXES`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

FFN_INPUT = "ffn_input"
INDEXES = ("flat", "faiss_flat", "faiss_ivf")  # the index names :func:`make_index` accepts


@dataclass
class Datastore:
    """``keys`` ``[N, d]`` (float) and ``values`` ``[N]`` (long: the token that followed each key)."""

    keys: torch.Tensor
    values: torch.Tensor

    def __post_init__(self) -> None:
        if self.keys.ndim != 2 or self.values.shape != self.keys.shape[:1]:
            raise ValueError(
                f"keys [N, d] and values [N]: got {tuple(self.keys.shape)}, {tuple(self.values.shape)}"
            )

    def __len__(self) -> int:
        return self.keys.shape[0]

    def subset(self, index: torch.Tensor) -> Datastore:
        """The entries at ``index`` (a new datastore sharing nothing with this one)."""
        return Datastore(self.keys[index].clone(), self.values[index].clone())


def _hook_name(model: nn.Module, key: str) -> str:
    if key == FFN_INPUT:
        return f"blocks.{len(model.blocks) - 1}.resid_mid"
    return key


def extract_keys(
    model: nn.Module, input_ids: torch.Tensor, key: str = FFN_INPUT
) -> tuple[torch.Tensor, torch.Tensor]:
    """One forward pass: ``(keys [B, T, d], logits [B, T, V])`` with keys read at ``key``."""
    from paperzoo_tinylm.hooks import capture

    name = _hook_name(model, key)
    with capture(model, [name]) as got:
        logits = model(input_ids).logits
    if name not in got:
        raise ValueError(
            f"key: {key!r} was not produced by the model; accepted: {FFN_INPUT!r} or a hook name"
        )
    h = got[name]
    if key == FFN_INPUT:
        block = model.blocks[-1]
        if getattr(block, "placement", "pre") != "pre":
            raise ValueError(f"key: {FFN_INPUT!r} needs a pre-norm last block; use a hook name instead")
        h = block.ffn_norm(h)
    return h, logits


@torch.no_grad()
def build_datastore(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    key: str = FFN_INPUT,
    batch_size: int = 32,
    dtype: torch.dtype | None = None,
) -> Datastore:
    """Datastore of every position of ``inputs`` ``[N, T]``: its key (in ``dtype``, default the model's)
    and its target token. Positions whose target is negative (ignored, e.g. ``-100``) are left out."""
    was_training = model.training
    model.eval()
    keys, values = [], []
    try:
        for i in range(0, inputs.shape[0], batch_size):
            h, _ = extract_keys(model, inputs[i : i + batch_size], key)
            y = targets[i : i + batch_size].reshape(-1)
            keys.append(h.reshape(-1, h.shape[-1])[y >= 0].to(dtype or h.dtype))
            values.append(y[y >= 0])
    finally:
        model.train(was_training)
    return Datastore(torch.cat(keys), torch.cat(values).long())


class FlatIndex:
    """Exact nearest neighbours by squared L2 distance, in torch (chunked over the datastore).

    ``search(queries [Q, d], k) -> (sq_distances [Q, k] ascending, indices [Q, k])``. Distances are
    ``|q|^2 - 2 q.k + |k|^2`` computed in the keys' dtype (float64 keys give float64 distances).
    """

    def __init__(self, keys: torch.Tensor, chunk: int = 65536) -> None:
        self.keys = keys
        self.norms = keys.pow(2).sum(-1)
        self.chunk = chunk

    def __len__(self) -> int:
        return self.keys.shape[0]

    @torch.no_grad()
    def search(self, queries: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 1 <= k <= len(self):
            raise ValueError(f"k: got {k}; accepted: 1 to the datastore size {len(self)}")
        q = queries.to(self.keys.dtype)
        qn = q.pow(2).sum(-1, keepdim=True)
        best_d = best_i = None
        for s in range(0, len(self), self.chunk):
            kc = self.keys[s : s + self.chunk]
            d = (qn - 2 * q @ kc.T + self.norms[s : s + self.chunk]).clamp_min_(0)
            kk = min(k, kc.shape[0])
            dv, di = d.topk(kk, dim=-1, largest=False)
            di = di + s
            if best_d is not None:
                dv, pick = torch.cat([best_d, dv], -1).topk(min(k, best_d.shape[1] + kk), -1, largest=False)
                di = torch.cat([best_i, di], -1).gather(-1, pick)
            best_d, best_i = dv, di
        return best_d, best_i


class FaissIndex:
    """Nearest neighbours through ``faiss-cpu`` (``pip install 'paperzoo-knn_lm[faiss]'``).

    ``kind="flat"``: ``IndexFlatL2`` (exact; float32); ``kind="ivf"``: ``IndexIVFFlat`` with ``nlist``
    cells, ``nprobe`` probed (approximate, as the kNN-LM papers' large datastores). Same ``search``
    contract as :class:`FlatIndex`.
    """

    def __init__(self, keys: torch.Tensor, kind: str = "flat", nlist: int = 64, nprobe: int = 8) -> None:
        import faiss

        x = keys.detach().float().contiguous().numpy()
        d = x.shape[1]
        if kind == "flat":
            self.index = faiss.IndexFlatL2(d)
        elif kind == "ivf":
            self.quantizer = faiss.IndexFlatL2(d)
            self.index = faiss.IndexIVFFlat(self.quantizer, d, nlist)
            self.index.train(x)
            self.index.nprobe = nprobe
        else:
            raise ValueError(f"kind: got {kind!r}; accepted: 'flat' or 'ivf'")
        self.index.add(x)
        self.dtype = keys.dtype

    def __len__(self) -> int:
        return self.index.ntotal

    def search(self, queries: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        d, i = self.index.search(queries.detach().float().contiguous().numpy(), k)
        return torch.from_numpy(d).to(self.dtype), torch.from_numpy(i).long()


def make_index(keys: torch.Tensor, index: str = "flat") -> FlatIndex | FaissIndex:
    """``flat`` (exact torch), ``faiss_flat`` or ``faiss_ivf`` (:data:`INDEXES`)."""
    check_index(index)
    if index == "flat":
        return FlatIndex(keys)
    return FaissIndex(keys, kind=index.split("_", 1)[1])


def check_index(index: str) -> None:
    """``ValueError`` unless ``index`` is one of :data:`INDEXES`."""
    if index not in INDEXES:
        raise ValueError(f"index: got {index!r}; accepted: {', '.join(map(repr, INDEXES))}")
