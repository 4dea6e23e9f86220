"""Exact properties of Bone and Bat: closed forms built block by block, init identity, merge algebra,
gradients, parameter counts."""

from __future__ import annotations

import io

import pytest
import torch
import torch.nn.functional as F

from paperzoo_bone.layer import BoneLinear

F64 = torch.float64


def make(
    in_features: int,
    out_features: int,
    r: int,
    variant: str = "bone",
    dtype=F64,
    seed: int = 0,
    scale: float = 0.1,
    bias: bool = True,
) -> BoneLinear:
    torch.manual_seed(seed)
    layer = BoneLinear(torch.nn.Linear(in_features, out_features, bias=bias).to(dtype), r=r, variant=variant)
    with torch.no_grad():
        layer.bone_block.normal_(0.0, scale)
    return layer


def loop_delta(layer: BoneLinear) -> torch.Tensor:
    """Delta W written block by block from the paper's definitions (independent of the layer's code)."""
    w, block, r = layer.base_layer.weight.detach(), layer.bone_block.detach(), layer.r
    out_f, in_f = w.shape
    delta = torch.zeros_like(w)
    if layer.variant == "bone":
        for j in range(0, in_f, r):  # every column block W_j gets B^T (truncated at the right edge)
            width = min(r, in_f - j)
            delta[:, j : j + width] = block.t()[:, :width]
    else:
        for a in range(out_f // r):
            for b in range(in_f // r):
                w_ab = w[a * r : (a + 1) * r, b * r : (b + 1) * r]
                delta[a * r : (a + 1) * r, b * r : (b + 1) * r] = w_ab @ block[a] + block[a]
    return delta


CASES = [(16, 32, 4, "bone"), (10, 12, 4, "bone"), (7, 5, 3, "bone"), (16, 32, 4, "bat"), (12, 6, 3, "bat")]


@pytest.mark.parametrize("in_f,out_f,r,variant", CASES)
def test_init_output_equals_base_exactly(in_f, out_f, r, variant):
    torch.manual_seed(0)
    base = torch.nn.Linear(in_f, out_f)
    layer = BoneLinear(base, r=r, variant=variant)
    x = torch.randn(4, 3, in_f)
    assert torch.equal(layer(x), base(x))
    assert not layer.bone_block.detach().any(), "B starts at zero"


@pytest.mark.parametrize("in_f,out_f,r,variant", CASES)
def test_delta_weight_and_forward_match_blockwise_definition(in_f, out_f, r, variant):
    layer = make(in_f, out_f, r, variant)
    expected = loop_delta(layer)
    torch.testing.assert_close(layer.delta_weight().detach(), expected, rtol=0, atol=1e-13)
    x = torch.randn(5, in_f, dtype=F64)
    w, b = layer.base_layer.weight, layer.base_layer.bias
    torch.testing.assert_close(layer(x), F.linear(x, w + expected, b), rtol=0, atol=1e-12)


@pytest.mark.parametrize("in_f,out_f,r,variant", CASES)
def test_merged_forward_equals_unmerged(in_f, out_f, r, variant):
    layer = make(in_f, out_f, r, variant)
    x = torch.randn(2, 6, in_f, dtype=F64)
    unmerged = layer(x)
    layer.merge()
    assert layer.merged
    torch.testing.assert_close(layer(x), unmerged, rtol=0, atol=1e-12)
    layer.merge()  # merging twice is a no-op
    torch.testing.assert_close(layer(x), unmerged, rtol=0, atol=1e-12)


@pytest.mark.parametrize("in_f,out_f,r,variant", CASES)
def test_merge_then_unmerge_restores_weight(in_f, out_f, r, variant):
    layer = make(in_f, out_f, r, variant)
    w0 = layer.base_layer.weight.detach().clone()
    layer.merge()
    assert not torch.allclose(layer.base_layer.weight, w0), "merge changed nothing"
    layer.unmerge()
    assert not layer.merged
    # float64 round-off of one add/subtract (bone) or one 3x3/4x4 solve (bat); far below any real change
    torch.testing.assert_close(layer.base_layer.weight.detach(), w0, rtol=0, atol=1e-13)
    layer.unmerge()  # unmerging an unmerged layer is a no-op
    torch.testing.assert_close(layer.base_layer.weight.detach(), w0, rtol=0, atol=1e-13)


def test_bone_merge_unmerge_bitwise_on_dyadic_values():
    """With weights on a coarse binary grid, W + B^T - B^T has no rounding: W comes back bit for bit."""
    torch.manual_seed(0)
    layer = BoneLinear(torch.nn.Linear(12, 8), r=4)
    with torch.no_grad():
        layer.base_layer.weight.copy_(torch.randint(-64, 64, (8, 12)) / 256)
        layer.bone_block.copy_(torch.randint(-64, 64, (4, 8)) / 256)
    w0 = layer.base_layer.weight.detach().clone()
    layer.merge()
    layer.unmerge()
    assert torch.equal(layer.base_layer.weight, w0)


@pytest.mark.parametrize("variant,shape", [("bone", (4, 32)), ("bat", (8, 4, 4))])
def test_only_the_block_trains_and_count_matches_formula(variant, shape):
    base = torch.nn.Linear(16, 32)
    layer = BoneLinear(base, r=4, variant=variant)
    trainable = {n: p for n, p in layer.named_parameters() if p.requires_grad}
    assert list(trainable) == ["bone_block"] and tuple(layer.bone_block.shape) == shape
    assert sum(p.numel() for p in trainable.values()) == 4 * 32  # r * out_features for both variants
    layer(torch.randn(3, 16)).square().sum().backward()
    assert base.weight.grad is None and base.bias.grad is None
    assert layer.bone_block.grad is not None


def test_bone_gradient_closed_form():
    """dL/dB = sum over tokens of (sum_j x_j) g^T for L = <y, g>: the shared block sees every chunk."""
    layer = make(10, 6, 4, "bone")
    x, g = torch.randn(7, 10, dtype=F64), torch.randn(7, 6, dtype=F64)
    (layer(x) * g).sum().backward()
    s = F.pad(x, (0, 2)).reshape(7, 3, 4).sum(1)
    torch.testing.assert_close(layer.bone_block.grad, s.t() @ g, rtol=0, atol=1e-12)


def test_bat_gradient_closed_form():
    """With G = dL/dW' = g^T x cut into r x r blocks: dL/dB_a = sum_b (W_ab^T G_ab + G_ab)."""
    layer = make(8, 12, 4, "bat")
    x, g = torch.randn(5, 8, dtype=F64), torch.randn(5, 12, dtype=F64)
    (layer(x) * g).sum().backward()
    w, grad_w = layer.base_layer.weight.detach(), g.t() @ x
    expected = torch.zeros(3, 4, 4, dtype=F64)
    for a in range(3):
        for b in range(2):
            blk = (slice(a * 4, a * 4 + 4), slice(b * 4, b * 4 + 4))
            expected[a] += w[blk].t() @ grad_w[blk] + grad_w[blk]
    torch.testing.assert_close(layer.bone_block.grad, expected, rtol=0, atol=1e-12)


def test_merged_state_travels_with_the_state_dict():
    layer = make(16, 8, 4, "bat")
    w0 = layer.base_layer.weight.detach().clone()
    x = torch.randn(3, 16, dtype=F64)
    expected = layer(x)
    layer.merge()
    buffer = io.BytesIO()
    torch.save(layer.state_dict(), buffer)
    buffer.seek(0)
    fresh = make(16, 8, 4, "bat", seed=1)
    fresh.load_state_dict(torch.load(buffer, weights_only=True))
    assert fresh.merged
    torch.testing.assert_close(fresh(x), expected, rtol=0, atol=1e-12)
    fresh.unmerge()
    torch.testing.assert_close(fresh.base_layer.weight.detach(), w0, rtol=0, atol=1e-13)


def test_dropout_acts_on_the_block_path_only():
    torch.manual_seed(0)
    base = torch.nn.Linear(8, 4)
    layer = BoneLinear(base, r=4, dropout=0.5).train()
    x = torch.randn(64, 8)
    assert torch.equal(layer(x), base(x)), "with B = 0 dropout must not touch the base path"
    with torch.no_grad():
        layer.bone_block.normal_()
    assert not torch.allclose(layer(x), layer(x)), "training mode draws fresh masks"
    layer.eval()
    plain = BoneLinear(base, r=4)
    plain.bone_block.data.copy_(layer.bone_block.data)
    assert torch.equal(layer(x), plain(x))


def test_invalid_arguments_are_rejected():
    with pytest.raises(ValueError):
        BoneLinear(torch.nn.Linear(4, 8), r=5)
    with pytest.raises(ValueError):
        BoneLinear(torch.nn.Linear(4, 8), r=0)
    with pytest.raises(ValueError):
        BoneLinear(torch.nn.Linear(12, 10), r=4, variant="bat")
    with pytest.raises(ValueError):
        BoneLinear(torch.nn.Linear(8, 8), r=4, variant="bat", dropout=0.1)
    with pytest.raises(ValueError):
        BoneLinear(torch.nn.Linear(8, 8), r=4, variant="lora")
    with pytest.raises(TypeError):
        BoneLinear(torch.nn.Conv1d(4, 4, 1), r=2)
