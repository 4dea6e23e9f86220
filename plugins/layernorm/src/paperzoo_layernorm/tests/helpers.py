"""Independent references for the tests: the paper's equations written out with
``torch.nn.functional.layer_norm`` (not the plugin's code)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def ln(x: torch.Tensor, gain: torch.Tensor, bias: torch.Tensor, eps: float) -> torch.Tensor:
    """``LN(x; gain, bias)`` over the last dimension, by torch's own layer norm."""
    return F.layer_norm(x, x.shape[-1:], gain, bias, eps)


def paper_ln_lstm(x: torch.Tensor, p: dict[str, torch.Tensor], hidden: int, eps: float) -> tuple:
    """The LN-LSTM equations of the paper over a batch-first sequence ``x``, step by step:

    (i, f, g, o) = LN(W_h h; a1, b1) + LN(W_x x_t; a2, b2) + b
    c = sigmoid(f) c + sigmoid(i) tanh(g);  h = sigmoid(o) tanh(LN(c; a3, b3)).

    Returns every hidden state ``(batch, time, hidden)`` and the last cell state."""
    h = x.new_zeros(x.shape[0], hidden)
    c = x.new_zeros(x.shape[0], hidden)
    b = p["bias_ih"] + p["bias_hh"]
    out = []
    for t in range(x.shape[1]):
        pre = (
            ln(h @ p["weight_hh"].T, p["ln_hh.weight"], p["ln_hh.bias"], eps)
            + ln(x[:, t] @ p["weight_ih"].T, p["ln_ih.weight"], p["ln_ih.bias"], eps)
            + b
        )
        i, f, g, o = (pre[:, k * hidden : (k + 1) * hidden] for k in range(4))
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(ln(c, p["ln_c.weight"], p["ln_c.bias"], eps))
        out.append(h)
    return torch.stack(out, dim=1), c


def perturb(module: torch.nn.Module, scale: float = 0.3, seed: int = 0) -> None:
    """Move every parameter away from its initialisation (gains off one, biases off zero)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))
