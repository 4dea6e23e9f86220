"""Exact properties of the pooling mixer, the MetaFormer block and the PoolFormer models."""

from __future__ import annotations

import inspect

import pytest
import torch
import torch.nn.functional as F

from paperzoo_poolformer import variants
from paperzoo_poolformer.block import DropPath, MetaFormerBlock
from paperzoo_poolformer.mixer import Pooling
from paperzoo_poolformer.model import PoolFormer


def _randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# -- the pooling token mixer (Eq. 4) ---------------------------------------------------------------
def _window_mean_minus_centre(x: torch.Tensor, k: int) -> torch.Tensor:
    """Eq. 4 written out: sum over the window inside the image / number of such positions, minus x."""
    c = x.shape[1]
    ones = torch.ones(c, 1, k, k, dtype=x.dtype)
    window_sum = F.conv2d(x, ones, padding=k // 2, groups=c)
    count = F.conv2d(torch.ones_like(x[:1, :1]), ones[:1], padding=k // 2)
    return window_sum / count - x


@pytest.mark.parametrize("k", [1, 3, 5])
def test_mixer_equals_the_window_mean_minus_the_centre(k):
    x = _randn(2, 4, 7, 9)
    torch.testing.assert_close(Pooling(k)(x), _window_mean_minus_centre(x, k), rtol=1e-12, atol=1e-12)


def test_mixer_maps_a_constant_map_to_zero():
    per_channel = _randn(3, 5).view(3, 5, 1, 1).expand(3, 5, 6, 6)
    torch.testing.assert_close(
        Pooling(3)(per_channel), torch.zeros(3, 5, 6, 6, dtype=torch.float64), rtol=0, atol=1e-15
    )


def test_mixer_averages_only_positions_inside_the_image():
    """A unit impulse: the corner window holds 4 positions, an edge one 6, an interior one 9
    (with zero padding counted, as ``count_include_pad=True`` would do, every one would be 1/9)."""
    x = torch.zeros(1, 1, 5, 5, dtype=torch.float64)
    x[0, 0, 0, 0] = 1.0  # corner
    out = Pooling(3)(x)[0, 0]
    assert out[0, 0] == 1 / 4 - 1
    assert out[0, 1] == pytest.approx(1 / 6) and out[1, 0] == pytest.approx(1 / 6)
    assert out[1, 1] == pytest.approx(1 / 9)
    assert out[2:, :].abs().sum() == 0 and out[:, 2:].abs().sum() == 0


def test_mixer_is_linear_parameter_free_and_channelwise():
    mixer = Pooling(3)
    x, y = _randn(2, 6, 5, 5, seed=1), _randn(2, 6, 5, 5, seed=2)
    torch.testing.assert_close(mixer(2.5 * x - y), 2.5 * mixer(x) - mixer(y), rtol=1e-12, atol=1e-12)
    perm = torch.randperm(6, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(mixer(x[:, perm]), mixer(x)[:, perm], rtol=0, atol=0)
    assert list(mixer.parameters()) == []


def test_mixer_gradient_reaches_its_input():
    """The testing kit's backward check needs a parameter; the mixer has none, so check the input."""
    x = _randn(2, 8, 6, 6).requires_grad_()
    out = Pooling(3)(x)
    assert torch.isfinite(out).all()
    (out**2).mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_mixer_rejects_even_pool_sizes():
    with pytest.raises(ValueError, match="odd"):
        Pooling(4)


# -- the MetaFormer block (Eqs. 2-3) -------------------------------------------------------------
def _block_by_hand(block: MetaFormerBlock, x: torch.Tensor) -> torch.Tensor:
    """Eqs. 2-3 from the block's weights: per-sample norm over (C, H, W), the mixer, an einsum MLP."""

    def norm(t: torch.Tensor, gn: torch.nn.GroupNorm) -> torch.Tensor:
        mu = t.mean((1, 2, 3), keepdim=True)
        var = t.var((1, 2, 3), unbiased=False, keepdim=True)
        return (t - mu) / torch.sqrt(var + gn.eps) * gn.weight.view(-1, 1, 1) + gn.bias.view(-1, 1, 1)

    s1, s2 = block.layer_scale1.scale.view(-1, 1, 1), block.layer_scale2.scale.view(-1, 1, 1)
    w1, b1 = block.mlp.fc1.weight[:, :, 0, 0], block.mlp.fc1.bias
    w2, b2 = block.mlp.fc2.weight[:, :, 0, 0], block.mlp.fc2.bias
    n1 = norm(x, block.norm1)
    y = x + s1 * _window_mean_minus_centre(n1, 3)
    hidden = F.gelu(torch.einsum("oc,bchw->bohw", w1, norm(y, block.norm2)) + b1.view(-1, 1, 1))
    return y + s2 * (torch.einsum("co,bohw->bchw", w2, hidden) + b2.view(-1, 1, 1))


def test_block_computes_eqs_2_and_3():
    torch.manual_seed(0)
    block = MetaFormerBlock(6, layer_scale_init_value=0.7).double().eval()
    with torch.no_grad():
        for p in block.parameters():
            p.add_(0.2 * torch.randn_like(p))
    x = _randn(3, 6, 5, 4)
    with torch.no_grad():
        torch.testing.assert_close(block(x), _block_by_hand(block, x), rtol=1e-10, atol=1e-10)


def test_block_with_zero_layer_scale_is_the_identity():
    block = MetaFormerBlock(8, layer_scale_init_value=0.0)
    x = torch.randn(2, 8, 5, 5)
    assert torch.equal(block(x), x)


def test_block_mlp_has_ratio_4_and_layer_scale_is_per_channel():
    block = MetaFormerBlock(10)
    assert block.mlp.fc1.weight.shape == (40, 10, 1, 1) and block.mlp.fc2.weight.shape == (10, 40, 1, 1)
    assert torch.equal(block.layer_scale1.scale, torch.full((10,), 1e-5))
    assert isinstance(MetaFormerBlock(10, layer_scale_init_value=None).layer_scale1, torch.nn.Identity)


def test_identity_token_mixer_leaves_only_the_mlp_branch():
    """Identity mixer: Eq. 2 becomes X + s1 * Norm(X), nothing moves between positions, so each
    position's output depends on the others only through the per-sample norm statistics."""
    block = MetaFormerBlock(4, token_mixer="identity", layer_scale_init_value=None).double().eval()
    x = _randn(1, 4, 3, 3)
    y = x + block.norm1(x)
    torch.testing.assert_close(block(x), y + block.mlp(block.norm2(y)), rtol=0, atol=0)


# -- stochastic depth ----------------------------------------------------------------------------
def test_drop_path_keeps_or_drops_whole_samples_and_rescales():
    torch.manual_seed(0)
    layer = DropPath(0.25).train()
    x = torch.rand(4000, 3, 2, 2) + 0.5
    out = layer(x)
    kept = (out != 0).flatten(1)
    assert (kept.all(1) | ~kept.any(1)).all(), "a sample is dropped whole or kept whole"
    torch.testing.assert_close(out[kept.all(1)], x[kept.all(1)] / 0.75)
    assert abs(kept.all(1).float().mean().item() - 0.75) < 0.03  # 4000 draws: 3 standard errors is 0.02
    assert torch.equal(layer.eval()(x), x)


def test_drop_path_rate_rises_linearly_over_all_blocks():
    """The official schedule: block ``i`` of ``N`` gets ``rate * i / (N - 1)``."""
    model = PoolFormer(depths=(2, 1, 3), dims=(4, 8, 8), drop_path_rate=0.5, num_classes=2)
    rates = [b.drop_path1.p for stage in model.stages for b in stage.blocks]
    assert rates == pytest.approx([0.5 * i / 5 for i in range(6)])
    assert all(b.drop_path2.p == b.drop_path1.p for stage in model.stages for b in stage.blocks)


# -- models ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name", ["poolformer_s12", "poolformer_s24", "poolformer_s36", "poolformer_m36", "poolformer_m48"]
)
def test_variant_shapes_at_224(name):
    """Stride 4 stem, then three stride-2 downsamplings: a 224 image ends as a 7x7 map (meta device)."""
    with torch.device("meta"):
        model = getattr(variants, name)(num_classes=13)
        x = torch.empty(2, 3, 224, 224)
        features = model.forward_features(x)
        assert model(x).shape == (2, 13)
    width = 512 if "_s" in name else 768
    assert features.shape == (2, width, 7, 7)


def test_official_layer_scale_defaults():
    """1e-5 for S12 and S24, 1e-6 for S36, M36 and M48 (the official factories)."""
    expected = {
        "poolformer_s12": 1e-5,
        "poolformer_s24": 1e-5,
        "poolformer_s36": 1e-6,
        "poolformer_m36": 1e-6,
        "poolformer_m48": 1e-6,
    }
    for name, value in expected.items():
        assert (
            inspect.signature(getattr(variants, name)).parameters["layer_scale_init_value"].default == value
        )


def test_stage_resolutions_and_widths():
    model = PoolFormer(depths=(1, 1, 1), dims=(8, 16, 24), num_classes=0, in_chans=1)
    x = torch.randn(2, 1, 32, 32)
    shapes = []
    h = model.stem(x)
    for stage in model.stages:
        h = stage(h)
        shapes.append(tuple(h.shape))
    assert shapes == [(2, 8, 8, 8), (2, 16, 4, 4), (2, 24, 2, 2)]
    assert model(x).shape == (2, 24)  # num_classes=0: the pooled, normalised features


def test_pre_pool_head_normalises_the_whole_map_before_averaging():
    model = PoolFormer(depths=(1,), dims=(8,), num_classes=3).double().eval()
    x = _randn(2, 3, 16, 16)
    with torch.no_grad():
        f = model.forward_features(x)
        mu, var = f.mean((1, 2, 3), keepdim=True), f.var((1, 2, 3), unbiased=False, keepdim=True)
        pooled = ((f - mu) / torch.sqrt(var + 1e-5)).mean((2, 3))  # GN weight 1, bias 0 at init
        torch.testing.assert_close(model(x), model.head.fc(pooled), rtol=1e-12, atol=1e-12)


def test_pooling_mixer_has_no_parameters_so_identity_ablation_has_the_same_count():
    def count(m: torch.nn.Module) -> int:
        return sum(p.numel() for p in m.parameters())

    kwargs = dict(depths=(2, 2), dims=(16, 32), num_classes=10, in_chans=1)
    assert count(PoolFormer(**kwargs)) == count(PoolFormer(**kwargs, token_mixer="identity"))
