"""Mitigating Reversal Curse in Large Language Models via Semantic-aware Permutation Training (Guo et al.,
ACL Findings 2024), arXiv:2403.00758. Registration only: nothing heavy is imported here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="Mitigating Reversal Curse in Large Language Models via Semantic-aware Permutation Training",
    year=2024,
    arxiv="2403.00758",
)

_SMALL_LM = {"name": "tinylm_decoder", "d_model": 16, "n_layers": 1, "n_heads": 2, "max_seq_len": 64}
_FACTS = {"name": "spt_parent_facts", "n_pairs": 4, "n_paired": 4}


@hookimpl
def register_trainers(register):
    register(
        "semantic_permutation_augment",
        "paperzoo_semantic_permutation_training.trainer:SemanticPermutationAugment",
        "Semantic-aware Permutation Training: each training sentence is split into semantic units "
        "(entities, phrases) and, with given probabilities, trained on with its units reversed or "
        "shuffled (never split), so a causal LM also learns to predict earlier units from later ones.",
        paper=PAPER,
        tags=("language_modeling", "data_augmentation", "reversal_curse", "tinylm"),
        example={"p_reverse": 0.5, "p_shuffle": 0.25, "max_steps": 2, "batch_size": 4, "progress": False},
        example_config={
            "data": dict(_FACTS),
            "model": dict(_SMALL_LM),
            "optimizer": {"name": "adamw", "lr": 1.0e-3},
            "evaluators": [{"name": "loss"}],
        },
    )


@hookimpl
def register_datasets(register):
    register(
        "spt_parent_facts",
        "paperzoo_semantic_permutation_training.facts:parent_facts",
        "Synthetic: made-up two-word names in '<A> 's parent is <B>' facts; some pairs also stated in "
        "reverse ('<B> 's child is <A>'), the held-out ones forward only; validation asks the held-out "
        "pairs' reverse (or forward) questions. Carries its entity and relation phrases as the units.",
        paper=PAPER,
        tags=("synthetic", "language_modeling", "reversal_curse", "knowledge"),
        example={"n_pairs": 4, "n_paired": 4},
    )


@hookimpl
def register_evaluators(register):
    register(
        "spt_answer_ranking",
        "paperzoo_semantic_permutation_training.evaluate:AnswerRanking",
        "Question answering by ranking: every distinct answer of the split is scored (summed "
        "log-probability) after each question; accuracy of the own answer ranking first, and chance.",
        paper=PAPER,
        tags=("language_modeling", "question_answering", "reversal_curse"),
        example={"split": "val"},
        example_config={"data": dict(_FACTS), "model": dict(_SMALL_LM)},
    )
