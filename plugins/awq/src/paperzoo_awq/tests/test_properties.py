"""Exact properties of AWQ: the scale search's endpoints, function preservation of the folded scales,
the quantised grid, and the layer."""

import copy

import torch
from paperzoo_compress.fixture import plant_outliers
from paperzoo_compress.quant import fake_quantize
from paperzoo_tinylm.model import TinyLMDecoder
from torch import nn

from paperzoo_awq.layer import FakeQuantLinearWInt, awq_linear_error
from paperzoo_awq.search import awq_quantize_, grid_scales, search_scale


def _model():
    torch.manual_seed(0)
    m = TinyLMDecoder(d_model=32, n_layers=2, n_heads=4, d_ff=64, vocab_size=50).double().eval()
    return plant_outliers(m, 2, 20.0, seed=0)


def test_alpha_zero_is_rtn_and_scales_normalised():
    x_mean = torch.rand(16, dtype=torch.float64) + 0.1
    assert torch.equal(grid_scales(x_mean, 0.0), torch.ones(16, dtype=torch.float64))
    s = grid_scales(x_mean, 0.7)
    assert abs((s.max() * s.min()).item() - 1.0) < 1e-12
    assert torch.allclose(s / s[0], (x_mean / x_mean[0]) ** 0.7)


def test_search_never_worse_than_rtn_and_restores_weights():
    lin = nn.Linear(32, 16, bias=False).double()
    x = torch.randn(256, 32, dtype=torch.float64)
    x[:, :2] *= 30
    w0 = lin.weight.clone()
    alpha, s, history = search_scale(lin, [lin], x, lambda w: fake_quantize(w, 3, 8), n_grid=10)
    assert torch.equal(lin.weight, w0)
    assert history[0] == min(history[0], history[int(round(alpha * 10))]) or min(history) <= history[0]
    assert min(history) == history[int(round(alpha * 10))]


def test_scales_only_is_function_preserving():
    model = _model()
    ids = torch.randint(50, (4, 16))
    before = model(ids).logits
    result = awq_quantize_(model, ids, 4, 8, auto_clip=False, quantize=False, n_grid=5)
    assert len(result.scales) == 8  # 4 groups per block
    assert (model(ids).logits - before).abs().max() < 1e-11


def test_quantised_weights_on_the_grid():
    model = _model()
    awq_quantize_(model, torch.randint(50, (4, 16)), 3, 8, n_grid=5)
    for name, m in model.named_modules():
        if isinstance(m, nn.Linear) and name.startswith("blocks."):
            assert max(r.unique().numel() for r in m.weight.reshape(-1, 8)) <= 8
    assert model.lm_head.weight[0].unique().numel() > 8  # the head stays in float


def test_no_search_equals_rtn():
    model = _model()
    rtn = copy.deepcopy(model)
    for name, m in rtn.named_modules():
        if isinstance(m, nn.Linear) and name.startswith("blocks."):
            m.weight.data = fake_quantize(m.weight.data, 4, 8)
    awq_quantize_(model, torch.randint(50, (2, 8)), 4, 8, auto_scale=False, auto_clip=False)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), rtn.state_dict().values()))


def test_layer_calibration_beats_rtn_on_outlier_inputs():
    torch.manual_seed(0)
    lin = nn.Linear(32, 16).double()
    x = torch.randn(512, 32, dtype=torch.float64)
    x[:, [3, 17]] *= 40
    err = awq_linear_error(lin, x, 3, 8)
    assert err["awq"] < err["rtn"] and err["alpha"] > 0
    layer = FakeQuantLinearWInt(lin, 3, 8)
    assert torch.equal(layer(x), nn.functional.linear(x, fake_quantize(lin.weight, 3, 8), lin.bias))
    layer.calibrate(x)
    assert max(r.unique().numel() for r in layer.weight.reshape(-1, 8)) <= 8
