"""Diverse Beam Search: Decoding Diverse Solutions from Neural Sequence Models (Vijayakumar et al., 2018),
arXiv:1610.02424.

Registration only: the implementation is imported when the component is built. The plain function is
``paperzoo_diverse_beam_search.decoding.diverse_beam_search``.
"""

from paperzoo import Paper, hookimpl

DBS = Paper(
    title="Diverse Beam Search: Decoding Diverse Solutions from Neural Sequence Models",
    year=2018,
    arxiv="1610.02424",
)

# A tiny tinylm decoder on a slice of the standard library's source: the evaluator's contract run.
_TINY_LM = {
    "data": {"name": "stdlib_text", "seq_len": 32, "max_bytes": 20000},
    "model": {"name": "tinylm_decoder", "d_model": 32, "n_layers": 1, "n_heads": 2, "max_seq_len": 64},
}


@hookimpl
def register_evaluators(register):
    register(
        "diverse_beam_search",
        "paperzoo_diverse_beam_search.evaluators:DiverseBeamSearch",
        "Diverse beam search (groups decoded in turn, Hamming diversity penalty) of validation prompts, "
        "scored by distinct-n across the returned beams and their log-likelihood; one group = beam search.",
        paper=DBS,
        tags=("decoding", "language_modeling", "generation"),
        example={
            "num_beams": 4,
            "num_beam_groups": 2,
            "diversity_penalty": 0.5,
            "max_new_tokens": 6,
            "n_prompts": 2,
            "prompt_len": 8,
        },
        example_config=_TINY_LM,
    )
