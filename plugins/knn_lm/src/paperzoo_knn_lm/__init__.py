"""Why do Nearest Neighbor Language Models Work? (Xu, Alon and Neubig, 2023), arXiv:2301.02828: the
kNN-LM (Khandelwal et al., 2020) on tinylm decoders and the paper's parametric softmax. Registration
only: nothing heavy is imported here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(title="Why do Nearest Neighbor Language Models Work?", year=2023, arxiv="2301.02828")

_TINY_LM = {
    "data": {"name": "tinylm_copy", "n_samples": 16, "length": 8},
    "model": {"name": "tinylm_decoder", "d_model": 16, "n_layers": 2, "n_heads": 2, "max_seq_len": 32},
}


@hookimpl
def register_layers(register):
    register(
        "knn_inspired_softmax",
        "paperzoo_knn_lm.layer:KNNInspiredSoftmax",
        "Output softmax with several embeddings per token aggregated by logsumexp, dot or negative-L2 "
        "scores and a fixed or learned temperature (the kNN-LM's datastore softmax made parametric).",
        paper=PAPER,
        tags=("output_layer", "softmax", "language_modeling"),
        example={
            "d_model": 8,
            "vocab_size": 11,
            "n_per_token": 3,
            "temperature": 0.5,
            "learn_temperature": True,
        },
        example_input=[2, 5, 8],
    )


@hookimpl
def register_evaluators(register):
    register(
        "knn_lm_interpolation",
        "paperzoo_knn_lm.evaluate:KNNLMInterpolation",
        "kNN-LM: datastore of (last FFN input or any hook, next token) from the training split, exact "
        "torch or faiss search, p = lam p_kNN + (1 - lam) p_LM; held-out perplexity beside the LM's.",
        paper=PAPER,
        tags=("metric", "retrieval", "language_modeling"),
        example={"k": 4, "temperature": 1.0, "lam": 0.25, "datastore_sequences": 8, "n_sequences": 2},
        example_config=_TINY_LM,
    )
