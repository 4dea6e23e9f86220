"""The process block of "Order Matters" (Vinyals, Bengio and Kudlur, 2016, eqs. 3-7), known as Set2Set:

    q_t   = LSTM(q*_{t-1})                 (3)
    e_i,t = <m_i, q_t>                     (4)
    a_i,t = softmax_i(e_i,t)               (5)
    r_t   = sum_i a_i,t m_i                (6)
    q*_t  = [q_t ; r_t]                    (7)

for t = 1..T from q*_0 = 0 and a zero LSTM state. The memories ``m_i`` enter only through a softmax
over ``i`` and a sum over ``i``, so ``q*_T`` is invariant to the order of the set: its elements can be
listed in any order (and padding anywhere, when masked).
"""

from __future__ import annotations

import torch
from torch import nn


class OrderMattersSet2Set(nn.Module):
    """Order-invariant embedding ``q*_T`` (B, 2d) of a set of ``n`` memories (B, n, d).

    :param in_channels: width ``d`` of each memory ``m_i``.
    :param processing_steps: the number ``T`` of attention reads (the paper's "process" steps).

    ``forward(m, mask=None)``: ``mask`` (B, n) bool marks the **real** elements (False: padding, which
    gets attention weight exactly 0), for a batch of sets of different sizes; every set needs at least
    one real element. ``process(m, mask)`` also returns the last attention weights (B, n) and the LSTM
    state. The LSTM is an ``nn.LSTMCell(2d, d)`` whose weights have the layout of
    ``torch_geometric.nn.aggr.Set2Set``'s ``lstm`` (``weight_ih_l0`` = our ``lstm.weight_ih`` etc.).
    """

    def __init__(self, in_channels: int, processing_steps: int = 1):
        super().__init__()
        if processing_steps < 0:
            raise ValueError(f"processing_steps: got {processing_steps}; accepted: at least 0")
        self.in_channels, self.out_channels = in_channels, 2 * in_channels
        self.processing_steps = processing_steps
        self.lstm = nn.LSTMCell(self.out_channels, in_channels)

    def process(
        self, m: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None, tuple[torch.Tensor, torch.Tensor]]:
        """``(q*_T, a_T, (h_T, c_T))``: the set embedding (B, 2d), the last attention (B, n) (``None``
        for T = 0) and the LSTM's final state (each (B, d))."""
        b, _, d = m.shape
        h = c = m.new_zeros(b, d)
        q_star = m.new_zeros(b, 2 * d)
        a = None
        for _ in range(self.processing_steps):
            h, c = self.lstm(q_star, (h, c))  # (3): q_t = h
            e = torch.einsum("bnd,bd->bn", m, h)  # (4)
            if mask is not None:
                e = e.masked_fill(~mask, float("-inf"))
            a = torch.softmax(e, dim=1)  # (5)
            r = torch.einsum("bn,bnd->bd", a, m)  # (6)
            q_star = torch.cat([h, r], dim=-1)  # (7)
        return q_star, a, (h, c)

    def forward(self, m: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.process(m, mask)[0]
