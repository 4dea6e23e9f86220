"""Graph-Aware Isomorphic Attention for Adaptive Dynamics in Transformers (Buehler, 2025),
arXiv:2501.02393. Registration only: nothing heavy is imported here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="Graph-Aware Isomorphic Attention for Adaptive Dynamics in Transformers",
    year=2025,
    arxiv="2501.02393",
)


@hookimpl
def register_layers(register):
    register(
        "gin_attention",
        "paperzoo_gin_attention.kernel:GINAttention",
        "GIN-Attention: each head's softmax attention matrix A is a weighted adjacency and A V is replaced "
        "by the GIN update MLP((1 + eps) V + A V) (per-head MLP, learnable eps; optional PNA aggregators); "
        "a tinylm attention kernel.",
        paper=PAPER,
        tags=("attention", "graph"),
        example={"n_heads": 2, "head_dim": 8},
        example_input=[2, 2, 6, 8],
    )
    register(
        "sparse_gin_attention_adapter",
        "paperzoo_gin_attention.adapter:SparseGINAdapter",
        "Sparse-GIN fine-tuning: a frozen tinylm decoder whose thresholded attention defines a sparse graph "
        "per block, with a trainable GIN over the hidden states added as a zero-initialised residual adapter.",
        paper=PAPER,
        tags=("adapter", "fine_tuning", "graph"),
        example={
            "base": {"vocab_size": 32, "d_model": 16, "n_layers": 2, "n_heads": 2, "max_seq_len": 16},
            "hidden_dim": 8,
        },
        example_input={"shape": [2, 6], "dtype": "long", "high": 32},
    )
