"""OpenELM: An Efficient Language Model Family with Open-source Training and Inference Framework
(Mehta et al., 2024), arXiv:2404.14619. Registration only: nothing heavy is imported here.

``layerwise_scaled_transformer`` is OpenELM's decoder: tinylm's blocks (RMSNorm, Pre-LN, RoPE, SwiGLU,
grouped-query attention) with per-layer head counts and FFN widths from multipliers interpolated linearly
over depth, plus per-head query/key RMSNorm (``paperzoo_openelm_layerwise.model``); the sizing rule is
``paperzoo_openelm_layerwise.sizing``.
"""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="OpenELM: An Efficient Language Model Family with Open-source Training and Inference Framework",
    year=2024,
    arxiv="2404.14619",
)


@hookimpl
def register_layers(register):
    register(
        "layerwise_scaled_transformer",
        "paperzoo_openelm_layerwise.model:LayerwiseScaledTransformer",
        "OpenELM decoder: per-layer query/KV heads and SwiGLU widths scaled linearly over depth, q/k RMSNorm.",
        paper=PAPER,
        tags=("model", "language_modeling", "decoder", "scaling"),
        example={
            "d_model": 32,
            "n_layers": 3,
            "head_dim": 8,
            "num_gqa_groups": 2,
            "ffn_dim_divisor": 8,
            "vocab_size": 64,
            "max_seq_len": 32,
        },
        example_input={"shape": [2, 8], "dtype": "long", "high": 64},
    )
