"""The layer-normalised LSTM of Ba, Kiros and Hinton (2016), Sec. 3.1 and the LN-LSTM equations of
their experiments:

    (i, f, g, o) = LN(W_x x_t; a2, b2) + LN(W_h h_{t-1}; a1, b1) + b
    c_t = sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(g)
    h_t = sigmoid(o) * tanh(LN(c_t; a3, b3))

LN normalises the input-to-hidden and the hidden-to-hidden summed inputs separately (each over all
``4 * hidden_size`` gate units of one example, as in the paper), and the cell state on its way to the
output; the cell state that recurs is not normalised. Gates are stacked in ``torch.nn.LSTMCell``'s
order (i, f, g, o), and the weights carry its names (``weight_ih``, ``weight_hh``, ``bias_ih``,
``bias_hh``, with ``b = bias_ih + bias_hh``), so a ``torch.nn.LSTMCell`` state dict loads into a cell
with ``layer_norm=False``, which then computes exactly that LSTM.
"""

from __future__ import annotations

import math

import torch
from paperzoo.errors import ParamError
from torch import nn

from paperzoo_layernorm.layer_norm import BaLayerNorm


def _positive(name: str, value: int) -> int:
    if int(value) < 1:
        raise ParamError(name, f"got {value}; accepted: a positive int")
    return int(value)


class LNLSTMCell(nn.Module):
    """One LSTM step with layer normalization (``layer_norm=False``: a plain LSTM cell).

    :param input_size: features of the input ``x_t``.
    :param hidden_size: units of the hidden and cell states.
    :param bias: learn the gate bias ``b`` (``bias_ih`` and ``bias_hh``, as in ``torch.nn.LSTMCell``).
    :param layer_norm: normalise ``W_x x_t``, ``W_h h_{t-1}`` and ``c_t``; false: the plain LSTM.
    :param eps: added to each variance before the square root.
    """

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, layer_norm: bool = True, eps: float = 1e-5
    ):
        super().__init__()
        self.input_size = _positive("input_size", input_size)
        self.hidden_size = h = _positive("hidden_size", hidden_size)
        self.weight_ih = nn.Parameter(torch.empty(4 * h, self.input_size))
        self.weight_hh = nn.Parameter(torch.empty(4 * h, h))
        self.bias_ih = nn.Parameter(torch.empty(4 * h)) if bias else None
        self.bias_hh = nn.Parameter(torch.empty(4 * h)) if bias else None
        self.ln_ih = BaLayerNorm(4 * h, eps) if layer_norm else None
        self.ln_hh = BaLayerNorm(4 * h, eps) if layer_norm else None
        self.ln_c = BaLayerNorm(h, eps) if layer_norm else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """``torch.nn.LSTMCell``'s initialisation: every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H))."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh):
            if p is not None:
                nn.init.uniform_(p, -bound, bound)

    def input_gates(self, x: torch.Tensor) -> torch.Tensor:
        """``LN(W_x x) + bias_ih`` for inputs of any leading shape (a whole sequence at once)."""
        gx = x @ self.weight_ih.T
        if self.ln_ih is not None:
            gx = self.ln_ih(gx)
        return gx if self.bias_ih is None else gx + self.bias_ih

    def step(
        self, gx: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One step from the input's gate contribution ``gx`` (see ``input_gates``) and ``(h, c)``."""
        h, c = state
        gh = h @ self.weight_hh.T
        if self.ln_hh is not None:
            gh = self.ln_hh(gh)
        if self.bias_hh is not None:
            gh = gh + self.bias_hh
        i, f, g, o = (gx + gh).chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        c_out = c if self.ln_c is None else self.ln_c(c)
        return torch.sigmoid(o) * torch.tanh(c_out), c

    def initial_state(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Zero hidden and cell states for the batch of ``x``."""
        zeros = x.new_zeros(x.shape[0], self.hidden_size)
        return zeros, zeros

    def forward(
        self, x: torch.Tensor, hx: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(h_t, c_t)`` from a batch ``x`` of shape ``(batch, input_size)`` and ``hx = (h, c)``
        (zeros when omitted), as ``torch.nn.LSTMCell``."""
        if x.dim() != 2 or x.shape[1] != self.input_size:
            raise ValueError(f"expected an input of shape (batch, {self.input_size}), got {list(x.shape)}")
        return self.step(self.input_gates(x), self.initial_state(x) if hx is None else hx)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, layer_norm={self.ln_c is not None}"


class LNLSTM(nn.Module):
    """A one-layer (LN-)LSTM over a batch-first sequence, optionally with a linear read-out of the
    last hidden state (a sequence-to-one model, e.g. for the adding problem).

    :param input_size: features per time step.
    :param hidden_size: units of the hidden and cell states.
    :param output_size: outputs of a linear read-out of the last hidden state (None: every hidden state).
    :param layer_norm: the LN-LSTM of the paper; false: the plain LSTM (same weights and code).
    :param eps: added to each variance before the square root.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int | None = None,
        layer_norm: bool = True,
        eps: float = 1e-5,
    ):
        super().__init__()
        self.cell = LNLSTMCell(input_size, hidden_size, layer_norm=layer_norm, eps=eps)
        if output_size is not None:
            _positive("output_size", output_size)
        self.head = nn.Linear(hidden_size, output_size) if output_size is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``(batch, time, input_size)``. The input projections and their normalisation are
        computed for every step at once (each step's statistics are still its own)."""
        if x.dim() != 3 or x.shape[2] != self.cell.input_size:
            raise ValueError(
                f"expected an input of shape (batch, time, {self.cell.input_size}), got {list(x.shape)}"
            )
        gates = self.cell.input_gates(x)
        state = self.cell.initial_state(x)
        outputs = []
        for t in range(x.shape[1]):
            state = self.cell.step(gates[:, t], state)
            outputs.append(state[0])
        if self.head is not None:
            return self.head(state[0])
        return torch.stack(outputs, dim=1)
