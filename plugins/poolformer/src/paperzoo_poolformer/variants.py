"""The five PoolFormer models of the paper, built from ``model.PoolFormer``.

Every factory takes the same params: ``num_classes``, ``in_chans``, ``drop_rate`` (dropout in the
channel MLPs), ``drop_path_rate`` (stochastic depth of the last block; the official ImageNet recipe
uses 0.1, 0.1, 0.2, 0.3, 0.4 for S12, S24, S36, M36, M48), ``layer_scale_init_value`` (the official
default of each model; ``None`` turns LayerScale off) and ``head_norm`` (``"pre_pool"``, official, or
``"post_pool"``, timm's port).
"""

from __future__ import annotations

from .model import HeadNorm, PoolFormer

# Blocks per stage and widths of the official models (their LayerScale init is each factory's default).
VARIANTS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "s12": ((2, 2, 6, 2), (64, 128, 320, 512)),
    "s24": ((4, 4, 12, 4), (64, 128, 320, 512)),
    "s36": ((6, 6, 18, 6), (64, 128, 320, 512)),
    "m36": ((6, 6, 18, 6), (96, 192, 384, 768)),
    "m48": ((8, 8, 24, 8), (96, 192, 384, 768)),
}


def _build(name: str, **params: object) -> PoolFormer:
    depths, dims = VARIANTS[name]
    return PoolFormer(depths=depths, dims=dims, **params)


def poolformer_s12(
    num_classes: int = 1000,
    in_chans: int = 3,
    drop_rate: float = 0.0,
    drop_path_rate: float = 0.0,
    layer_scale_init_value: float | None = 1e-5,
    head_norm: HeadNorm = "pre_pool",
) -> PoolFormer:
    """PoolFormer-S12: blocks [2, 2, 6, 2], widths [64, 128, 320, 512], 11.9M params (77.2% ImageNet)."""
    return _build("s12", **locals())


def poolformer_s24(
    num_classes: int = 1000,
    in_chans: int = 3,
    drop_rate: float = 0.0,
    drop_path_rate: float = 0.0,
    layer_scale_init_value: float | None = 1e-5,
    head_norm: HeadNorm = "pre_pool",
) -> PoolFormer:
    """PoolFormer-S24: blocks [4, 4, 12, 4], widths [64, 128, 320, 512], 21.4M params (80.3%)."""
    return _build("s24", **locals())


def poolformer_s36(
    num_classes: int = 1000,
    in_chans: int = 3,
    drop_rate: float = 0.0,
    drop_path_rate: float = 0.0,
    layer_scale_init_value: float | None = 1e-6,
    head_norm: HeadNorm = "pre_pool",
) -> PoolFormer:
    """PoolFormer-S36: blocks [6, 6, 18, 6], widths [64, 128, 320, 512], 30.9M params (81.4%)."""
    return _build("s36", **locals())


def poolformer_m36(
    num_classes: int = 1000,
    in_chans: int = 3,
    drop_rate: float = 0.0,
    drop_path_rate: float = 0.0,
    layer_scale_init_value: float | None = 1e-6,
    head_norm: HeadNorm = "pre_pool",
) -> PoolFormer:
    """PoolFormer-M36: blocks [6, 6, 18, 6], widths [96, 192, 384, 768], 56.2M params (82.1%)."""
    return _build("m36", **locals())


def poolformer_m48(
    num_classes: int = 1000,
    in_chans: int = 3,
    drop_rate: float = 0.0,
    drop_path_rate: float = 0.0,
    layer_scale_init_value: float | None = 1e-6,
    head_norm: HeadNorm = "pre_pool",
) -> PoolFormer:
    """PoolFormer-M48: blocks [8, 8, 24, 8], widths [96, 192, 384, 768], 73.5M params (82.5%)."""
    return _build("m48", **locals())
