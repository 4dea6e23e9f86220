"""MetaFormer Is Actually What You Need for Vision (Yu et al., 2022), arXiv:2111.11418."""

from paperzoo import Paper, hookimpl

PAPER = Paper(title="MetaFormer Is Actually What You Need for Vision", year=2022, arxiv="2111.11418")

_MODEL_EXAMPLE = {"num_classes": 10}
_IMAGE = [1, 3, 32, 32]
_VARIANTS = {
    "s12": "blocks [2, 2, 6, 2], widths [64, 128, 320, 512], 11.9M params",
    "s24": "blocks [4, 4, 12, 4], widths [64, 128, 320, 512], 21.4M params",
    "s36": "blocks [6, 6, 18, 6], widths [64, 128, 320, 512], 30.9M params",
    "m36": "blocks [6, 6, 18, 6], widths [96, 192, 384, 768], 56.2M params",
    "m48": "blocks [8, 8, 24, 8], widths [96, 192, 384, 768], 73.5M params",
}


@hookimpl
def register_layers(register):
    register(
        "pooling_token_mixer",
        "paperzoo_poolformer.mixer:Pooling",
        "PoolFormer's token mixer: AvgPool(3, stride 1, count_include_pad=False)(x) - x on (B, C, H, W).",
        paper=PAPER,
        tags=("token_mixer", "vision", "parameter_free"),
        example={"pool_size": 3},
        example_input=[2, 8, 6, 6],
    )
    register(
        "metaformer_block",
        "paperzoo_poolformer.block:MetaFormerBlock",
        "MetaFormer block: x + DropPath(LayerScale(TokenMixer(GroupNorm(x)))), then the same with a channel MLP.",
        paper=PAPER,
        tags=("block", "vision"),
        example={"dim": 8},
        example_input=[2, 8, 6, 6],
    )
    register(
        "poolformer",
        "paperzoo_poolformer.model:PoolFormer",
        "A PoolFormer of any depths and widths (stem and downsampling configurable for small images).",
        paper=PAPER,
        tags=("model", "vision", "classification"),
        example={
            "depths": [1, 1],
            "dims": [8, 16],
            "num_classes": 10,
            "in_chans": 1,
            "stem_patch_size": 3,
            "stem_stride": 1,
            "stem_padding": 1,
        },
        example_input=[2, 1, 8, 8],
    )
    for name, size in _VARIANTS.items():
        register(
            f"poolformer_{name}",
            f"paperzoo_poolformer.variants:poolformer_{name}",
            f"PoolFormer-{name.upper()} image classifier: {size}.",
            paper=PAPER,
            tags=("model", "vision", "classification"),
            example=dict(_MODEL_EXAMPLE),
            example_input=_IMAGE,
        )
