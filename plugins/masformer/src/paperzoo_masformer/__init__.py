"""Efficient Long-Range Transformers: You Need to Attend More, but Not Necessarily at Every Layer (Zhang,
Ram, Hawkins, Zha and Zhao, 2023), arXiv:2310.12442. Registration only: nothing heavy
is imported here.

``mixed_span_attention`` is a tinylm attention kernel: causal sliding-window attention of span ``w`` or
full causal attention (``paperzoo_masformer.attention``). ``masformer`` is tinylm's decoder with full
attention in the chosen blocks (the bottom ``l`` by default) and sliding-window attention in the rest
(``paperzoo_masformer.model``).
"""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="Efficient Long-Range Transformers: You Need to Attend More, but Not Necessarily at Every Layer",
    year=2023,
    arxiv="2310.12442",
)


@hookimpl
def register_layers(register):
    register(
        "mixed_span_attention",
        "paperzoo_masformer.attention:MixedSpanAttention",
        "Causal sliding-window attention of span w (banded mask, or blocked with memory T*w) or full causal "
        "attention; a tinylm attention kernel.",
        paper=PAPER,
        tags=("attention", "sparse_attention", "sliding_window", "long_context"),
        example={"window": 3, "form": "blocked", "block_size": 2},
        example_input=[2, 2, 7, 8],
    )
    register(
        "masformer",
        "paperzoo_masformer.model:MASFormer",
        "Causal transformer LM with full attention in a few chosen (bottom) blocks and sliding-window "
        "attention of span w in the rest.",
        paper=PAPER,
        tags=("model", "language_modeling", "decoder", "long_context"),
        example={
            "d_model": 16,
            "n_layers": 3,
            "n_heads": 2,
            "vocab_size": 64,
            "max_seq_len": 32,
            "window": 3,
            "n_full": 1,
        },
        example_input={"shape": [2, 8], "dtype": "long", "high": 64},
    )
