"""Evaluator: held-out perplexity of the kNN-LM beside the base LM's, datastore from the training split."""

from __future__ import annotations

import math

import torch
from paperzoo.data import DataBundle, batches
from torch import nn

from paperzoo_knn_lm.datastore import FFN_INPUT, build_datastore
from paperzoo_knn_lm.knn import KNNLM


def _first(dataset, n: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    size = len(dataset) if n is None else min(n, len(dataset))
    x, y = next(iter(batches(dataset, size)))
    return x, y


def perplexities(
    knnlm: KNNLM, inputs: torch.Tensor, targets: torch.Tensor, batch_size: int = 16
) -> dict[str, float]:
    """``ppl_lm``, ``ppl_knnlm`` and ``knn_coverage`` (share of positions whose target some neighbour
    carries) over ``inputs``/``targets`` ``[N, T]``; negative (ignored) targets are not scored."""
    nll_lm = nll_knn = 0.0
    covered = n_tok = 0
    for s in range(0, inputs.shape[0], batch_size):
        x, y = inputs[s : s + batch_size], targets[s : s + batch_size]
        lm, d, i = knnlm.neighbours(x)
        knn = knnlm.knn_from(lm, d, i)
        mixed = knnlm.log_probs_from(lm, knn)
        keep = y >= 0
        yc = y.clamp_min(0)[..., None]
        nll_lm -= float(lm.double().gather(-1, yc).squeeze(-1)[keep].sum())
        nll_knn -= float(mixed.gather(-1, yc).squeeze(-1)[keep].sum())
        covered += int((knnlm.datastore.values[i] == yc).any(-1)[keep].sum())
        n_tok += int(keep.sum())
    return {
        "ppl_lm": math.exp(nll_lm / n_tok),
        "ppl_knnlm": math.exp(nll_knn / n_tok),
        "knn_coverage": covered / n_tok,
    }


class KNNLMInterpolation:
    """Evaluator: kNN-LM held-out perplexity (Khandelwal et al., 2020; analysed by Xu et al., 2023).

    :param k: neighbours per position.
    :param temperature: ``tau`` in ``p_kNN ~ exp(-d / tau)``, ``d`` the squared L2 distance.
    :param lam: interpolation weight of ``p_kNN`` (0: the base LM exactly).
    :param key: where keys are read: ``ffn_input`` (the last block's FFN input) or a tinylm hook name.
    :param index: ``flat`` (exact, torch), ``faiss_flat`` or ``faiss_ivf`` (``faiss-cpu`` needed).
    :param datastore_sequences: training sequences in the datastore (``null``: all of them).
    :param n_sequences: held-out sequences scored.
    :param split: the scored split, ``val`` or ``train``.
    """

    def __init__(
        self,
        k: int = 16,
        temperature: float = 1.0,
        lam: float = 0.25,
        key: str = FFN_INPUT,
        index: str = "flat",
        datastore_sequences: int | None = 512,
        n_sequences: int = 32,
        split: str = "val",
    ) -> None:
        if split not in ("val", "train"):
            raise ValueError(f"split: got {split!r}; accepted: 'val' or 'train'")
        if index not in ("flat", "faiss_flat", "faiss_ivf"):
            raise ValueError(f"index: got {index!r}; accepted: 'flat', 'faiss_flat' or 'faiss_ivf'")
        if k < 1 or n_sequences < 1 or (datastore_sequences is not None and datastore_sequences < 1):
            raise ValueError("k, n_sequences and datastore_sequences must be >= 1")
        if temperature <= 0 or not 0.0 <= lam <= 1.0:
            raise ValueError("temperature > 0 and 0 <= lam <= 1 are required")
        self.k, self.temperature, self.lam, self.key, self.index = k, temperature, lam, key, index
        self.datastore_sequences, self.n_sequences, self.split = datastore_sequences, n_sequences, split
        self.keys = ("ppl_lm", "ppl_knnlm", "knn_coverage", "datastore_size")

    def __call__(self, model: nn.Module, data: DataBundle) -> dict[str, float]:
        device = next(model.parameters()).device
        was_training = model.training
        model.eval()
        try:
            tx, ty = _first(data.train, self.datastore_sequences)
            store = build_datastore(model, tx.to(device), ty.to(device), key=self.key)
            knnlm = KNNLM(
                model,
                store,
                k=min(self.k, len(store)),
                temperature=self.temperature,
                lam=self.lam,
                key=self.key,
                index=self.index,
            )
            x, y = _first(getattr(data, self.split), self.n_sequences)
            out = perplexities(knnlm, x.to(device), y.to(device))
        finally:
            model.train(was_training)
        return {**out, "datastore_size": float(len(store))}
