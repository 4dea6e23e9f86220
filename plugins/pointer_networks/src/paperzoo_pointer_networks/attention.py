"""The pointer attention of Ptr-Net (Vinyals et al., 2015, eq. 3):

    u^i_j = v^T tanh(W1 e_j + W2 d_i),    p(C_i | C_1..C_{i-1}, P) = softmax_j(u^i_j).

The scores are not blended into a context vector (as in content-based attention): the softmax itself is
the output, a distribution over the ``n`` input positions, so the output "vocabulary" is the input.
"""

from __future__ import annotations

import torch
from torch import nn


class PointerAttention(nn.Module):
    """Additive attention whose softmax points at input positions.

    :param hidden: width of the encodings ``e_j`` and of the queries ``d_i``.
    :param attn_dim: width of ``W1 e_j + W2 d_i`` (default: ``hidden``).

    ``forward(enc, query=None, mask=None)`` returns log-probabilities over the ``n`` positions of
    ``enc`` (B, n, H): for ``query`` of shape (B, H), (B, n); for (B, T, H), (B, T, n). With ``query``
    omitted each position queries with its own encoding (the pointer scores of a set against itself,
    (B, n, n)). ``mask`` (bool, True = excluded, broadcastable to the output) sets those positions to
    ``-inf``, i.e. probability exactly 0; at least one position per row must stay unmasked.
    """

    def __init__(self, hidden: int, attn_dim: int | None = None):
        super().__init__()
        attn_dim = attn_dim or hidden
        self.hidden, self.attn_dim = hidden, attn_dim
        self.w1 = nn.Linear(hidden, attn_dim, bias=False)
        self.w2 = nn.Linear(hidden, attn_dim, bias=False)
        self.v = nn.Linear(attn_dim, 1, bias=False)

    def keys(self, enc: torch.Tensor) -> torch.Tensor:
        """``W1 e_j`` for every position (B, n, A): computed once per input, reused at every step."""
        return self.w1(enc)

    def scores(self, keys: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        """Raw scores ``u`` (B, n) for a (B, H) query, or (B, T, n) for (B, T, H) queries."""
        q = self.w2(query)
        if query.dim() == 2:
            return self.v(torch.tanh(keys + q.unsqueeze(1))).squeeze(-1)
        return self.v(torch.tanh(keys.unsqueeze(1) + q.unsqueeze(2))).squeeze(-1)

    def log_probs(
        self, keys: torch.Tensor, query: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``log softmax_j(u_j)`` with masked positions at ``-inf``."""
        u = self.scores(keys, query)
        if mask is not None:
            u = u.masked_fill(mask, float("-inf"))
        return torch.log_softmax(u, dim=-1)

    def forward(
        self, enc: torch.Tensor, query: torch.Tensor | None = None, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self.log_probs(self.keys(enc), enc if query is None else query, mask)
