"""``layer_redundancy_similarity``: the per-module similarity ``cos(X, X + f(X))`` of every attention,
MLP and block of a tinylm model on the first batches of a split (see :mod:`paperzoo_llm_drop.drop`)."""

from __future__ import annotations

import torch
from paperzoo.checks import check_choice, check_int
from paperzoo.data import batches
from torch import nn

from paperzoo_llm_drop.drop import module_similarities


class LayerRedundancySimilarity:
    """Module similarities summarised; importance is ``1 - similarity``.

    Keys: ``attn_similarity_mean`` / ``_max`` / ``_min``, ``mlp_similarity_mean`` / ``_max`` / ``_min``,
    ``block_similarity_mean`` (over the modules not dropped), and ``attn_minus_mlp`` (mean attention
    similarity minus mean MLP similarity: positive when attention is the more redundant, the paper's
    finding). :meth:`per_layer` returns the lists.

    :param batch_size: sequences per batch.
    :param n_batches: batches used (from the start of the split, in order).
    :param split: ``val`` or ``train``.
    """

    keys = (
        "attn_similarity_mean",
        "attn_similarity_max",
        "attn_similarity_min",
        "mlp_similarity_mean",
        "mlp_similarity_max",
        "mlp_similarity_min",
        "block_similarity_mean",
        "attn_minus_mlp",
    )

    def __init__(self, batch_size: int = 16, n_batches: int = 1, split: str = "val") -> None:
        check_int("batch_size", batch_size, 1)
        check_int("n_batches", n_batches, 1)
        self.batch_size, self.n_batches = batch_size, n_batches
        self.split = check_choice("split", split, ("val", "train"))

    def per_layer(self, model: nn.Module, data) -> dict[str, list[float]]:
        """``{"attn": [...], "mlp": [...], "block": [...]}``: one similarity per block (``-inf``: dropped)."""
        device = next(model.parameters()).device
        rows = []
        for k, (x, _) in enumerate(batches(getattr(data, self.split), self.batch_size)):
            if k == self.n_batches:
                break
            rows.append(x.to(device))
        ids = torch.cat(rows)
        return {
            t: module_similarities(model, ids, t, self.batch_size).tolist() for t in ("attn", "mlp", "block")
        }

    def __call__(self, model: nn.Module, data) -> dict[str, float]:
        sims = self.per_layer(model, data)
        out: dict[str, float] = {}
        for t in ("attn", "mlp", "block"):
            kept = [s for s in sims[t] if s != float("-inf")] or [float("nan")]
            out[f"{t}_similarity_mean"] = sum(kept) / len(kept)
            if t != "block":
                out[f"{t}_similarity_max"], out[f"{t}_similarity_min"] = max(kept), min(kept)
        out["attn_minus_mlp"] = out["attn_similarity_mean"] - out["mlp_similarity_mean"]
        return out
