"""Peri-LN: Revisiting Normalization Layer in the Transformer Architecture (Kim et al., ICML 2025),
arXiv:2502.02732. Registration only: nothing heavy is imported here.

The blocks wrap tinylm's block (``paperzoo_tinylm.blocks``); a whole Peri-LN language model is
``tinylm_decoder`` with ``norm_placement: peri``, and ``tinylm_layer_stats`` records its per-layer
hidden-state variance and gradient norms.
"""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="Peri-LN: Revisiting Normalization Layer in the Transformer Architecture",
    year=2025,
    arxiv="2502.02732",
)
_BLOCK = {"d_model": 16, "n_heads": 2}


@hookimpl
def register_layers(register):
    register(
        "peri_ln_block",
        "paperzoo_peri_ln.layer:PeriLNBlock",
        "Transformer block with peripheral norms: x + Norm_out(F(Norm_in(x))) around attention and ffn.",
        paper=PAPER,
        tags=("normalization", "transformer", "block"),
        example=dict(_BLOCK),
        example_input=[2, 8, 16],
    )
    register(
        "norm_placement_block",
        "paperzoo_peri_ln.layer:NormPlacementBlock",
        "Transformer block whose norm placement is a flag: pre, post, peri (or sandwich), for comparisons.",
        paper=PAPER,
        tags=("normalization", "transformer", "block", "baseline"),
        example={**_BLOCK, "placement": "post"},
        example_input=[2, 8, 16],
    )
