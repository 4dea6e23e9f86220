"""SLAB: Efficient Transformers with Simplified Linear Attention and Progressive Re-parameterized Batch
Normalization (Guo et al., ICML 2024), arXiv:2405.11582."""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="SLAB: Efficient Transformers with Simplified Linear Attention and Progressive Re-parameterized "
    "Batch Normalization",
    year=2024,
    arxiv="2405.11582",
)


@hookimpl
def register_layers(register):
    register(
        "slab_prep_bn",
        "paperzoo_slab.prepbn:PRepBN",
        "Progressive re-parameterized BatchNorm: gamma*LN(x) + (1-gamma)*(BN(x) + eta*x), gamma decaying "
        "1->0; foldable into the next Linear at inference; replaces LayerNorm.",
        paper=PAPER,
        tags=("normalization", "transformer", "layernorm_replacement"),
        example={"total_steps": 10},
        example_input=[2, 5, 8],
        example_base={"type": "LayerNorm", "args": [8]},
    )
    register(
        "slab_linear_attention",
        "paperzoo_slab.sla:SimplifiedLinearAttention",
        "Simplified linear attention: ReLU kernel, normalised phi(Q)(phi(K)^T V), plus a depthwise "
        "convolution on V; a tinylm attention kernel.",
        paper=PAPER,
        tags=("attention", "linear_attention", "transformer"),
        example={"head_dim": 8},
        example_input=[2, 2, 6, 8],
    )
