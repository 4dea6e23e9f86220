"""Extending Context Window of Large Language Models from a Distributional Perspective (Wu et al., EMNLP
2024), arXiv:2410.01490. Registration only: nothing heavy is imported here.

``rope_distributional_scaling`` is RoPE with the DPRoPE inverse frequencies (per dimension, extrapolation
or position interpolation, whichever keeps the rotary-angle distribution closest to pre-training;
``paperzoo_dprope.scaling``); ``dprope_decoder`` is tinylm's decoder that trains with the default
frequencies and evaluates with the extended ones. For tinylm's ``rope_inv_freq`` in Python:
``paperzoo_dprope.scaling.DPRoPEInvFreq(train_len, target_len)``.
"""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="Extending Context Window of Large Language Models from a Distributional Perspective",
    year=2024,
    arxiv="2410.01490",
)


@hookimpl
def register_layers(register):
    register(
        "rope_distributional_scaling",
        "paperzoo_dprope.layer:RopeDistributionalScaling",
        "RoPE whose per-dimension frequencies extrapolate or interpolate, whichever keeps the rotary-angle "
        "distribution closest (KL) to pre-training.",
        paper=PAPER,
        tags=("position", "rope", "context_extension"),
        example={"head_dim": 8, "train_len": 16, "target_len": 64},
        example_input=[2, 2, 12, 8],
    )
    register(
        "dprope_decoder",
        "paperzoo_dprope.layer:DPRoPEDecoder",
        "tinylm decoder trained with default RoPE and evaluated with DPRoPE (or PI/extrapolation) frequencies.",
        paper=PAPER,
        tags=("model", "language_modeling", "decoder", "context_extension"),
        example={
            "d_model": 16,
            "n_layers": 1,
            "n_heads": 2,
            "vocab_size": 64,
            "max_seq_len": 32,
            "train_len": 8,
            "target_len": 32,
        },
        example_input={"shape": [2, 8], "dtype": "long", "high": 64},
    )
