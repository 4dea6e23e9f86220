"""Unified Detoxifying and Debiasing in Language Generation via Inference-time Adaptive Optimization
(Yang et al., 2023), arXiv:2210.04492.

Registration only: the implementation is imported when a component is built. The plain functions live
in ``paperzoo_uddia.decoding`` (``uddia_sample``, ``designated_parameters``) and
``paperzoo_uddia.classifier`` (``fit_attribute_classifier``).
"""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="Unified Detoxifying and Debiasing in Language Generation via Inference-time Adaptive Optimization",
    year=2023,
    arxiv="2210.04492",
)

# A tiny tinylm decoder on a slice of the standard library's source: the evaluator's contract run.
_TINY_LM = {
    "data": {"name": "stdlib_text", "seq_len": 32, "max_bytes": 20000},
    "model": {"name": "tinylm_decoder", "d_model": 32, "n_layers": 2, "n_heads": 2, "vocab_size": 256},
}


@hookimpl
def register_evaluators(register):
    register(
        "uddia_decoding",
        "paperzoo_uddia.evaluators:UddiaDecoding",
        "UDDIA decoding: when a linear attribute classifier fires, a few Adam steps on the upper blocks' "
        "bias/norm terms, fused with the original distribution; attribute-token rate vs plain sampling.",
        paper=PAPER,
        tags=("decoding", "language_modeling", "generation", "detoxification"),
        example={"n_prompts": 2, "prompt_len": 8, "max_new_tokens": 4, "n_fit_sequences": 8, "steps": 2},
        example_config=_TINY_LM,
    )
