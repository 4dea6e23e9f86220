"""Parameter-Efficient Sparsity for Large Language Models Fine-Tuning (Li et al., IJCAI 2022),
arXiv:2205.11005. Registration only: nothing heavy is imported here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="Parameter-Efficient Sparsity for Large Language Models Fine-Tuning",
    year=2022,
    arxiv="2205.11005",
)

_MLP = {
    "data": {"name": "synthetic_classification", "n_samples": 64, "n_features": 16, "num_classes": 4},
    "model": {"name": "mlp", "in_features": 16, "num_classes": 4, "hidden": [32]},
}


@hookimpl
def register_trainers(register):
    register(
        "pst_sparse_finetune",
        "paperzoo_pst_sparse.trainer:PSTSparseFinetune",
        "Parameter-efficient sparse fine-tuning (PST): frozen W plus a low-rank update, importance "
        "|W'| + A B + r 1^T + 1 c^T from small trainable matrices, top-k mask on a cubic sparsity schedule.",
        paper=PAPER,
        tags=("sparsity", "pruning", "compression", "parameter_efficient", "fine_tuning"),
        example={
            "final_sparsity": 0.8,
            "weight_rank": 2,
            "mask_rank": 2,
            "max_steps": 4,
            "batch_size": 16,
            "progress": False,
        },
        example_config={**_MLP, "optimizer": {"name": "adamw", "lr": 1.0e-3, "weight_decay": 0.0}},
    )
