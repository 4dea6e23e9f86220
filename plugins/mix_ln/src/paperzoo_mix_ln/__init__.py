"""Mix-LN: Unleashing the Power of Deeper Layers by Combining Pre-LN and Post-LN (Li et al., ICLR 2025),
arXiv:2412.13795. Registration only: nothing heavy is imported here.

``mix_ln_transformer`` is tinylm's decoder with a per-block norm placement: Post-LN for the first
``floor(alpha * n_layers)`` blocks, Pre-LN for the rest (``paperzoo_mix_ln.model``); tinylm's
``tinylm_layer_stats`` evaluator reports its per-layer gradient norms and angular distances.
"""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="Mix-LN: Unleashing the Power of Deeper Layers by Combining Pre-LN and Post-LN",
    year=2025,
    arxiv="2412.13795",
)


@hookimpl
def register_layers(register):
    register(
        "mix_ln_transformer",
        "paperzoo_mix_ln.model:MixLNTransformer",
        "Causal transformer LM with Post-LN in the first floor(alpha*L) blocks and Pre-LN in the rest.",
        paper=PAPER,
        tags=("model", "language_modeling", "decoder", "normalization"),
        example={
            "d_model": 16,
            "n_layers": 4,
            "n_heads": 2,
            "vocab_size": 64,
            "max_seq_len": 32,
            "alpha": 0.5,
        },
        example_input={"shape": [2, 8], "dtype": "long", "high": 64},
    )
