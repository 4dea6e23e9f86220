"""Never Train from Scratch: Fair Comparison of Long-Sequence Models Requires Data-Driven Priors (Amos,
Berant, Gupta, ICLR 2024), arXiv:2310.02980. Registration only: nothing heavy is imported here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="Never Train from Scratch: Fair Comparison of Long-Sequence Models Requires Data-Driven Priors",
    year=2024,
    arxiv="2310.02980",
)

_SMALL = {"d_model": 16, "n_layers": 1, "n_heads": 2, "max_seq_len": 16, "num_classes": 2}


@hookimpl
def register_trainers(register):
    register(
        "self_pretraining",
        "paperzoo_self_pretraining.trainer:SelfPretraining",
        "Self-pretraining: the first pretrain_fraction of the steps train the backbone with a causal or "
        "masked LM objective on the task's own training inputs (labels unread), the rest fine-tune on labels.",
        paper=PAPER,
        tags=("classification", "pretraining", "long_range", "tinylm"),
        example={"pretrain_fraction": 0.5, "max_steps": 2, "batch_size": 4, "progress": False},
        example_config={
            "data": {"name": "self_pretraining_first_last", "n_train": 16, "n_val": 8, "length": 16},
            "model": {"name": "self_pretraining_classifier", **_SMALL},
            "optimizer": {"name": "adamw", "lr": 1.0e-3},
            "evaluators": [{"name": "accuracy"}],
        },
    )


@hookimpl
def register_layers(register):
    register(
        "self_pretraining_classifier",
        "paperzoo_self_pretraining.model:SequenceClassifier",
        "A tinylm decoder (or encoder) backbone with its LM head (for self-pretraining) and a linear "
        "classification head on the last (or mean-pooled) final hidden state.",
        paper=PAPER,
        tags=("classification", "sequence", "tinylm"),
        example=dict(_SMALL),
        example_input={"shape": [2, 8], "dtype": "long", "high": 64},
    )


@hookimpl
def register_datasets(register):
    register(
        "self_pretraining_first_last",
        "paperzoo_self_pretraining.data:first_last",
        "Synthetic long-range classification: is the first token of a random sequence equal to its last? "
        "(balanced classes; the two tokens are length - 1 positions apart).",
        paper=PAPER,
        tags=("synthetic", "classification", "long_range"),
        example={"n_train": 16, "n_val": 8, "length": 16},
    )
