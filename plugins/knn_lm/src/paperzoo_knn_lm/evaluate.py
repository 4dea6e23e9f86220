"""Evaluator: held-out perplexity of the kNN-LM beside the base LM's, datastore from the training split.

:class:`KNNLMSetup` (checked settings, datastore from the training split, the scored split) is shared
with evaluators of other plugins that analyse a kNN-LM."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from paperzoo.data import DataBundle, fetch
from torch import nn

from paperzoo_knn_lm.datastore import FFN_INPUT, build_datastore, check_index
from paperzoo_knn_lm.knn import KNNLM, target_log_probs


def _first(dataset, n: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    size = len(dataset) if n is None else min(n, len(dataset))
    x, y = fetch(dataset, torch.arange(size))
    return x, y


def perplexities(
    knnlm: KNNLM, inputs: torch.Tensor, targets: torch.Tensor, batch_size: int = 16
) -> dict[str, float]:
    """``ppl_lm``, ``ppl_knnlm`` and ``knn_coverage`` (share of positions whose target some neighbour
    carries) over ``inputs``/``targets`` ``[N, T]``; negative (ignored) targets are not scored."""
    lp = target_log_probs(knnlm, inputs, targets, batch_size)
    return {
        "ppl_lm": math.exp(-float(lp.lm.mean())),
        "ppl_knnlm": math.exp(-float(lp.knnlm.mean())),
        "knn_coverage": float(lp.covered.double().mean()),
    }


class KNNLMSetup:
    """The settings of an evaluator of a kNN-LM, checked once, and its run: the model in eval mode, a
    datastore from the first ``datastore_sequences`` training sequences, a :class:`KNNLM` over it, and
    the first ``n_sequences`` of ``split`` handed to the evaluator's scoring.

    :param k: neighbours per position (at most the datastore's size).
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
        check_index(index)
        if k < 1 or n_sequences < 1 or (datastore_sequences is not None and datastore_sequences < 1):
            raise ValueError("k, n_sequences and datastore_sequences must be >= 1")
        if temperature <= 0 or not 0.0 <= lam <= 1.0:
            raise ValueError("temperature > 0 and 0 <= lam <= 1 are required")
        self.k, self.temperature, self.lam, self.key, self.index = k, temperature, lam, key, index
        self.datastore_sequences, self.n_sequences, self.split = datastore_sequences, n_sequences, split

    def knnlm(self, model: nn.Module, data: DataBundle, device: torch.device) -> KNNLM:
        """A :class:`KNNLM` over ``model`` and a datastore of ``data.train``'s first sequences."""
        tx, ty = _first(data.train, self.datastore_sequences)
        store = build_datastore(model, tx.to(device), ty.to(device), key=self.key)
        return KNNLM(
            model,
            store,
            k=min(self.k, len(store)),
            temperature=self.temperature,
            lam=self.lam,
            key=self.key,
            index=self.index,
        )

    def run(
        self,
        model: nn.Module,
        data: DataBundle,
        body: Callable[[KNNLM, torch.Tensor, torch.Tensor], dict[str, float]],
    ) -> dict[str, float]:
        """``body(knnlm, inputs, targets)`` on the scored sequences, plus ``datastore_size``; the model's
        training mode is restored afterwards."""
        device = next(model.parameters()).device
        was_training = model.training
        model.eval()
        try:
            knnlm = self.knnlm(model, data, device)
            x, y = _first(getattr(data, self.split), self.n_sequences)
            out = body(knnlm, x.to(device), y.to(device))
        finally:
            model.train(was_training)
        return {**out, "datastore_size": float(len(knnlm.datastore))}


class KNNLMInterpolation(KNNLMSetup):
    """Evaluator: kNN-LM held-out perplexity (Khandelwal et al., 2020; analysed by Xu et al., 2023).

    Reports ``ppl_lm``, ``ppl_knnlm``, ``knn_coverage`` and ``datastore_size``.

    :param k: neighbours per position.
    :param temperature: ``tau`` in ``p_kNN ~ exp(-d / tau)``, ``d`` the squared L2 distance.
    :param lam: interpolation weight of ``p_kNN`` (0: the base LM exactly).
    :param key: where keys are read: ``ffn_input`` (the last block's FFN input) or a tinylm hook name.
    :param index: ``flat`` (exact, torch), ``faiss_flat`` or ``faiss_ivf`` (``faiss-cpu`` needed).
    :param datastore_sequences: training sequences in the datastore (``null``: all of them).
    :param n_sequences: held-out sequences scored.
    :param split: the scored split, ``val`` or ``train``.
    """

    keys = ("ppl_lm", "ppl_knnlm", "knn_coverage", "datastore_size")

    def __call__(self, model: nn.Module, data: DataBundle) -> dict[str, float]:
        return self.run(model, data, perplexities)
