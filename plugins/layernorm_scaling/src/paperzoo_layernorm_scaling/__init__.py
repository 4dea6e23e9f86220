"""The Curse of Depth in Large Language Models (Sun et al., 2025), arXiv:2502.05795: LayerNorm Scaling.
Registration only: nothing heavy is imported here.

``layernorm_scaling_decoder`` is tinylm's Pre-LN decoder whose block ``l`` (1-indexed) scales both
sublayer-input norm outputs by ``1 / sqrt(l)``; ``layernorm_scaling_norm`` is that scaled norm, wrapping
any norm module. tinylm's ``tinylm_layer_stats`` evaluator reports per-layer variance and angular distance.
"""

from paperzoo import Paper, hookimpl

PAPER = Paper(title="The Curse of Depth in Large Language Models", year=2025, arxiv="2502.05795")


@hookimpl
def register_layers(register):
    register(
        "layernorm_scaling_decoder",
        "paperzoo_layernorm_scaling.model:LayerNormScalingDecoder",
        "Pre-LN causal transformer LM whose block l scales its sublayer-input norm outputs by 1/sqrt(l).",
        paper=PAPER,
        tags=("model", "language_modeling", "decoder", "normalization"),
        example={"d_model": 16, "n_layers": 3, "n_heads": 2, "vocab_size": 64, "max_seq_len": 32},
        example_input={"shape": [2, 8], "dtype": "long", "high": 64},
    )
    register(
        "layernorm_scaling_norm",
        "paperzoo_layernorm_scaling.model:LayerNormScalingNorm",
        "A norm whose output is scaled by 1/sqrt(depth): LayerNorm Scaling of the block at that depth.",
        paper=PAPER,
        tags=("normalization", "layernorm_replacement"),
        example={"depth": 4},
        example_input=[2, 5, 8],
        example_base={"type": "LayerNorm", "args": [8]},
    )
