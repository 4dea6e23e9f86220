"""BIOptimus: Pre-training an Optimal Biomedical Language Model with Curriculum Learning for Named Entity
Recognition (Pavlova and Makhlouf, 2023), arXiv:2308.08625. Registration only: nothing heavy is imported
here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title=(
        "BIOptimus: Pre-training an Optimal Biomedical Language Model with Curriculum Learning for Named "
        "Entity Recognition"
    ),
    year=2023,
    arxiv="2308.08625",
)

_WORDS = ["return", "import", "self"]
# a tinylm encoder with the 363 base ids plus one row per word
_MODEL = {"name": "tinylm_encoder", "d_model": 16, "n_layers": 1, "n_heads": 2, "max_seq_len": 32}
_DATA = {"name": "tinylm_stdlib", "seq_len": 24, "max_bytes": 8000}


@hookimpl
def register_trainers(register):
    register(
        "contextual_embedding_init",
        "paperzoo_contextual_weight_distill.trainer:ContextualEmbeddingInit",
        "Vocabulary extension with BIOptimus's contextual weight distillation: each new token's embedding "
        "is trained so the encoder's state at it matches the mean state of its old sub-token span in the "
        "same texts, every other weight bitwise frozen; baselines mean-of-sub-tokens and random init.",
        paper=PAPER,
        tags=("pretraining", "language_modeling", "encoder", "vocabulary", "tinylm"),
        example={
            "words": list(_WORDS),
            "max_steps": 2,
            "batch_size": 4,
            "eval_batches": 1,
            "progress": False,
        },
        example_config={
            "data": dict(_DATA),
            "model": {**_MODEL, "vocab_size": 363 + len(_WORDS)},
            "optimizer": {"name": "adamw", "lr": 1.0e-3},
            "evaluators": [],
        },
    )
    register(
        "curriculum_mlm",
        "paperzoo_contextual_weight_distill.trainer:CurriculumMLMTrainer",
        "Continued masked-LM pre-training with BIOptimus's curriculum over masking rate and strategy "
        "(token -> whole-word -> span phases, with or without BERT corruption), on an optionally extended "
        "vocabulary.",
        paper=PAPER,
        tags=("pretraining", "language_modeling", "encoder", "curriculum", "tinylm"),
        example={
            "words": list(_WORDS),
            "max_steps": 4,
            "batch_size": 4,
            "eval_batches": 1,
            "progress": False,
        },
        example_config={
            "data": dict(_DATA),
            "model": {**_MODEL, "vocab_size": 363 + len(_WORDS)},
            "optimizer": {"name": "adamw", "lr": 1.0e-3},
            "evaluators": [],
        },
    )
