"""Masked Thought: Simply Masking Partial Reasoning Steps Can Improve Mathematical Reasoning Learning of
Language Models (Chen et al., ACL 2024), arXiv:2403.02178. Registration only: nothing heavy is imported
here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="Masked Thought: Simply Masking Partial Reasoning Steps Can Improve Mathematical Reasoning "
    "Learning of Language Models",
    year=2024,
    arxiv="2403.02178",
)

_SMALL_LM = {"name": "tinylm_decoder", "d_model": 16, "n_layers": 1, "n_heads": 2, "max_seq_len": 32}


@hookimpl
def register_trainers(register):
    register(
        "masked_thought_sft",
        "paperzoo_masked_thought.trainer:MaskedThoughtSFT",
        "Supervised fine-tuning on (question, reasoning) pairs in which a random fraction of the "
        "reasoning's input tokens is replaced by a mask token while the labels keep the original tokens.",
        paper=PAPER,
        tags=("language_modeling", "fine_tuning", "reasoning", "regularization", "tinylm"),
        example={"mask_rate": 0.2, "max_steps": 2, "batch_size": 4, "progress": False},
        example_config={
            "data": {"name": "masked_thought_chains", "n_train": 16, "n_val": 8},
            "model": dict(_SMALL_LM),
            "optimizer": {"name": "adamw", "lr": 1.0e-3},
            "evaluators": [{"name": "loss"}],
        },
    )


@hookimpl
def register_datasets(register):
    register(
        "masked_thought_chains",
        "paperzoo_masked_thought.chains:addition_chains",
        "Synthetic: multi-step addition with the running sums written as a chain of thought "
        "(<bos>4+7+2+9=11,13,22<eos>), response-only targets; validation questions unseen in training.",
        paper=PAPER,
        tags=("synthetic", "language_modeling", "reasoning", "chain_of_thought"),
        example={"n_train": 16, "n_val": 8},
    )
