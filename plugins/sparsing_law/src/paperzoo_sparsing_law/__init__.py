"""Sparsing Law: Towards Large Language Models with Greater Activation Sparsity (Luo et al., 2024),
arXiv:2411.02335. Registration only: nothing heavy is imported here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="Sparsing Law: Towards Large Language Models with Greater Activation Sparsity",
    year=2024,
    arxiv="2411.02335",
)

_TINY_LM = {
    "data": {"name": "stdlib_text", "seq_len": 32, "max_bytes": 20000},
    "model": {"name": "tinylm_decoder", "d_model": 16, "n_layers": 2, "n_heads": 2, "vocab_size": 256,
              "max_seq_len": 32, "ffn": "mlp", "activation": "relu"},
}  # fmt: skip
# A SiLU-like series A(D) = 0.4 - 0.3 D^-0.5 (D in billions of tokens).
_SILU_POINTS = {"x": [1.0, 2.0, 4.0, 8.0, 16.0, 32.0], "y": [0.1, 0.18787, 0.25, 0.29393, 0.325, 0.34697]}


@hookimpl
def register_evaluators(register):
    register(
        "ppl_p_sparsity",
        "paperzoo_sparsing_law.evaluate:PPLpSparsity",
        "PPL-p% activation sparsity of a tinylm decoder: a CETT shared by all layers is bisected so that "
        "truncating the FFN's weakest neuron outputs raises perplexity by p%; sparsity = share zeroed.",
        paper=PAPER,
        tags=("metric", "sparsity", "language_modeling"),
        example={"p": 1.0, "n_sequences": 2, "tol": 1e-3, "num_thresholds": 1024},
        example_config=_TINY_LM,
    )
    register(
        "activation_ratio_law_fit",
        "paperzoo_sparsing_law.evaluate:ActivationRatioLawFit",
        "Fit the paper's activation-ratio laws to the config's points: SiLU's convergent increasing power "
        "law or ReLU's decreasing logspace power law in training tokens, or the width-depth bottleneck law.",
        paper=PAPER,
        tags=("metric", "sparsity", "scaling_law", "fit"),
        example={**_SILU_POINTS, "law": "silu"},
    )
