"""TIES-Merging: Resolving Interference When Merging Models (Yadav et al., NeurIPS 2023), arXiv:2306.01708.

Python use: ``from paperzoo_ties_merging.merge import ties_merge, task_arithmetic, merge_state_dicts``.
"""

from paperzoo import Paper, hookimpl

PAPER = Paper(title="TIES-Merging: Resolving Interference When Merging Models", year=2023, arxiv="2306.01708")

EXAMPLE_CONFIG = {
    "data": {"name": "synthetic_classification", "n_samples": 160, "n_features": 8, "num_classes": 4},
    "model": {"name": "mlp", "in_features": 8, "num_classes": 4, "hidden": [16]},
    "optimizer": {"name": "sgd", "lr": 0.1},
}


@hookimpl
def register_trainers(register):
    register(
        "ties_merging",
        "paperzoo_ties_merging.trainer:TiesMerging",
        "Merge fine-tuned models of one base by TIES (trim top-k, elect sign, disjoint mean) or task "
        "arithmetic, lambda chosen on held-out data.",
        paper=PAPER,
        tags=("merging", "task-vectors", "multitask"),
        example={
            "num_tasks": 2,
            "lam": [0.5, 1.0],
            "pretrain_epochs": 1,
            "finetune_epochs": 2,
            "batch_size": 16,
            "progress": False,
        },
        example_config=EXAMPLE_CONFIG,
    )
