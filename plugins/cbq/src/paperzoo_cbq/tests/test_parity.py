"""No official implementation of CBQ is public (searched: the authors' and Huawei Noah's Ark's
repositories, code and issue indexes), so parity is with the paper's equations, evaluated here
independently by hand (plain Python arithmetic) on small inputs: AdaRound's rectified sigmoid and its
inverse, the LoRA-Rounding weight of a 1 x 2 layer, and the interquartile coarse stage of CFP."""

import math

import torch
from torch import nn

from paperzoo_cbq.cfp import outlier_threshold
from paperzoo_cbq.rounding import LoRARoundingLinear, inverse_rectified_sigmoid, rectified_sigmoid


def test_rectified_sigmoid_matches_the_closed_form(record_property):
    v = [-8.0, -1.5, 0.0, 0.3, 2.0, 8.0]
    ref = [min(1.0, max(0.0, 1.2 / (1 + math.exp(-x)) - 0.1)) for x in v]
    got = rectified_sigmoid(torch.tensor(v, dtype=torch.float64))
    err = (got - torch.tensor(ref, dtype=torch.float64)).abs().max().item()
    record_property("max_abs_diff_float64", err)
    assert err < 1e-15
    h = torch.tensor([0.0, 0.2, 0.5, 0.99], dtype=torch.float64)
    assert torch.allclose(rectified_sigmoid(inverse_rectified_sigmoid(h)), h, atol=1e-15, rtol=0)


def test_lora_rounding_weight_by_hand():
    linear = nn.Linear(2, 1, bias=False).double()
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[-0.3, 0.6]]))
    m = LoRARoundingLinear(linear, bits=2, group_size=-1, rank=1)
    # grid: scale = 0.9 / 3 = 0.3, zero = -round(-0.3 / 0.3) = 1; w / scale = [-1, 2]: floor [-1, 2]
    with torch.no_grad():
        m.lora_a.fill_(1.0)
        m.lora_b.copy_(torch.tensor([[30.0, -30.0]]))  # offsets pushed to 1 and 0
    h = m.offsets()
    assert torch.allclose(h, torch.tensor([[1.0, 0.0]], dtype=torch.float64), atol=0, rtol=0)
    # codes clamp(floor + h + zero, 0, 3) = [1, 3]; weight (codes - zero) * scale = [0, 0.6]
    assert torch.allclose(m.quantized_weight(), torch.tensor([[0.0, 0.6]], dtype=torch.float64), atol=1e-15)


def test_coarse_stage_is_the_interquartile_rule():
    # bulk 1..20 (Q1 = 5.75, Q3 = 15.25, fence 29.5) and two far values: both are outliers, the fence
    # keeps 20, and the fine split keeps both far values together
    v = torch.tensor([float(i) for i in range(1, 21)] + [100.0, 104.0])
    assert outlier_threshold(v) == 20.0
    assert outlier_threshold(torch.arange(1.0, 21.0)) == 20.0  # no candidate: T = max
