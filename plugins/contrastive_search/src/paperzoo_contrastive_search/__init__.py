"""A Contrastive Framework for Neural Text Generation (Su et al., 2022), arXiv:2202.06417, and
Contrastive Search Is What You Need For Neural Text Generation (Su & Collier, 2023), arXiv:2210.14140.

Registration only: the implementation is imported when a component is built. The plain functions
live in ``paperzoo_contrastive_search.decoding`` (``contrastive_search``, ``greedy_search``) and
``paperzoo_contrastive_search.metrics`` (``repetition_metrics``, ``isotropy_score``).
"""

from paperzoo import Paper, hookimpl

SIMCTG = Paper(title="A Contrastive Framework for Neural Text Generation", year=2022, arxiv="2202.06417")
CS_IS_WHAT_YOU_NEED = Paper(
    title="Contrastive Search Is What You Need For Neural Text Generation", year=2023, arxiv="2210.14140"
)

# A tiny byte-level GPT-2 on a slice of the standard library's source: the evaluators' contract run.
_TINY_LM = {
    "data": {"name": "stdlib_text", "seq_len": 32, "max_bytes": 20000},
    "model": {
        "name": "hf:GPT2LMHeadModel",
        "config": {"vocab_size": 256, "n_positions": 64, "n_embd": 32, "n_layer": 1, "n_head": 2},
    },
}
_DECODE_EXAMPLE = {"max_new_tokens": 8, "n_prompts": 4, "prompt_len": 8}


@hookimpl
def register_evaluators(register):
    register(
        "contrastive_search",
        "paperzoo_contrastive_search.evaluators:ContrastiveSearch",
        "Contrastive search decoding of validation prompts (KV-cached), scored by rep-2/3/4, diversity, "
        "log-likelihood and isotropy.",
        paper=SIMCTG,
        tags=("decoding", "language_modeling", "generation"),
        example={"alpha": 0.6, "k": 3, **_DECODE_EXAMPLE},
        example_config=_TINY_LM,
    )
    register(
        "greedy_search",
        "paperzoo_contrastive_search.evaluators:GreedySearch",
        "Greedy decoding of validation prompts, scored like contrastive_search (its baseline).",
        paper=SIMCTG,
        tags=("decoding", "language_modeling", "generation", "baseline"),
        example=dict(_DECODE_EXAMPLE),
        example_config=_TINY_LM,
    )
    register(
        "isotropy",
        "paperzoo_contrastive_search.evaluators:Isotropy",
        "One minus the mean pairwise cosine similarity of a sequence's final-layer token representations.",
        paper=CS_IS_WHAT_YOU_NEED,
        tags=("representation", "language_modeling"),
        example={"n_sequences": 8, "batch_size": 4},
        example_config=_TINY_LM,
    )
