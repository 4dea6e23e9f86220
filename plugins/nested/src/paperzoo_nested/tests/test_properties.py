"""Exact properties: views share storage and pass gradients to the parent; the nested loss equals its
hand-written sum; truncated maps equal full maps on zero-padded inputs; bad input refused."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from paperzoo_nested.evaluate import metric_at_dims, zero_pad
from paperzoo_nested.loss import nested_dims, nested_prefix_loss, truncate
from paperzoo_nested.views import PrefixLinear, prefix_linear, prefix_view


def test_nested_dims():
    assert nested_dims(64) == [8, 16, 32, 64]
    assert nested_dims(48) == [8, 16, 32, 48]
    assert nested_dims(8) == [8]
    assert nested_dims(2048) == [8, 16, 32, 64, 128, 256, 512, 1024, 2048]
    assert nested_dims(10, start=1) == [1, 2, 4, 8, 10]
    with pytest.raises(ValueError):
        nested_dims(4)


@pytest.mark.parametrize("axis", [0, 1])
def test_prefix_view_shares_storage_and_gradient(axis):
    torch.manual_seed(0)
    lin = nn.Linear(12, 10)
    view = prefix_view(lin, 5, axis=axis)
    assert view.data_ptr() == lin.weight.data_ptr()
    assert view.untyped_storage().data_ptr() == lin.weight.untyped_storage().data_ptr()
    assert view._base is lin.weight
    expected = lin.weight[:, :5] if axis == 1 else lin.weight[:5]
    assert torch.equal(view, expected)
    view.sum().backward()
    grad = torch.zeros_like(lin.weight)
    (grad[:, :5] if axis == 1 else grad[:5]).fill_(1.0)
    assert torch.equal(lin.weight.grad, grad)
    with torch.no_grad():  # a write to the parent shows in the view: no copy
        lin.weight[0, 0] = 123.0
    assert view[0, 0] == 123.0


def test_prefix_linear_equals_zero_padded_full_map():
    torch.manual_seed(0)
    lin = nn.Linear(16, 6).double()
    x = torch.randn(7, 16, dtype=torch.float64)
    for m in (1, 5, 16):
        got = prefix_linear(x, lin, m)
        assert torch.allclose(got, lin(zero_pad(x, m)), rtol=0, atol=1e-13)
        manual = x[:, :m] @ lin.weight[:, :m].T + lin.bias
        assert torch.allclose(got, manual, rtol=0, atol=1e-13)
    assert torch.allclose(prefix_linear(x, lin, m_out=3), lin(x)[:, :3], rtol=0, atol=1e-13)


def test_prefix_linear_layer_widths_and_gradients():
    torch.manual_seed(0)
    layer = PrefixLinear(8, 6, out_width=4)
    x = torch.randn(3, 5)
    out = layer(x)
    assert out.shape == (3, 4)
    assert torch.equal(out, F.linear(x, layer.weight[:4, :5], layer.bias[:4]))
    out.sum().backward()
    assert layer.weight.grad[4:].abs().sum() == 0 and layer.weight.grad[:, 5:].abs().sum() == 0
    assert layer.weight.grad[:4, :5].abs().sum() > 0
    layer.out_width = 6
    assert torch.equal(
        layer(torch.ones(2, 8)), nn.functional.linear(torch.ones(2, 8), layer.weight, layer.bias)
    )
    with pytest.raises(ValueError, match="in_features"):
        layer(torch.ones(2, 9))
    with pytest.raises(ValueError, match="out_width"):
        PrefixLinear(8, 6, out_width=7)


def test_nested_loss_is_hand_weighted_sum():
    torch.manual_seed(0)
    z = torch.randn(10, 32, requires_grad=True)
    target = torch.randn(10, 32)

    def loss_fn(p):
        return ((p - target[:, : p.shape[-1]]) ** 2).mean()

    dims, weights = [4, 8, 32], [0.5, 2.0, 1.0]
    got = nested_prefix_loss(loss_fn, z, dims, weights)
    by_hand = (
        0.5 * ((z[:, :4] - target[:, :4]) ** 2).mean()
        + 2.0 * ((z[:, :8] - target[:, :8]) ** 2).mean()
        + 1.0 * ((z - target) ** 2).mean()
    )
    assert torch.equal(got, by_hand)
    got.backward()
    # gradient of feature j collects the weights of every prefix containing it
    g = z.grad
    assert torch.allclose(g[:, 20], 2 * (z[:, 20] - target[:, 20]).detach() / 320, atol=1e-7)
    assert nested_prefix_loss(loss_fn, z, [32]).item() == loss_fn(z).item()


def test_nested_loss_several_tensors_and_normalize():
    torch.manual_seed(0)
    a, b = torch.randn(5, 16), torch.randn(5, 16)

    def cos(u, v):
        return (u * v).sum(-1).mean()

    got = nested_prefix_loss(cos, (a, b), [4, 16], normalize=True)
    expect = F.cosine_similarity(a[:, :4], b[:, :4]).mean() + F.cosine_similarity(a, b).mean()
    assert torch.allclose(got, expect, atol=1e-6)
    assert torch.equal(truncate(a, 3), a[:, :3]) and truncate(a, 3).data_ptr() == a.data_ptr()


@pytest.mark.parametrize(
    "dims,weights,match",
    [([8, 4], None, "increasing"), ([0, 4], None, "increasing"), ([4, 32], None, "increasing"),
     ([4, 8], [1.0], "weights"), ([4, 8], [1.0, -1.0], "weights")],
)  # fmt: skip
def test_bad_dims_or_weights_refused(dims, weights, match):
    with pytest.raises(ValueError, match=match):
        nested_prefix_loss(lambda p: p.sum(), torch.ones(2, 16), dims, weights)


def test_metric_at_dims():
    z = torch.arange(12.0).reshape(2, 6)
    got = metric_at_dims(lambda p: p.sum(), z, [1, 3, 6])
    assert got == {1: 6.0, 3: 24.0, 6: 66.0}
    with pytest.raises(ValueError):
        metric_at_dims(lambda p: p.sum(), z, [7])
