"""The paper's parametric takeaway as an output layer: a softmax over several embeddings per token with a
temperature.

Xu et al. (2023) decompose the kNN-LM into parametric pieces: the datastore acts like an output embedding
matrix with many vectors per token (one per occurrence), scored by negative L2 distance, normalised with
a temperature and aggregated per token. ``KNNInspiredSoftmax`` is that form with learned vectors:

``logit_v(h) = logsumexp_j s(h, w_{v,j}) / tau``, ``s`` the dot product (``dot``) or ``-|h - w|^2``
(``l2``), ``n_per_token`` vectors ``w_{v,j}`` per token, ``tau`` fixed or learned (as its log).

With ``n_per_token=1``, ``similarity="dot"`` and ``tau=1`` it is exactly a bias-free ``nn.Linear`` head.
Give it as the input the last block's FFN input (``paperzoo_knn_lm.datastore``'s ``ffn_input``) to use
the kNN-LM's key representation as the softmax input.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class KNNInspiredSoftmax(nn.Module):
    """``[..., d_model] -> [..., vocab_size]`` logits.

    :param d_model: input width.
    :param vocab_size: output tokens.
    :param n_per_token: embeddings per token (the paper's ``nV`` heads: 1, 3, 5).
    :param temperature: initial ``tau`` (> 0).
    :param learn_temperature: learn ``log tau`` with the other parameters.
    :param similarity: ``dot`` or ``l2`` (negative squared distance, as the datastore).
    """

    def __init__(
        self,
        d_model: int,
        vocab_size: int,
        n_per_token: int = 1,
        temperature: float = 1.0,
        learn_temperature: bool = False,
        similarity: str = "dot",
    ) -> None:
        super().__init__()
        if n_per_token < 1 or temperature <= 0:
            raise ValueError("n_per_token >= 1 and temperature > 0 are required")
        if similarity not in ("dot", "l2"):
            raise ValueError(f"similarity: got {similarity!r}; accepted: 'dot' or 'l2'")
        self.vocab_size, self.n_per_token, self.similarity = vocab_size, n_per_token, similarity
        self.weight = nn.Parameter(torch.empty(vocab_size * n_per_token, d_model))
        nn.init.normal_(self.weight, std=d_model**-0.5)
        self.fixed_temperature = None if learn_temperature else float(temperature)
        if learn_temperature:
            self.log_temperature = nn.Parameter(torch.tensor(math.log(temperature)))

    @property
    def temperature(self) -> torch.Tensor | float:
        """``tau``: the fixed float, or ``exp`` of the learned ``log_temperature``."""
        return self.log_temperature.exp() if self.fixed_temperature is None else self.fixed_temperature

    def scores(self, h: torch.Tensor) -> torch.Tensor:
        """Similarity to every embedding: ``[..., vocab_size, n_per_token]`` (token-major rows)."""
        s = h @ self.weight.T
        if self.similarity == "l2":
            s = 2 * s - h.pow(2).sum(-1, keepdim=True) - self.weight.pow(2).sum(-1)
        return s.unflatten(-1, (self.vocab_size, self.n_per_token))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        s = self.scores(h)
        if self.fixed_temperature != 1.0:
            s = s / self.temperature
        return s.logsumexp(-1) if self.n_per_token > 1 else s.squeeze(-1)
