"""SPDF: Sparse Pre-training and Dense Fine-tuning for Large Language Models (Thangarasa et al., 2023),
arXiv:2303.10464. Registration only: nothing heavy is imported here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="SPDF: Sparse Pre-training and Dense Fine-tuning for Large Language Models",
    year=2023,
    arxiv="2303.10464",
)


@hookimpl
def register_trainers(register):
    register(
        "sparse_pretrain_dense_finetune",
        "paperzoo_spdf.trainer:SparsePretrainDenseFinetune",
        "SPDF: pre-train with static random unstructured masks on the attention/MLP matrices, then "
        "remove the masks and fine-tune densely (masked weights start at zero); reports FLOPs saved.",
        paper=PAPER,
        tags=("sparsity", "sparse_training", "compression", "fine_tuning"),
        example={
            "sparsity": 0.5,
            "pretrain_steps": 3,
            "finetune": "dense",
            "max_steps": 6,
            "batch_size": 16,
            "progress": False,
        },
        example_config={"optimizer": {"name": "adamw", "lr": 1.0e-3, "weight_decay": 0.1}},
    )
