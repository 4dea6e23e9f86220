"""CoreInfer: Accelerating Large Language Model Inference with Semantics-Inspired Adaptive Sparse
Activation (Wang et al., 2024), arXiv:2410.18311. Registration only: nothing heavy is imported here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="CoreInfer: Accelerating Large Language Model Inference with Semantics-Inspired Adaptive "
    "Sparse Activation",
    year=2024,
    arxiv="2410.18311",
)

_TINY_LM = {
    "data": {"name": "tinylm_copy", "n_samples": 16, "length": 8},
    "model": {"name": "tinylm_decoder", "d_model": 16, "n_layers": 2, "n_heads": 2, "max_seq_len": 32},
}


@hookimpl
def register_layers(register):
    register(
        "coreinfer_sparse_ffn",
        "paperzoo_coreinfer.ffn:CoreInferFFN",
        "CoreInfer sentence-level sparse FFN (a tinylm ffn slot): dense prefill fixes the prompt's core "
        "neurons, each decoding step computes gate/up rows and down columns of the core only.",
        paper=PAPER,
        tags=("ffn", "sparsity", "inference", "language_modeling"),
        example={"d_model": 8, "d_ff": 16, "alpha": 0.4, "beta": 0.2},
        example_input=[2, 5, 8],
    )


@hookimpl
def register_evaluators(register):
    register(
        "coreinfer_perplexity",
        "paperzoo_coreinfer.evaluate:CoreInferPerplexity",
        "Decode-phase perplexity with CoreInfer's prompt-fixed core neurons beside the dense model's, "
        "and the mean share of FFN neurons kept.",
        paper=PAPER,
        tags=("metric", "sparsity", "language_modeling"),
        example={"alpha": 0.4, "beta": 0.2, "prompt_len": 4, "n_sequences": 2},
        example_config=_TINY_LM,
    )
