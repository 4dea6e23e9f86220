"""PowerNorm: Rethinking Batch Normalization in Transformers (Shen et al., ICML 2020), arXiv:2003.07845."""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="PowerNorm: Rethinking Batch Normalization in Transformers", year=2020, arxiv="2003.07845"
)


@hookimpl
def register_layers(register):
    register(
        "power_norm",
        "paperzoo_powernorm.power_norm:PowerNorm",
        "Power normalization: a running quadratic mean instead of batch statistics, with approximate "
        "backpropagation; replaces LayerNorm in transformers.",
        paper=PAPER,
        tags=("normalization", "transformer", "layernorm_replacement"),
        example={"warmup_iters": 1, "group_num": 2},
        example_input=[2, 5, 8],
        example_base={"type": "LayerNorm", "args": [8]},
    )
