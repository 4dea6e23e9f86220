"""kNN-LM scoring: the neighbour distribution and its interpolation with the base LM.

With ``k`` retrieved neighbours at squared L2 distances ``d_i`` whose stored next tokens are ``v_i``:

``p_kNN(y) = sum_{i: v_i = y} softmax_i(-d_i / tau)``, ``p = lambda p_kNN + (1 - lambda) p_LM``,

computed in log space as the official code does (``log_softmax`` of ``-d / tau`` over the ``k``
neighbours, ``logsumexp`` per token, then ``logsumexp`` of ``log(1 - lambda) + log p_LM`` and
``log(lambda) + log p_kNN``). Tokens no neighbour carries get ``p_kNN = 0`` (``-inf`` in log space).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from paperzoo_knn_lm.datastore import FFN_INPUT, Datastore, FaissIndex, FlatIndex, extract_keys, make_index


def knn_log_probs(
    sq_dists: torch.Tensor, neighbour_tokens: torch.Tensor, vocab_size: int, temperature: float = 1.0
) -> torch.Tensor:
    """``log p_kNN`` ``[Q, V]`` from ``sq_dists`` and ``neighbour_tokens`` ``[Q, k]``."""
    if temperature <= 0:
        raise ValueError(f"temperature: got {temperature}; accepted: > 0")
    w = torch.log_softmax(-sq_dists / temperature, dim=-1)
    top = w.max(-1, keepdim=True).values
    mass = torch.zeros(w.shape[0], vocab_size, dtype=w.dtype, device=w.device)
    mass.scatter_add_(-1, neighbour_tokens, (w - top).exp())
    return mass.log() + top


def interpolate(lm_log_probs: torch.Tensor, knn_log_probs_: torch.Tensor, lam: float) -> torch.Tensor:
    """``log(lambda p_kNN + (1 - lambda) p_LM)``; ``lambda = 0`` returns ``lm_log_probs`` itself."""
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lam: got {lam}; accepted: 0 to 1")
    if lam == 0.0:
        return lm_log_probs
    if lam == 1.0:
        return knn_log_probs_
    return torch.logaddexp(lm_log_probs + math.log1p(-lam), knn_log_probs_ + math.log(lam))


class KNNLM:
    """A decoder plus a datastore: next-token log-probabilities of the kNN-LM.

    :param model: a tinylm decoder (any model :func:`extract_keys` reads).
    :param datastore: keys read at ``key`` and their next tokens.
    :param k: neighbours retrieved per position.
    :param temperature: ``tau`` in ``exp(-d / tau)`` (``d``: squared L2 distance).
    :param lam: interpolation weight of ``p_kNN``.
    :param key: where keys are read (must match how ``datastore`` was built).
    :param index: ``flat`` (exact torch), ``faiss_flat``, ``faiss_ivf``, or a built index.
    """

    def __init__(
        self,
        model: nn.Module,
        datastore: Datastore,
        k: int = 16,
        temperature: float = 1.0,
        lam: float = 0.25,
        key: str = FFN_INPUT,
        index: str | FlatIndex | FaissIndex = "flat",
    ) -> None:
        self.model, self.datastore, self.k, self.temperature, self.lam, self.key = (
            model,
            datastore,
            k,
            temperature,
            lam,
            key,
        )
        self.index = make_index(datastore.keys, index) if isinstance(index, str) else index

    @torch.no_grad()
    def neighbours(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(lm_log_probs [B, T, V], sq_dists [B, T, k], indices [B, T, k])``."""
        h, logits = extract_keys(self.model, input_ids, self.key)
        d, i = self.index.search(h.reshape(-1, h.shape[-1]), self.k)
        shape = (*h.shape[:2], self.k)
        return logits.log_softmax(-1), d.reshape(shape), i.reshape(shape)

    @torch.no_grad()
    def log_probs(
        self, input_ids: torch.Tensor, temperature: float | None = None, lam: float | None = None
    ) -> torch.Tensor:
        """kNN-LM next-token log-probabilities ``[B, T, V]`` (float64)."""
        lm, d, i = self.neighbours(input_ids)
        return self.log_probs_from(lm, self.knn_from(d, i, lm.shape[-1], temperature), lam)

    def log_probs_from(self, lm: torch.Tensor, knn: torch.Tensor, lam: float | None = None) -> torch.Tensor:
        """Interpolate ``lm`` (log-probabilities) with ``knn`` (``log p_kNN``) in float64."""
        return interpolate(lm.double(), knn, self.lam if lam is None else lam)

    def knn_from(
        self, d: torch.Tensor, i: torch.Tensor, vocab_size: int, temperature: float | None = None
    ) -> torch.Tensor:
        """``log p_kNN`` ``[..., vocab_size]`` (float64) from retrieved distances and indices ``[..., k]``."""
        tau = self.temperature if temperature is None else temperature
        tokens = self.datastore.values[i.reshape(-1, self.k)]
        out = knn_log_probs(d.reshape(-1, self.k).double(), tokens, vocab_size, tau)
        return out.reshape(*d.shape[:-1], vocab_size)


def gather_targets(log_probs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``log_probs`` ``[..., V]`` at ``targets`` ``[...]``, in float64, flat ``[n]``: negative (ignored)
    targets are dropped."""
    picked = log_probs.double().gather(-1, targets.clamp_min(0)[..., None]).squeeze(-1)
    return picked[targets >= 0]


class TargetLogProbs(NamedTuple):
    """Per scored token (flat ``[n]``, ignored targets dropped): ``log p_LM(y)`` and ``log p_kNN-LM(y)``
    (float64), and whether some retrieved neighbour carries ``y``."""

    lm: torch.Tensor
    knnlm: torch.Tensor
    covered: torch.Tensor


@torch.no_grad()
def target_log_probs(
    knnlm: KNNLM, inputs: torch.Tensor, targets: torch.Tensor, batch_size: int = 16
) -> TargetLogProbs:
    """Score ``targets`` ``[N, T]`` after ``inputs`` ``[N, T]`` with the base LM and the kNN-LM, in
    batches of ``batch_size`` sequences (one forward pass and one search per batch)."""
    lm_t, mix_t, hit_t = [], [], []
    for s in range(0, inputs.shape[0], batch_size):
        x, y = inputs[s : s + batch_size], targets[s : s + batch_size]
        lm, d, i = knnlm.neighbours(x)
        mixed = knnlm.log_probs_from(lm, knnlm.knn_from(d, i, lm.shape[-1]))
        lm_t.append(gather_targets(lm, y))
        mix_t.append(gather_targets(mixed, y))
        hit_t.append((knnlm.datastore.values[i] == y.clamp_min(0)[..., None]).any(-1)[y >= 0])
    return TargetLogProbs(torch.cat(lm_t), torch.cat(mix_t), torch.cat(hit_t))
