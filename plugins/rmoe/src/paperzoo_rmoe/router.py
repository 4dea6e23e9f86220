"""The layerwise recurrent router of RMoE (Qiu et al., 2024) for tinylm's ``moe`` router slot.

Block ``l`` projects its tokens ``x_l`` ``[N, d_model]`` to ``r = hidden_size`` features, updates the
routing state with a GRU cell shared by every block of the stack, ``h_l = GRU(proj_l(x_l), h_{l-1})``
(``h_{-1} = 0``), and returns the logits ``gate_l(h_l)`` ``[N, n_experts]``; tinylm's MoE block then takes
the softmax, the top-k and the load-balance loss. As in the official code, the state is not detached:
block ``l``'s routing sends gradients into every earlier block's projection and the shared cell.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from paperzoo_tinylm.moe import RoutingContext
from torch import nn

#: the name of the shared cell in the stack's routing context
CELL = "rmoe_gru_cell"


class RMoEGRUCell(nn.Module):
    """GRU cell with the official parameter layout (``weight_ir`` ... ``bias_hn``, each ``[r, r]`` / ``[r]``):
    ``r = s(W_ir x + b_ir + W_hr h + b_hr)``, ``z = s(W_iz x + b_iz + W_hz h + b_hz)``,
    ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, ``h' = (1 - z) n + z h`` (``torch.nn.GRUCell``'s
    formula). Every parameter, biases included, is drawn from ``N(0, init_std^2)`` as the official
    ``init_method`` does."""

    GATES = ("r", "z", "n")

    def __init__(self, hidden_size: int, init_std: float = 0.02) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        for g in self.GATES:
            for src in ("i", "h"):
                self.register_parameter(
                    f"weight_{src}{g}", nn.Parameter(torch.empty(hidden_size, hidden_size))
                )
                self.register_parameter(f"bias_{src}{g}", nn.Parameter(torch.empty(hidden_size)))
        for p in self.parameters():
            nn.init.normal_(p, std=init_std)

    def _gate(self, g: str, src: str, v: torch.Tensor) -> torch.Tensor:
        return F.linear(v, getattr(self, f"weight_{src}{g}"), getattr(self, f"bias_{src}{g}"))

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        if h is None:
            h = x.new_zeros(x.shape[0], self.hidden_size)
        r = torch.sigmoid(self._gate("r", "i", x) + self._gate("r", "h", h))
        z = torch.sigmoid(self._gate("z", "i", x) + self._gate("z", "h", h))
        n = torch.tanh(self._gate("n", "i", x) + r * self._gate("n", "h", h))
        return (1 - z) * n + z * h


class RecurrentRouter(nn.Module):
    """RMoE's router: ``logits = gate(GRU(proj(x), h_prev))`` with ``h_prev`` the previous block's state.

    :param d_model: width of the tokens routed.
    :param n_experts: experts (logits per token).
    :param hidden_size: ``r``, the width of the projection and of the GRU state (the official default 256).
    :param recurrent: ``False`` drops the GRU: ``logits = gate(proj(x))``, a linear router of rank ``r``.
    :param init_std: standard deviation of the normal initialisation of every parameter.
    :param context: the stack's routing context (tinylm's MoE blocks pass it; alone, a fresh one).
    :param layer: this block's index in the stack (block 0 starts from a zero state).
    """

    def __init__(
        self,
        d_model: int,
        n_experts: int,
        hidden_size: int = 256,
        recurrent: bool = True,
        init_std: float = 0.02,
        context: RoutingContext | None = None,
        layer: int = 0,
    ) -> None:
        super().__init__()
        self.proj = nn.Linear(d_model, hidden_size, bias=False)
        self.gate = nn.Linear(hidden_size, n_experts, bias=False)
        for lin in (self.proj, self.gate):
            nn.init.normal_(lin.weight, std=init_std)
        self.context = context if context is not None else RoutingContext(1)
        self.layer = layer
        self.recurrent = recurrent
        if recurrent:
            self.cell = self.context.shared(CELL, lambda: RMoEGRUCell(hidden_size, init_std))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` ``[N, d_model]`` -> logits ``[N, n_experts]``; records this block's state ``[N, r]``."""
        h = self.proj(x)
        if self.recurrent:
            h = self.cell(h, self.context.previous(self.layer))
            self.context.update(self.layer, h)
        return self.gate(h)
