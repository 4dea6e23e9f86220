"""Numerical parity with the two independent PoolFormer implementations, timm and transformers.

Both references are built without weights (random initialisation, nothing is downloaded). Their
LayerScale vectors start at 1e-5, which would make every block nearly the identity, so every
parameter is first moved to a random value of order one: then each token mixer, MLP and norm changes
the output and a wrong one would show. The comparison runs in float64. Both sides call the same
PyTorch kernels in the same order, and the measured difference is exactly 0 (in float32 too); the
tolerance 1e-12 only leaves room for a reference that reorders a reduction in a later release.
"""

from __future__ import annotations

import re

import pytest
import torch
from paperzoo.compat import import_timm, import_torchvision

from paperzoo_poolformer.variants import poolformer_s12

TOL = {"rtol": 1e-12, "atol": 1e-12}
VARIANTS = ["poolformer_s12", "poolformer_s24", "poolformer_s36", "poolformer_m36", "poolformer_m48"]


def _randomise(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g, dtype=p.dtype)
            if p.ndim == 1 and "bias" not in name:  # norm weights and LayerScale vectors
                p.copy_(1.0 + 0.3 * noise)
            else:
                p.add_(0.05 * noise)
    return model.double().eval()


def _image(seed: int = 0, size: int = 64) -> torch.Tensor:
    return torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.fixture(scope="module")
def timm_s12():
    torch.manual_seed(0)
    return _randomise(import_timm().create_model("poolformer_s12", pretrained=False), seed=1)


def test_timm_state_dict_loads_unchanged_and_parameter_count_matches(timm_s12):
    ours = poolformer_s12()
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in timm_s12.parameters())
    assert sum(p.numel() for p in ours.parameters()) == 11_915_176  # 11.9M, the paper's "12M"
    ours.load_state_dict(timm_s12.state_dict(), strict=True)


def test_features_match_timm(timm_s12, record_property):
    ours = poolformer_s12().double().eval()
    ours.load_state_dict(timm_s12.state_dict())
    x = _image()
    with torch.no_grad():
        expected, got = timm_s12.forward_features(x), ours.forward_features(x)
        record_property("max_abs_diff_float64", float((got - expected).abs().max()))
        torch.testing.assert_close(got, expected, **TOL)
    assert expected.abs().max() > 1.0  # the randomised weights give large, non-trivial features


def test_logits_match_timm_with_its_post_pool_head(timm_s12, record_property):
    ours = poolformer_s12(head_norm="post_pool").double().eval()
    ours.load_state_dict(timm_s12.state_dict())
    x = _image(seed=2, size=64)
    with torch.no_grad():
        got, expected = ours(x), timm_s12(x)
        record_property("max_abs_diff_float64", float((got - expected).abs().max()))
        torch.testing.assert_close(got, expected, **TOL)


def test_official_head_differs_from_timm_head(timm_s12, record_property):
    """timm normalises after pooling; the paper's code before. Same weights, different function."""
    ours = poolformer_s12().double().eval()
    ours.load_state_dict(timm_s12.state_dict())
    x = _image(seed=3, size=64)
    with torch.no_grad():
        gap = float((ours(x) - timm_s12(x)).abs().max())
    record_property("max_abs_diff_other_head", gap)
    assert gap > 1e-2


@pytest.mark.parametrize("name", VARIANTS)
def test_every_variant_has_timm_structure(name):
    """Parameter names and shapes equal timm's for all five models (built on the meta device: no memory)."""
    from paperzoo import create

    timm = import_timm()
    with torch.device("meta"):
        ours, ref = create(name), timm.create_model(name, pretrained=False)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: v.shape for k, v in ref.state_dict().items()
    }


def _from_transformers(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """transformers' PoolFormer names (its port of the official code) -> ours."""
    rules = [
        (r"^poolformer\.encoder\.patch_embeddings\.0\.projection", "stem.conv"),
        (r"^poolformer\.encoder\.patch_embeddings\.(\d+)\.projection", r"stages.\1.downsample.conv"),
        (r"^poolformer\.encoder\.block\.(\d+)\.(\d+)\.", r"stages.\1.blocks.\2."),
        (r"layer_scale_(\d)$", r"layer_scale\1.scale"),
        (r"\.output\.conv(\d)\.", r".mlp.fc\1."),
        (r"\.before_norm\.", ".norm1."),
        (r"\.after_norm\.", ".norm2."),
        (r"^norm\.", "head.norm."),
        (r"^classifier\.", "head.fc."),
    ]
    out = {}
    for key, value in state.items():
        for pattern, repl in rules:
            key = re.sub(pattern, repl, key)
        out[key] = value
    return out


def test_full_model_matches_transformers_official_port(record_property):
    """transformers ports the official code, head included (GroupNorm before pooling, our default).
    Its default config is PoolFormer-S12, so this also checks every default of our factory."""
    import_torchvision()
    from transformers import PoolFormerConfig, PoolFormerForImageClassification

    torch.manual_seed(0)
    ref = _randomise(PoolFormerForImageClassification(PoolFormerConfig(num_labels=1000)), seed=4)
    ours = poolformer_s12().double().eval()
    ours.load_state_dict(_from_transformers(ref.state_dict()), strict=True)
    x = _image(seed=5)
    with torch.no_grad():
        expected, got = ref(pixel_values=x).logits, ours(x)
        record_property("max_abs_diff_float64", float((got - expected).abs().max()))
        torch.testing.assert_close(got, expected, **TOL)
    assert expected.std() > 0.1  # logits that depend on the input, not a near-constant
