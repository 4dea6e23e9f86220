"""Robust Attentional Aggregation of Deep Feature Sets for Multi-view 3D Reconstruction (Yang, Wang,
Markham and Trigoni, IJCV 2019), arXiv:1808.00758. Registration only: nothing heavy is imported here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="Robust Attentional Aggregation of Deep Feature Sets for Multi-view 3D Reconstruction",
    year=2019,
    arxiv="1808.00758",
)

_DATA = {"name": "attsets_informative_mean", "n_train": 32, "n_val": 8}
_MODEL = {"name": "attsets_set_net", "in_features": 4, "hidden": 16}


@hookimpl
def register_layers(register):
    register(
        "attsets_pool",
        "paperzoo_attsets.pool:AttSetsPool",
        "AttSets pooling: shared FC scores, softmax over the set per feature, weighted sum; masks padding.",
        paper=PAPER,
        tags=("set", "pooling", "attention", "permutation-invariant"),
        example={"in_features": 8},
        example_input=[2, 5, 8],
    )
    register(
        "attsets_set_net",
        "paperzoo_attsets.pool:AttSetsSetNet",
        "Set network: element MLP, AttSets (or mean/max) pooling, MLP decoder; last input channel = mask.",
        paper=PAPER,
        tags=("set", "model", "permutation-invariant"),
        example={"in_features": 4, "hidden": 8},
        example_input=[2, 5, 5],
    )


@hookimpl
def register_trainers(register):
    register(
        "faset_two_stage",
        "paperzoo_attsets.faset:FASetTwoStage",
        "FASet: train the backbone, then only the AttSets modules (backbone frozen) on random set sizes.",
        paper=PAPER,
        tags=("set", "two-stage", "attention"),
        example={"max_steps": 2, "batch_size": 16, "progress": False},
        example_config={"data": _DATA, "model": _MODEL, "optimizer": {"name": "adam", "lr": 1e-3}},
    )


@hookimpl
def register_datasets(register):
    register(
        "attsets_informative_mean",
        "paperzoo_attsets.data:attsets_informative_mean",
        "Synthetic sets of 1-8 elements; target: mean value of the 1-3 flagged elements (last channel: mask).",
        paper=PAPER,
        tags=("synthetic", "set", "regression"),
        example={"n_train": 32, "n_val": 8},
    )
