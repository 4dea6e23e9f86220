"""Correlation and Navigation in the Vocabulary Key Representation Space of Language Models (Peng, An
and Shang, 2024), arXiv:2410.02284. Registration only: nothing heavy is imported here.

The plain functions live in ``paperzoo_icn.key_space`` (the key-space correlation),
``paperzoo_icn.navigate`` (in-context navigation, the sampling baseline, voting) and
``paperzoo_icn.sets`` (the synthetic "name another member of set S" task).
"""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="Correlation and Navigation in the Vocabulary Key Representation Space of Language Models",
    year=2024,
    arxiv="2410.02284",
)

_TINY_SETS = {
    "data": {"name": "icn_member_sets", "n_sets": 2, "set_size": 3, "n_samples": 16},
    "model": {"name": "tinylm_decoder", "d_model": 16, "n_layers": 1, "n_heads": 2, "max_seq_len": 32},
}


@hookimpl
def register_evaluators(register):
    register(
        "key_space_bias",
        "paperzoo_icn.evaluators:KeySpaceBias",
        "Spurious key-space correlation: Spearman (or Pearson) correlation between the log-probability of "
        "mid-ranked next tokens and the cosine similarity of their unembedding rows to the top-1 token's.",
        paper=PAPER,
        tags=("language_modeling", "analysis", "unembedding", "tinylm"),
        example={"lo": 10, "hi": 100, "n_rows": 2},
        example_config=_TINY_SETS,
    )
    register(
        "in_context_navigation",
        "paperzoo_icn.evaluators:InContextNavigation",
        "In-context navigation: decode answers one at a time with the explored ones listed in the prompt, "
        "then majority-vote; against temperature sampling of as many answers.",
        paper=PAPER,
        tags=("language_modeling", "decoding", "self_consistency", "tinylm"),
        example={"k": 2, "max_new_tokens": 2, "n_prompts": 2},
        example_config=_TINY_SETS,
    )


@hookimpl
def register_datasets(register):
    register(
        "icn_member_sets",
        "paperzoo_icn.sets:member_sets",
        "Synthetic 'name another member of set S': <bos>S3=k,d,q,<eos> lists a set's members in a random "
        "order, so every explored prefix is in context; targets are the listed part.",
        paper=PAPER,
        tags=("synthetic", "language_modeling"),
        example={"n_sets": 2, "set_size": 3, "n_samples": 16},
    )
