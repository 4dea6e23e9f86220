"""Combiner: Full Attention Transformer with Sparse Computation Cost (Ren, Dai, Dai, Yang, Leskovec,
Schuurmans and Dai, NeurIPS 2021), arXiv:2107.05768. Registration only: nothing heavy is imported here.

``combiner_attention`` is a tinylm attention kernel (``attention: combiner_attention``): each query
attends directly to its own region and to one summary per other region, normalised in one softmax, so
that it keeps full-attention support at ``O(L sqrt(L))`` cost (``paperzoo_combiner.attention``).
"""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="Combiner: Full Attention Transformer with Sparse Computation Cost",
    year=2021,
    arxiv="2107.05768",
)


@hookimpl
def register_layers(register):
    register(
        "combiner_attention",
        "paperzoo_combiner.attention:CombinerAttention",
        "Combiner attention (fixed or axial partition, causal or bidirectional): direct attention within a "
        "region plus pooled/attention summaries of the other regions in one softmax; a tinylm kernel.",
        paper=PAPER,
        tags=("attention", "sparse_attention", "long_context"),
        example={"partition": "fixed", "region_size": 3},
        example_input=[2, 2, 7, 8],
    )
