"""Parity with the official implementation's rules (submarat/removing-layer-norm, ``train.py``:
``FakeLayerNorm.recompute_average_std`` and its fake forward), on hand-worked numbers.

No package implements the method and the repository's own runs need GPT-2's weights, so the check is a
hand-computed golden case of its two rules: ``avg <- m * avg + (1 - m) * mean_tokens(sqrt(var + eps))``
(biased variance over features) and, once fake, ``(x - mean(x)) / avg * weight + bias``.
"""

from __future__ import annotations

import torch
from torch import nn

from paperzoo_ln_removal.fake_ln import FakeLayerNorm


def _tokens(*amplitudes: float) -> torch.Tensor:
    """One sequence of 2-feature tokens ``[a, -a]``: mean 0, biased std ``a``."""
    return torch.tensor([[[a, -a] for a in amplitudes]], dtype=torch.float64)


def test_moving_average_and_frozen_map_match_hand_values(record_property):
    ln = nn.LayerNorm(2, eps=0.0, dtype=torch.float64)
    with torch.no_grad():
        ln.weight.copy_(torch.tensor([2.0, 0.5]))
        ln.bias.copy_(torch.tensor([1.0, -1.0]))
    fake = FakeLayerNorm(ln, momentum=0.9).train()
    fake(_tokens(1.0, 3.0))  # first batch initialises the average: (1 + 3) / 2 = 2
    assert float(fake.sigma) == 2.0
    fake(_tokens(4.0, 6.0))  # 0.9 * 2 + 0.1 * 5 = 2.3
    assert abs(float(fake.sigma) - 2.3) < 1e-15
    fake.remove()
    fake(_tokens(100.0))  # a removed norm no longer tracks
    x = torch.tensor([[[4.6 + 1.0, -4.6 + 1.0]]], dtype=torch.float64)  # mean 1, centred [4.6, -4.6]
    want = torch.tensor([[[4.6 / 2.3 * 2.0 + 1.0, -4.6 / 2.3 * 0.5 - 1.0]]], dtype=torch.float64)
    err = float((fake(x) - want).abs().max().detach())
    record_property("frozen_map_max_abs_diff_float64", err)
    assert err < 1e-14
